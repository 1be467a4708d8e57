// The seeds' ChatConsumer on a Redis layer whose Redis the test stops: a message sent while
// the layer is away answers the "temporarily unavailable" error frame and the connection lives
// (it closed with 1011 before); once Redis is back, the same connection's messages reach the room.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { URLRouter, configureChannelLayers, resetChannelLayers } from 'switchyard';
import { Presence } from 'switchyard/presence';
import { RedisChannelLayer } from 'switchyard/redis';
import { WebsocketCommunicator } from 'switchyard/testing';
import { websocketUrlPatterns } from '../../examples/chat/routing.js';
import { captureLibraryLogs, recordingLogger } from '../helpers/logs.js';
import { OwnedRedis } from '../helpers/redis-server.js';
import { delay } from '../helpers/time.js';

const application = URLRouter(websocketUrlPatterns);
/** The error frame's message, as the protocol states it. */
const ROOM_UNAVAILABLE = 'The room is temporarily unavailable: try again in a moment';
const redis = await OwnedRedis.start();
const layer = new RedisChannelLayer({ hosts: [redis.url], prefix: `test-chat-unavailable-${process.pid}`, logger: recordingLogger() });
configureChannelLayers({ default: layer });
after(async () => {
  await Presence.forLayer(layer, { name: 'chat' }).close();
  resetChannelLayers();
  await layer.close();
  await redis.stop();
});

async function join(room: string): Promise<WebsocketCommunicator> {
  const client = new WebsocketCommunicator(application, `/ws/chat/${room}/`);
  assert.equal((await client.connect(2000)).connected, true);
  assert.deepEqual(await client.receiveJsonFrom(), { type: 'connection_established', message: 'Connected to chat room' });
  return client;
}

test('Redis away: a message answers the error frame, the connection lives; Redis back: its messages reach the room again', async () => {
  const logs = captureLibraryLogs('warn');
  try {
    const alice = await join('outage');
    await alice.sendJsonTo({ message: 'before', username: 'alice' });
    assert.deepEqual(await alice.receiveJsonFrom(), { message: 'before', username: 'alice' });

    await redis.stop();
    await alice.sendJsonTo({ message: 'during', username: 'alice' });
    assert.deepEqual(await alice.receiveJsonFrom(2000), { type: 'error', message: ROOM_UNAVAILABLE });
    await alice.sendJsonTo({ message: 'during again', username: 'alice' });
    assert.deepEqual(await alice.receiveJsonFrom(2000), { type: 'error', message: ROOM_UNAVAILABLE });
    // The seeds' protocol is otherwise unchanged while the layer is away: its extensions still answer.
    await alice.sendJsonTo({ type: 'ping' });
    assert.deepEqual(await alice.receiveJsonFrom(), { type: 'pong' });
    await alice.sendTo({ text: '{oops' });
    assert.deepEqual(await alice.receiveJsonFrom(), { type: 'error', message: 'Invalid JSON format' });
    const warned = logs.lines.filter((l) => /channel layer unavailable/.test(l.msg) && JSON.stringify(l).includes(`:${redis.port}`));
    assert.equal(warned.length, 1, 'one warn line for both failed sends');

    await redis.startAgain();
    // Redis came back empty (memberships made before are another matter): a new member hears alice's next message.
    let bob: WebsocketCommunicator | null = null;
    for (const end = Date.now() + 8000; bob === null && Date.now() < end;) {
      bob = await join('outage').catch(async () => { await delay(200); return null; });
    }
    assert.ok(bob !== null, 'a client joins once Redis is back');
    let heard: unknown = null;
    for (const end = Date.now() + 8000; heard === null && Date.now() < end;) {
      await alice.sendJsonTo({ message: 'after', username: 'alice' });
      if (!(await bob.receiveNothing(300))) heard = await bob.receiveJsonFrom();
    }
    assert.deepEqual(heard, { message: 'after', username: 'alice' });
    await alice.disconnect();
    await bob.disconnect();
  } finally {
    logs.restore();
  }
});
