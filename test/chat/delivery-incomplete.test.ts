// The seeds' ChatConsumer on a Redis core layer whose connection is dropped
// right after the room's history took a message and before its delivery, and
// kept away past the retry window: the sender is told the message was saved
// and not to send it again (it is in the history: a resend would show it
// twice to the members that recover), not the "try again" of a message the
// room never took. The connection goes through a TCP proxy that drops it at
// the delivery script; Redis is the real one.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { URLRouter, configureChannelLayers, resetChannelLayers } from 'switchyard';
import { Presence } from 'switchyard/presence';
import { RedisChannelLayer } from 'switchyard/redis';
import { WebsocketCommunicator } from 'switchyard/testing';
import { MESSAGE_KEPT } from '../../examples/chat/consumers.js';
import { websocketUrlPatterns } from '../../examples/chat/routing.js';
import { GROUP_DELIVER } from '../../src/redis/scripts.js';
import { captureLibraryLogs, recordingLogger } from '../helpers/logs.js';
import { guardRedisKeys } from '../helpers/redis-clean.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { delay } from '../helpers/time.js';

const PREFIX = `test-chat-kept-${process.pid}`;
const proxy = await TcpProxy.start({ target: { port: 6379 } });
const layer = new RedisChannelLayer({
  hosts: [`redis://127.0.0.1:${proxy.port}/0`], prefix: PREFIX, groupHistory: ['chat_*'], connectTimeout: 300, logger: recordingLogger(),
});
configureChannelLayers({ default: layer });
after(async () => {
  await Presence.forLayer(layer, { name: 'chat' }).close();
  await layer.flush().catch(() => {}); // a failed test may leave Redis unreachable: the guard below still cleans up
  resetChannelLayers();
  await layer.close();
  await proxy.close();
});
guardRedisKeys(PREFIX); // after the cleanup above: hooks run in the order they are registered

test('the history took the message, Redis went away before its delivery: the sender is told it was saved, not to try again', async () => {
  const logs = captureLibraryLogs('warn');
  try {
    const alice = new WebsocketCommunicator(URLRouter(websocketUrlPatterns), '/ws/chat/kept/');
    assert.equal((await alice.connect(2000)).connected, true);
    assert.deepEqual(await alice.receiveJsonFrom(), { type: 'connection_established', message: 'Connected to chat room' });
    await alice.sendJsonTo({ message: 'first', username: 'alice' });
    assert.deepEqual(await alice.receiveJsonFrom(), { message: 'first', username: 'alice' });

    const struck = proxy.trap(GROUP_DELIVER.sha, 'request');
    await alice.sendJsonTo({ message: 'second', username: 'alice' });
    await struck;
    const cut = proxy.cut({ forMs: 1500 });
    assert.deepEqual(await alice.receiveJsonFrom(5000), { type: 'error', message: MESSAGE_KEPT });
    await cut;
    // Redis back: the room takes messages again (a send may still find the connection coming back).
    let heard: unknown = null;
    for (const end = Date.now() + 8000; Date.now() < end && !(typeof heard === 'object' && heard !== null && 'message' in heard && heard.message === 'third');) {
      await alice.sendJsonTo({ message: 'third', username: 'alice' });
      heard = await alice.receiveJsonFrom(2000);
      await delay(100); // the layer reconnects on timers: let them run
    }
    assert.deepEqual(heard, { message: 'third', username: 'alice' });
    await alice.disconnect();
  } finally {
    logs.restore();
  }
});
