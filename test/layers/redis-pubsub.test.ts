// The shared conformance suite and the channels_redis pub/sub specifics
// (test_pubsub.py, spec §2.12) on a real Redis, plus reconnects on an owned redis-server.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { InvalidChannelLayerError, LayerUnavailableError, buildChannelLayer } from 'switchyard';
import { type LayerLogger, RedisPubSubChannelLayer, type RedisPubSubChannelLayerOptions } from 'switchyard/redis';
import { delay } from '../helpers/time.js';
import { deleteRedisKeysAfter, guardRedisKeys } from '../helpers/redis-clean.js';
import { NOTHING, layerConformance, receiveWithin } from './conformance.js';
import { OwnedRedis } from '../helpers/redis-server.js';

const REDIS = 'redis://127.0.0.1:6379/0';
let prefixes = 0;
const uniquePrefix = () => `sy-ps-${process.pid}-${++prefixes}-`;
const opened: RedisPubSubChannelLayer[] = [];
function layer(options: RedisPubSubChannelLayerOptions = {}): RedisPubSubChannelLayer {
  const made = new RedisPubSubChannelLayer({ hosts: [REDIS], prefix: uniquePrefix(), ...options });
  opened.push(made);
  return made;
}
after(async () => {
  for (const each of opened) await each.close();
});
const quiet: LayerLogger = { debug() {}, info() {}, warn() {}, error() {} };

layerConformance('RedisPubSubChannelLayer', (options, namespace) =>
  new RedisPubSubChannelLayer({ hosts: [REDIS], prefix: namespace, capacity: options.capacity, expiry: options.expiry }), {
  capacity: false,
  persistent: false,
  groupExpiry: false,
  shared: true,
});

/** A raw subscriber recording what is published on some pub/sub channels. */
async function tap(...channels: string[]): Promise<{ messages: [string, Buffer][]; close: () => void }> {
  const sub = new Redis(REDIS);
  const messages: [string, Buffer][] = [];
  sub.on('messageBuffer', (channel: Buffer, body: Buffer) => messages.push([channel.toString(), body]));
  await sub.subscribe(...channels);
  return { messages, close: () => sub.disconnect() };
}

describe('pub/sub wire format (test_pubsub.py)', () => {
  test('test_serialize: send publishes plain msgpack (no prefix) on the channel name; names are prefix+"specific."+hex', async () => {
    const l = layer();
    const channel = await l.newChannel();
    assert.match(channel, new RegExp(`^${l.prefix}specific\\.[0-9a-f]{32}$`));
    const seen = await tap(channel, `${l.prefix}__group__room1`);
    await l.send(channel, { a: true, b: null, c: { d: [] }, type: 'x' } as never);
    await l.groupAdd('room1', channel);
    await l.groupSend('room1', { type: 'chat.message', text: 'to group' });
    await delay(100);
    assert.deepEqual(seen.messages.map(([name, body]) => [name, body.toString('hex')]), [
      [channel, '84a161c3a162c0a16381a16490a474797065a178'],
      [`${l.prefix}__group__room1`, Buffer.from('\x82\xa4type\xacchat.message\xa4text\xa8to group', 'latin1').toString('hex')],
    ]);
    seen.close();
  });

  test('test_deserialize: a plain msgpack publish from elsewhere is received', async () => {
    const l = layer();
    const channel = await l.newChannel();
    const pub = new Redis(REDIS);
    await pub.publish(channel, Buffer.from('\x83\xa4type\xa1x\xa1a\xc3\xa1b\xc0', 'latin1'));
    assert.deepEqual(await l.receive(channel), { type: 'x', a: true, b: null });
    pub.disconnect();
  });

  test('test_receive_hang: a receive with nothing sent ends when aborted', async () => {
    const l = layer();
    const started = Date.now();
    assert.equal(await receiveWithin(l, await l.newChannel(), 100), NOTHING);
    assert.ok(Date.now() - started < 1000);
  });

  test('groupAdd of a channel that is not in this process is refused (channels_redis RuntimeError)', async () => {
    await assert.rejects(layer().groupAdd('room', 'asgispecific.elsewhere'), InvalidChannelLayerError);
  });

  test('one publish per groupSend whatever the number of local members; one frozen object for all', async () => {
    const l = layer();
    const members = await Promise.all([1, 2, 3, 4].map(() => l.newChannel()));
    for (const member of members) await l.groupAdd('room', member);
    const seen = await tap(`${l.prefix}__group__room`);
    await l.groupSend('room', { type: 'hello' });
    const received = await Promise.all(members.map((member) => l.receive(member)));
    assert.equal(new Set(received).size, 1);
    assert.equal(seen.messages.length, 1);
    seen.close();
  });

  test('local buffers are bounded: the oldest is dropped', async () => {
    const l = layer({ capacity: 3 });
    const channel = await l.newChannel();
    for (let i = 0; i < 10; i++) await l.send(channel, { type: 'n', i });
    await delay(100);
    const got: unknown[] = [];
    for (;;) {
      const message = await receiveWithin(l, channel, 100);
      if (message === NOTHING) break;
      got.push(message.i);
    }
    assert.deepEqual(got, [7, 8, 9]);
  });

  test('a poison publish is logged and skipped', async () => {
    const warnings: string[] = [];
    const l = layer({ logger: { ...quiet, warn: (_f, message) => void warnings.push(message) } });
    const channel = await l.newChannel();
    const pub = new Redis(REDIS);
    await pub.publish(channel, Buffer.from([0xc1, 0xff]));
    await l.send(channel, { type: 'good' });
    assert.equal((await l.receive(channel)).type, 'good');
    assert.equal(warnings.length, 1);
    pub.disconnect();
  });

  test('encryption with rotated keys between two instances', async () => {
    const prefix = uniquePrefix();
    const sender = layer({ prefix, symmetricEncryptionKeys: ['new', 'old'] });
    const receiver = layer({ prefix, symmetricEncryptionKeys: ['old', 'new'] });
    const channel = await receiver.newChannel();
    const seen = await tap(channel);
    await sender.send(channel, { type: 'secret' });
    assert.equal((await receiver.receive(channel)).type, 'secret');
    assert.ok(seen.messages[0]![1].toString().startsWith('gAAAAA'));
    seen.close();
  });

  test('an aborted receive unsubscribes after unsubscribeDelay, leaving its groups (bounded state)', async () => {
    const l = layer({ unsubscribeDelay: 150 });
    const admin = new Redis(REDIS);
    const numsub = async (name: string) => Number(((await admin.call('PUBSUB', 'NUMSUB', name)) as [string, number])[1]);
    try {
      const channel = await l.newChannel();
      await l.groupAdd('room', channel);
      assert.equal(await numsub(channel), 1);
      assert.equal(await numsub(`${l.prefix}__group__room`), 1);
      assert.equal(await receiveWithin(l, channel, 50), NOTHING);
      await l.send(channel, { type: 'within the delay' });
      assert.equal((await l.receive(channel)).type, 'within the delay');
      assert.equal(await receiveWithin(l, channel, 50), NOTHING);
      await delay(400);
      assert.equal(await numsub(channel), 0);
      assert.equal(await numsub(`${l.prefix}__group__room`), 0);
    } finally {
      admin.disconnect();
    }
  });

  test('redis+pubsub:// URLs build the pub/sub layer', async () => {
    const l = buildChannelLayer(`redis+pubsub://127.0.0.1:6379/0?prefix=${uniquePrefix()}`);
    assert.ok(l instanceof RedisPubSubChannelLayer);
    const channel = await l.newChannel();
    await l.send(channel, { type: 'url' });
    assert.equal((await l.receive(channel)).type, 'url');
    await l.close();
  });
});

