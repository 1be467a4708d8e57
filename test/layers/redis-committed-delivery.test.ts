// A group send to a group with history is committed once its history holds
// the message: a delivery cut off after that (the command connection lost
// just before the delivery script, or just after it ran, its reply lost) is
// retried, and every member gets the message once; with Redis away past the
// retry window, the send fails saying what the members without recovery
// missed, and a warning says it too. A pop whose answer is lost with its
// connection is said out loud too, and the recovery sessions of that shard's
// groups are sent to the history once the connection is back. The connection
// under test goes through a TCP proxy that drops it at the exact command;
// Redis is the real one.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DeliveryIncompleteError, type LayerMessage } from 'switchyard';
import { type LayerLogger, RedisChannelLayer, RedisPubSubChannelLayer } from 'switchyard/redis';
import { onGroupResync, positionOf } from '../../src/layers/history.js';
import { GROUP_DELIVER, GROUP_SEND } from '../../src/redis/scripts.js';
import { recordingLogger } from '../helpers/logs.js';
import { guardRedisKeys } from '../helpers/redis-clean.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { delay, until } from '../helpers/time.js';
import { NOTHING, receiveWithin } from './conformance.js';

const PREFIX = `sy-committed-${process.pid}-`;
const opened: Array<RedisChannelLayer | RedisPubSubChannelLayer> = [];
const proxies: TcpProxy[] = [];
after(async () => {
  for (const layer of opened) {
    await layer.flush().catch(() => {});
    await layer.close();
  }
  for (const proxy of proxies) await proxy.close();
});
guardRedisKeys(PREFIX);

let groups = 0;
/** The number a test message carries, or null for none (NOTHING). */
const nOf = (message: LayerMessage | typeof NOTHING): number | null => (message === NOTHING ? null : (message as unknown as { n: number }).n);

type Layer = RedisChannelLayer | RedisPubSubChannelLayer;
type LayerFactory = (hosts: string[], logger?: LayerLogger) => Layer;

/** The core layer with `options`, on the given hosts. */
const core = (options: { channelCapacity?: Record<string, number>; connectTimeout?: number } = {}): LayerFactory => (hosts, logger) =>
  new RedisChannelLayer({ prefix: PREFIX, groupHistory: ['chat_*'], processTtl: null, ...options, hosts, ...(logger && { logger }) });

/** A sender through a proxy and a receiver straight to Redis, one member in a group with history; one send already made (scripts loaded). */
async function setUp(make: LayerFactory) {
  const proxy = await TcpProxy.start({ target: { port: 6379 } });
  proxies.push(proxy);
  const logger = recordingLogger();
  const sender = make([`redis://127.0.0.1:${proxy.port}/0`], logger);
  const receiver = make(['redis://127.0.0.1:6379/0']);
  opened.push(sender, receiver);
  const group = `chat_committed${++groups}`;
  const member = await receiver.newChannel();
  await receiver.groupAdd(group, member);
  await sender.groupSend(group, { type: 'chat.message', n: 0 });
  const first = await receiveWithin(receiver, member, 5000);
  assert.equal(nOf(first), 0);
  /** What the group's history holds: what a member that recovers reads. */
  const history = async () => {
    const read = await receiver.readHistory(group, { epoch: positionOf(first as LayerMessage)!.epoch, offset: 0 }, 100);
    return read!.messages;
  };
  return { proxy, logger, sender, receiver, group, member, history };
}

/** Each path's delivery script, whose SHA the proxy watches for. */
const paths = [
  { name: 'one script (one Redis)', script: GROUP_DELIVER, options: {} },
  { name: 'read, then deliver (channel capacities of their own)', script: GROUP_SEND, options: { channelCapacity: { 'other-*': 5 } } },
];

