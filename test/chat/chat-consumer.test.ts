// The seeds' ChatConsumer (examples/chat), driven with communicators: no server.
import { beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { InMemoryChannelLayer, URLRouter, configureChannelLayers } from 'switchyard';
import { WebsocketCommunicator } from 'switchyard/testing';
import { websocketUrlPatterns } from '../../examples/chat/routing.js';
import { captureLibraryLogs } from '../helpers/logs.js';

const application = URLRouter(websocketUrlPatterns);
beforeEach(() => configureChannelLayers({ default: new InMemoryChannelLayer() }));

async function join(room: string, user?: { username: string; isAuthenticated: boolean }) {
  const client = new WebsocketCommunicator(application, `/ws/chat/${room}/`, user ? { scope: { user } } : {});
  const { connected } = await client.connect();
  assert.equal(connected, true);
  assert.deepEqual(await client.receiveJsonFrom(), { type: 'connection_established', message: 'Connected to chat room' });
  return client;
}

test('the tutorial test: a message comes back with message and username', async () => {
  const client = await join('testroom');
  await client.sendJsonTo({ message: 'hello', username: 'testuser' });
  assert.deepEqual(await client.receiveJsonFrom(), { message: 'hello', username: 'testuser' });
  await client.disconnect();
});

test('two clients in one room both receive a message, with the username; default name is Anonymous', async () => {
  const alice = await join('lobby');
  const bob = await join('lobby');
  await alice.sendJsonTo({ message: '你好', username: 'alice' });
  assert.deepEqual(await alice.receiveJsonFrom(), { message: '你好', username: 'alice' });
  assert.deepEqual(await bob.receiveJsonFrom(), { message: '你好', username: 'alice' });
  await bob.sendJsonTo({ message: 'hi' });
  assert.deepEqual(await alice.receiveJsonFrom(), { message: 'hi', username: 'Anonymous' });
  assert.deepEqual(await bob.receiveJsonFrom(), { message: 'hi', username: 'Anonymous' });
  // Exactly once each.
  assert.equal(await alice.receiveNothing(), true);
  assert.equal(await bob.receiveNothing(), true);
  await alice.disconnect();
  await bob.disconnect();
});

test('rooms are separate', async () => {
  const a = await join('room_a');
  const b = await join('room_b');
  await a.sendJsonTo({ message: 'only a' });
  assert.equal((await a.receiveJsonFrom()).message, 'only a');
  assert.equal(await b.receiveNothing(), true);
  await a.disconnect();
  await b.disconnect();
});

test('invalid JSON and bad messages give error frames and the connection stays usable', async () => {
  const client = await join('errors');
  await client.sendTo({ text: '{"message": oops' });
  assert.deepEqual(await client.receiveJsonFrom(), { type: 'error', message: 'Invalid JSON format' });
  await client.sendJsonTo({ message: 'x'.repeat(1001) });
  assert.deepEqual(await client.receiveJsonFrom(), { type: 'error', message: 'Invalid message' });
  await client.sendJsonTo({ message: '' });
  assert.deepEqual(await client.receiveJsonFrom(), { type: 'error', message: 'Invalid message' });
  await client.sendJsonTo({ username: 'no message' });
  assert.deepEqual(await client.receiveJsonFrom(), { type: 'error', message: 'Invalid message' });
  await client.sendJsonTo(['not', 'an', 'object']);
  assert.deepEqual(await client.receiveJsonFrom(), { type: 'error', message: 'Invalid message' });
  await client.sendTo({ text: 'null' });
  assert.deepEqual(await client.receiveJsonFrom(), { type: 'error', message: 'Invalid message' });
  await client.sendJsonTo({ message: 'x'.repeat(1000), username: 'limit' });
  assert.deepEqual(await client.receiveJsonFrom(), { message: 'x'.repeat(1000), username: 'limit' });
  await client.disconnect();
});

test('rooms outside \\w+ are refused by routing', async () => {
  const client = new WebsocketCommunicator(application, '/ws/chat/bad-room/');
  await assert.rejects(client.connect(), /No route found/);
});

test('presence (003): signed-in users announce user_join and user_leave; their name cannot be spoofed', async () => {
  const watcher = await join('presence');
  const alice = await join('presence', { username: 'alice', isAuthenticated: true });
  assert.deepEqual(await watcher.receiveJsonFrom(), { type: 'user_join', username: 'alice' });
  assert.deepEqual(await alice.receiveJsonFrom(), { type: 'user_join', username: 'alice' });
  await alice.sendJsonTo({ message: 'hi', username: 'mallory' });
  assert.deepEqual(await watcher.receiveJsonFrom(), { message: 'hi', username: 'alice' });
  await alice.disconnect();
  assert.deepEqual(await watcher.receiveJsonFrom(), { type: 'user_leave', username: 'alice' });
  // Anonymous users come and go silently, as in the tutorial.
  const anon = await join('presence');
  await anon.disconnect();
  assert.equal(await watcher.receiveNothing(), true);
  await watcher.disconnect();
});

test('a room broadcast is rendered once: every member sends the same string instance', async () => {
  const members = await Promise.all([1, 2, 3].map(() => join('fast')));
  await members[0]!.sendJsonTo({ message: 'shared', username: 'u' });
  const frames = await Promise.all(members.map((m) => m.receiveOutput())) as Array<{ type: string; text?: string }>;
  assert.deepEqual(frames.map((f) => f.type), ['websocket.send', 'websocket.send', 'websocket.send']);
  assert.equal(frames[0]!.text, '{"message":"shared","username":"u"}');
  // The same frame object, hence the same string: the server frames it once (its equal-text check is a pointer compare).
  assert.equal(frames[0], frames[1]);
  assert.equal(frames[1], frames[2]);
  assert.equal(Object.getOwnPropertySymbols(frames[0]).length, 0, 'a plain ASGI event');
  await Promise.all(members.map((m) => m.disconnect()));
});

test('an app-level ping gets a pong (so browsers can detect dead links); the seeds protocol is otherwise unchanged', async () => {
  const client = await join('heartbeat');
  await client.sendJsonTo({ type: 'ping' });
  assert.deepEqual(await client.receiveJsonFrom(), { type: 'pong' });
  // A chat line that happens to carry type "ping" is still a chat line.
  await client.sendJsonTo({ type: 'ping', message: 'hello' });
  assert.deepEqual(await client.receiveJsonFrom(), { message: 'hello', username: 'Anonymous' });
  await client.disconnect();
});

// ---- the seeds' protocol, exact by default -------------------------------------------------

/** The frames of 003's protocol: a chat line, connection_established, error, user_join, user_leave. */
function isSeedFrame(frame: Record<string, unknown>): boolean {
  const keys = Object.keys(frame).sort().join(',');
  if (!('type' in frame)) return keys === 'message,username' && typeof frame.message === 'string' && typeof frame.username === 'string';
  if (frame.type === 'connection_established' || frame.type === 'error') return keys === 'message,type' && typeof frame.message === 'string';
  if (frame.type === 'user_join' || frame.type === 'user_leave') return keys === 'type,username' && typeof frame.username === 'string';
  return false;
}

/** Everything a client got until now, as the tutorial's page would print it (`${username}: ${message}`). */
async function drain(client: WebsocketCommunicator): Promise<Array<Record<string, unknown>>> {
  const frames: Array<Record<string, unknown>> = [];
  while (!(await client.receiveNothing(50))) frames.push(await client.receiveJsonFrom() as Record<string, unknown>);
  return frames;
}

test('a client speaking only the seeds\' protocol never receives a frame outside it, signed in or not', async () => {
  // The tutorial's page, signed in (its scope has a user) and anonymous, with others coming and going.
  const anonymous = await join('seeds');
  const signedIn = await join('seeds', { username: 'alice', isAuthenticated: true });
  const bob = await join('seeds', { username: 'bob', isAuthenticated: true });
  await signedIn.sendJsonTo({ message: 'hello', username: 'ignored' });
  await anonymous.sendJsonTo({ message: '你好' });
  await anonymous.sendJsonTo({ message: '' });
  await anonymous.sendTo({ text: 'not json' });
  await bob.disconnect();
  const frames = [...(await drain(anonymous)), ...(await drain(signedIn))];
  assert.ok(frames.length >= 8, `got ${frames.length} frames`);
  assert.deepEqual(frames.filter((f) => !isSeedFrame(f)), [], 'frames outside 003\'s protocol');
  // Printed as the tutorial's page does: a presence list would have shown as "undefined: undefined".
  const printed = frames.map((data) => `${String(data.username)}: ${String(data.message)}`);
  assert.ok(!printed.includes('undefined: undefined'), printed.join('\n'));
  await Promise.all([anonymous.disconnect(), signedIn.disconnect()]);
});

test('the online list comes when asked: {"type":"presence"} → {"type":"presence","users":[...]}', async () => {
  const watcher = await join('asked');
  const carol = await join('asked', { username: 'carol', isAuthenticated: true });
  assert.deepEqual(await carol.receiveJsonFrom(), { type: 'user_join', username: 'carol' });
  assert.deepEqual(await watcher.receiveJsonFrom(), { type: 'user_join', username: 'carol' });
  await watcher.sendJsonTo({ type: 'presence' });
  assert.deepEqual(await watcher.receiveJsonFrom(), { type: 'presence', users: ['carol'] });
  assert.equal(await carol.receiveNothing(), true, 'only the asker gets it');
  // A chat line that happens to carry type "presence" is a chat line.
  await watcher.sendJsonTo({ type: 'presence', message: 'hi' });
  assert.deepEqual(await watcher.receiveJsonFrom(), { message: 'hi', username: 'Anonymous' });
  await Promise.all([watcher.disconnect(), carol.disconnect()]);
});

test('lengths count characters as Python\'s len: 600 emoji are a valid message, a name of 150 emoji a valid name', async () => {
  const client = await join('emoji');
  const emoji = '😀'.repeat(600); // 1,200 UTF-16 units
  await client.sendJsonTo({ message: emoji, username: '猫'.repeat(150) });
  assert.deepEqual(await client.receiveJsonFrom(), { message: emoji, username: '猫'.repeat(150) });
  await client.sendJsonTo({ message: '😀'.repeat(1000), username: '😀'.repeat(150) });
  assert.deepEqual(await client.receiveJsonFrom(), { message: '😀'.repeat(1000), username: '😀'.repeat(150) });
  await client.sendJsonTo({ message: '😀'.repeat(1001) });
  assert.deepEqual(await client.receiveJsonFrom(), { type: 'error', message: 'Invalid message' });
  await client.sendJsonTo({ message: 'hi', username: '😀'.repeat(151) });
  assert.deepEqual(await client.receiveJsonFrom(), { type: 'error', message: 'Invalid message' });
  await client.disconnect();
});

// ---- room names: Unicode rooms work, unusable ones are refused cleanly ----------------------

test('two clients in /ws/chat/聊天/ chat; the room has its own group, apart from others', async () => {
  const { roomGroupName } = await import('../../examples/chat/rooms.js');
  const a = await join('聊天');
  const b = await join('聊天');
  const other = await join('聊天室');
  await a.sendJsonTo({ message: '大家好', username: '小红' });
  assert.deepEqual(await b.receiveJsonFrom(), { message: '大家好', username: '小红' });
  assert.deepEqual(await a.receiveJsonFrom(), { message: '大家好', username: '小红' });
  assert.equal(await other.receiveNothing(), true);
  assert.equal(roomGroupName('lobby'), 'chat_lobby', 'ASCII rooms keep the tutorial\'s group (Django peers share it)');
  assert.match(roomGroupName('聊天')!, /^chat_\.[\w-]{43}$/);
  assert.notEqual(roomGroupName('聊天'), roomGroupName('聊天室'));
  assert.match(roomGroupName('x'.repeat(99))!, /^chat_\./, 'too long for chat_<room>: hashed too');
  await Promise.all([a.disconnect(), b.disconnect(), other.disconnect()]);
});

test('a room name too long for the chat is refused: one warn line, no stack trace, nothing at error', async () => {
  const { lines, restore } = captureLibraryLogs('debug');
  try {
    for (let i = 0; i < 2; i++) {
      const client = new WebsocketCommunicator(application, `/ws/chat/${'a'.repeat(16_000)}/`);
      const result = await client.connect();
      assert.equal(result.connected, false);
      assert.equal(result.closeCode, 4000);
    }
    const ok = await join('x'.repeat(100)); // at the limit: works
    await ok.disconnect();
  } finally {
    restore();
  }
  assert.deepEqual(lines.map((l) => [l.level, l.msg]), [[40, 'chat: room refused: names are at most 100 characters'], [40, 'chat: room refused: names are at most 100 characters']]);
  const text = JSON.stringify(lines);
  assert.ok(!text.includes('stack') && text.length < 1000, `short log lines (${text.length} bytes)`);
});
