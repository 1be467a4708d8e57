// The seeds' ChatConsumer (examples/chat), driven with communicators: no server.
import { beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { InMemoryChannelLayer, URLRouter, configureChannelLayers } from 'switchyard';
import { WebsocketCommunicator } from 'switchyard/testing';
import { websocketUrlPatterns } from '../../examples/chat/routing.js';

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

test('a room broadcast is encoded once and shared by every member (fastlane)', async () => {
  const { ENCODED_FRAME } = await import('../../src/index.js');
  const members = await Promise.all([1, 2, 3].map(() => join('fast')));
  await members[0]!.sendJsonTo({ message: 'shared', username: 'u' });
  const frames = await Promise.all(members.map((m) => m.receiveOutput()));
  const encoded = frames.map((f) => (f as unknown as Record<symbol, Uint8Array>)[ENCODED_FRAME]);
  assert.ok(encoded[0] instanceof Uint8Array);
  assert.equal(encoded[0], encoded[1]);
  assert.equal(encoded[1], encoded[2]);
  assert.equal(Buffer.from(encoded[0]!).toString(), '{"message":"shared","username":"u"}');
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