describe('pub/sub reconnects (test_auto_reconnect, own redis-server)', () => {
  test('killed connections: hooks fire, subscriptions come back, members receive, the discarded one does not', async () => {
    const server = await OwnedRedis.start();
    const events: string[] = [];
    const l = layer({
      hosts: [server.url], logger: quiet,
      onDisconnect: () => events.push('down'), onReconnect: () => events.push('up'),
    });
    const admin = new Redis(server.url);
    try {
      const [a, b, c] = [await l.newChannel(), await l.newChannel(), await l.newChannel()];
      for (const channel of [a, b, c]) await l.groupAdd('room', channel);
      await l.groupDiscard('room', c);
      for (let round = 0; round < 2; round++) {
        await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
        for (let i = 0; i < 100 && events.length < 2 * (round + 1); i++) await delay(20);
        await delay(100);
        await l.groupSend('room', { type: 'after.kill', round });
        assert.equal((await l.receive(a)).round, round);
        assert.equal((await l.receive(b)).round, round);
      }
      assert.deepEqual(events, ['down', 'up', 'down', 'up']);
      assert.equal(await receiveWithin(l, c, 200), NOTHING);
    } finally {
      admin.disconnect();
      await l.close();
      await server.stop();
    }
  });

  test('Redis stopped: sends fail with LayerUnavailableError; after a restart the layer works again', async () => {
    const server = await OwnedRedis.start();
    const events: string[] = [];
    const l = layer({ hosts: [server.url], logger: quiet, onDisconnect: () => events.push('down'), onReconnect: () => events.push('up') });
    try {
      const channel = await l.newChannel();
      await l.groupAdd('room', channel);
      const pending = l.receive(channel);
      pending.catch(() => {});
      await server.stop();
      await delay(100);
      await assert.rejects(l.send(channel, { type: 'x' }), LayerUnavailableError);
      await assert.rejects(l.groupSend('room', { type: 'x' }), LayerUnavailableError);
      assert.deepEqual(events, ['down']);
      await server.startAgain();
      for (let i = 0; i < 150 && !events.includes('up'); i++) await delay(20);
      // The publishing connection reconnects on its own backoff (at most 2 s): retry until it is back.
      for (let i = 0; ; i++) {
        try {
          await l.groupSend('room', { type: 'back' });
          break;
        } catch (error) {
          assert.ok(error instanceof LayerUnavailableError && i < 100);
          await delay(50);
        }
      }
      assert.equal((await pending).type, 'back');
      assert.equal(await receiveWithin(l, channel, 200), NOTHING);
    } finally {
      await l.close();
      await server.stop();
    }
  });
});

// The pub/sub layer's flush() deletes no keys: the lease tests' generation counters are deleted here.
deleteRedisKeysAfter(`sy-conf-${process.pid}-`, `sy-ps-${process.pid}-`);
guardRedisKeys(`sy-conf-${process.pid}-`, `sy-ps-${process.pid}-`);