for (const path of paths) {
  describe(`a delivery after the history append, ${path.name}`, () => {
    test('the connection lost before the delivery script: the send is retried and succeeds; the member gets the message once', async () => {
      const { proxy, sender, receiver, group, member } = await setUp(core(path.options));
      const struck = proxy.trap(path.script.sha, 'request');
      await sender.groupSend(group, { type: 'chat.message', n: 1 });
      await struck;
      assert.equal(nOf(await receiveWithin(receiver, member, 5000)), 1);
      assert.equal(await receiveWithin(receiver, member, 500), NOTHING, 'no second copy');
    });

    test('the delivery script ran, its reply lost: the retry stores nothing; the member gets the message once', async () => {
      const { proxy, sender, receiver, group, member, history } = await setUp(core(path.options));
      const struck = proxy.trap(path.script.sha, 'reply');
      await sender.groupSend(group, { type: 'chat.message', n: 2 });
      await struck;
      const received = await receiveWithin(receiver, member, 5000);
      assert.equal(nOf(received), 2);
      assert.equal(await receiveWithin(receiver, member, 500), NOTHING, 'no second copy');
      // The history holds it once too, at the position the member was given.
      const held = await history();
      assert.deepEqual(held.map(nOf), [0, 2]);
      assert.deepEqual(positionOf(received as LayerMessage), positionOf(held[1]!));
    });

    test('Redis away past the retry window: the send fails saying the members without recovery missed it, and a warning says so', async () => {
      const { proxy, logger, sender, receiver, member, group, history } = await setUp(core({ ...path.options, connectTimeout: 300 }));
      // The request is dropped, then every reconnection refused for longer than the window.
      const struck = proxy.trap(path.script.sha, 'request');
      const sending = sender.groupSend(group, { type: 'chat.message', n: 3 });
      await struck;
      const cut = proxy.cut({ forMs: 1500 });
      await assert.rejects(sending, (error: unknown) =>
        error instanceof DeliveryIncompleteError && error.code === 'SY_DELIVERY_INCOMPLETE' && /in its history .*members without recovery missed it/.test(error.message));
      assert.ok(logger.lines.some((line) => line.level === 'warn' && /members without recovery missed it/.test(line.message)), JSON.stringify(logger.lines));
      await cut;
      assert.equal(await receiveWithin(receiver, member, 500), NOTHING, 'not delivered live');
      assert.deepEqual((await history()).map(nOf), [0, 3], 'a member that recovers reads it');
    });
  });
}

test('pub/sub layer: a publish lost after the history append fails saying the members without recovery missed it, and a warning says so', async () => {
  const { proxy, logger, sender, receiver, group, member, history } = await setUp((hosts, logger) =>
    new RedisPubSubChannelLayer({ prefix: PREFIX, groupHistory: ['chat_*'], hosts, ...(logger && { logger }) }));
  const struck = proxy.trap('publish', 'request');
  const sending = sender.groupSend(group, { type: 'chat.message', n: 1 });
  await struck;
  await assert.rejects(sending, (error: unknown) =>
    error instanceof DeliveryIncompleteError && error.code === 'SY_DELIVERY_INCOMPLETE' && /in its history .*members without recovery missed it/.test(error.message));
  assert.ok(logger.lines.some((line) => line.level === 'warn' && /members without recovery missed it/.test(line.message)), JSON.stringify(logger.lines));
  assert.equal(await receiveWithin(receiver, member, 300), NOTHING, 'not delivered live');
  assert.deepEqual((await history()).map(nOf), [0, 1], 'a member that recovers reads it');
});

test('core layer: a pop whose reply is lost loses its message out loud, and the groups of that shard are resynced once the connection is back', async () => {
  const proxy = await TcpProxy.start({ target: { port: 6379 } });
  proxies.push(proxy);
  const logger = recordingLogger();
  const options = { prefix: PREFIX, groupHistory: ['chat_*'], processTtl: null, blockTimeout: 5 };
  const receiver = new RedisChannelLayer({ ...options, hosts: [`redis://127.0.0.1:${proxy.port}/0`], logger });
  const sender = new RedisChannelLayer({ ...options, hosts: ['redis://127.0.0.1:6379/0'] });
  opened.push(receiver, sender);
  const group = `chat_committed${++groups}`;
  const member = await receiver.newChannel();
  await receiver.groupAdd(group, member);
  let resynced = false;
  const stopWatching = onGroupResync(group, () => void (resynced = true));
  // The receive loop's first pop goes through; its answer, the message below, is dropped with the connection.
  const struck = proxy.trap('bzpopmin', 'reply');
  const receiving = receiveWithin(receiver, member, 1500);
  await delay(300);
  await sender.groupSend(group, { type: 'chat.message', n: 1 });
  await struck;
  await until(() => resynced, 5000, 'the group resynced once the connection is back');
  stopWatching();
  assert.equal(await receiving, NOTHING, 'the popped message never reached the channel');
  assert.ok(logger.lines.some((line) => line.level === 'warn' && /are lost, except to members that recover/.test(line.message)), JSON.stringify(logger.lines));
  const read = await receiver.readHistory(group, null, 100);
  assert.equal(read!.top, 1, 'the history holds it, for the members that recover');
});
