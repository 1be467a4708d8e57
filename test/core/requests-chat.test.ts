// The chat example's one request, `rename`, driven with communicators: the reply is the
// name the room will show, and the connection's later lines without a name use it.
import { after, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { InMemoryChannelLayer, URLRouter, configureChannelLayers } from 'switchyard';
import { WebsocketCommunicator } from 'switchyard/testing';
import { ChatConsumer } from '../../examples/chat/consumers.js';
import { AnonymousNames } from '../../examples/chat/names.js';
import { websocketUrlPatterns } from '../../examples/chat/routing.js';

const application = URLRouter(websocketUrlPatterns);
const previous = ChatConsumer.anonymousNames;
ChatConsumer.anonymousNames = new AnonymousNames({ isRegistered: (name) => name === 'grace' });
after(() => { ChatConsumer.anonymousNames = previous; });
beforeEach(() => configureChannelLayers({ default: new InMemoryChannelLayer() }));

async function join(room: string, user?: { username: string; isAuthenticated: boolean }) {
  const client = new WebsocketCommunicator(application, `/ws/chat/${room}/`, user ? { scope: { user } } : {});
  assert.equal((await client.connect()).connected, true);
  assert.deepEqual(await client.receiveJsonFrom(), { type: 'connection_established', message: 'Connected to chat room' });
  return client;
}

const rename = (client: WebsocketCommunicator, id: number, username: unknown) => client.sendJsonTo({ $sy: 'q', id, r: 'rename', d: { username } });

test('rename answers the name the room will show; lines without a name then carry it; lines with one keep theirs', async () => {
  const client = await join('renames');
  await rename(client, 1, '  ada  ');
  assert.equal(await client.receiveFrom(), '{"$sy":"a","id":1,"d":{"username":"ada"}}');
  await client.sendJsonTo({ message: 'hi' });
  assert.deepEqual(await client.receiveJsonFrom(), { message: 'hi', username: 'ada' });
  await client.sendJsonTo({ message: 'hi', username: 'bob' });
  assert.deepEqual(await client.receiveJsonFrom(), { message: 'hi', username: 'bob' });
  await client.disconnect();
});

test('rename refuses a registered name (name_refused), an empty or over-long one (invalid_message); a signed-in user is told the account name', async () => {
  const client = await join('renames');
  await rename(client, 2, 'grace');
  assert.deepEqual(await client.receiveJsonFrom(), { $sy: 'a', id: 2, error: { code: 'name_refused', message: 'That name belongs to a registered user: sign in to use it' } });
  await rename(client, 3, '   ');
  assert.equal((await client.receiveJsonFrom() as { error: { code: string } }).error.code, 'invalid_message');
  await rename(client, 4, '猫'.repeat(151));
  assert.equal((await client.receiveJsonFrom() as { error: { code: string } }).error.code, 'invalid_message');
  await rename(client, 5, '猫'.repeat(150));
  assert.deepEqual(await client.receiveJsonFrom(), { $sy: 'a', id: 5, d: { username: '猫'.repeat(150) } }, '150 characters as Python counts them');
  await client.disconnect();
  const alice = await join('renames', { username: 'alice', isAuthenticated: true });
  assert.deepEqual(await alice.receiveJsonFrom(), { type: 'user_join', username: 'alice' });
  await rename(alice, 6, 'mallory');
  assert.deepEqual(await alice.receiveJsonFrom(), { $sy: 'a', id: 6, d: { username: 'alice' } });
  await alice.disconnect();
});
