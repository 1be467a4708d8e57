// Both Redis layers on a real Redis Cluster this file starts (3 masters + 3
// replicas): the shared conformance suite on each flavour, URL configuration,
// the hash-tagged key names, group history, leases, dead processes, flush.
// (The failover test is redis-cluster-failover.test.ts.)
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster } from 'ioredis';
import { ImproperlyConfigured, buildChannelLayer } from 'switchyard';
import { type LayerLogger, RedisChannelLayer, RedisPubSubChannelLayer } from 'switchyard/redis';
import { positionOf } from '../../src/layers/history.js';
import { KeyNames } from '../../src/redis/keys.js';
import { OwnedRedisCluster } from '../helpers/redis-cluster.js';
import { recordingLogger } from '../helpers/logs.js';
import { until } from '../helpers/time.js';
import { NOTHING, layerConformance, receiveWithin } from './conformance.js';

const cluster = await OwnedRedisCluster.start();
const quiet: LayerLogger = { debug() {}, info() {}, warn() {}, error() {} };
const opened: Array<RedisChannelLayer | RedisPubSubChannelLayer> = [];
let prefixes = 0;
const uniquePrefix = () => `sy-cluster-${process.pid}-${++prefixes}-`;
function core(options: ConstructorParameters<typeof RedisChannelLayer>[0] = {}): RedisChannelLayer {
  const layer = new RedisChannelLayer({ hosts: cluster.seeds, cluster: true, prefix: uniquePrefix(), logger: quiet, ...options });
  opened.push(layer);
  return layer;
}
function pubsub(options: ConstructorParameters<typeof RedisPubSubChannelLayer>[0] = {}): RedisPubSubChannelLayer {
  const layer = new RedisPubSubChannelLayer({ hosts: cluster.seeds, cluster: true, prefix: uniquePrefix(), logger: quiet, ...options });
  opened.push(layer);
  return layer;
}
/** A plain cluster client, to look at the keys. */
const raw = new Cluster(cluster.seeds);
/** Every key of a prefix, on every master. */
async function keysOf(prefix: string): Promise<string[]> {
  const found = await Promise.all(raw.nodes('master').map((node) => node.keys(`${prefix}*`)));
  return found.flat().sort();
}
after(async () => {
  for (const layer of opened) {
    await layer.flush().catch(() => {});
    await layer.close();
  }
  raw.disconnect();
  await cluster.stop();
});

layerConformance('RedisChannelLayer on a Redis Cluster', (options, namespace) =>
  core({ ...options, prefix: namespace }), { capacity: true, persistent: true, groupExpiry: true, shared: true });

layerConformance('RedisPubSubChannelLayer on a Redis Cluster', (options, namespace) =>
  pubsub({ prefix: namespace, capacity: options.capacity, expiry: options.expiry }), {
  capacity: false, persistent: false, groupExpiry: false, shared: true,
});

describe('Redis Cluster configuration', () => {
  test('redis+cluster:// and redis+pubsub+cluster:// build the layers on the cluster from its nodes', async () => {
    const prefix = uniquePrefix();
    const a = buildChannelLayer(`${cluster.url()}&prefix=${prefix}`);
    const b = buildChannelLayer(`${cluster.url('redis+pubsub+cluster')}&prefix=${prefix}`);
    assert.ok(a instanceof RedisChannelLayer);
    assert.ok(b instanceof RedisPubSubChannelLayer);
    opened.push(a, b);
    assert.equal(a.hosts.length, 1);
    assert.match(a.hosts[0]!, /^cluster:127\.0\.0\.1:\d+,127\.0\.0\.1:\d+/);
    for (const layer of [a, b]) {
      const me = await layer.newChannel();
      await layer.groupAdd('room', me);
      await layer.groupSend('room', { type: 'hello' });
      assert.deepEqual(await layer.receive(me, AbortSignal.timeout(5000)), { type: 'hello' });
    }
  });

  test('a database other than 0, Sentinels, or a prefix holding a hash tag brace are refused', () => {
    assert.throws(() => buildChannelLayer(`${cluster.url().replace(/\?/, '/2?')}`), (e) => e instanceof ImproperlyConfigured && /only database 0/.test(e.message));
    assert.throws(() => new RedisChannelLayer({ cluster: true, hosts: [{ sentinels: [{ host: '127.0.0.1', port: 26379 }], name: 'm' }] }),
      (e) => e instanceof ImproperlyConfigured && /not by Sentinels/.test(e.message));
    assert.throws(() => new RedisChannelLayer({ cluster: true, hosts: cluster.seeds, prefix: 'a{b}' }),
      (e) => e instanceof ImproperlyConfigured && /must not hold \{ or \}/.test(e.message));
  });
});

describe('core layer keys on a cluster', () => {
  test('a process key, its lease and registry entry share one slot; a group, its history stream and meta another', async () => {
    const layer = core({ groupHistory: ['chat_*'] });
    const me = await layer.newChannel();
    await layer.groupAdd('chat_a', me);
    await layer.groupSend('chat_a', { type: 'm', n: 1 });
    const keys = await keysOf(layer.prefix);
    const { epoch } = (await layer.readHistory('chat_a', null))!;
    const names = new KeyNames(layer.prefix, true);
    // The delivered marker of the message (kept a while, for a retried delivery: see deliverCommitted) beside the key it went to.
    const marker = `${names.channel(me)}:delivered:chat_a:${epoch}:1`;
    const expected = [
      names.channel(me), names.group('chat_a'), names.history('chat_a'), names.historyMeta('chat_a'),
      names.liveness(layer.clientPrefix), names.registry(layer.clientPrefix), marker,
    ].sort();
    assert.deepEqual(keys, expected);
    assert.equal(names.channel(me), `${layer.prefix}specific.{${layer.clientPrefix}}!`);
    const slot = async (key: string) => Number(await raw.cluster('KEYSLOT', key));
    assert.equal(await slot(names.channel(me)), await slot(names.liveness(layer.clientPrefix)));
    assert.equal(await slot(names.channel(me)), await slot(marker));
    assert.equal(await slot(names.channel(me)), await slot(names.registry(layer.clientPrefix)));
    assert.equal(await slot(names.group('chat_a')), await slot(names.history('chat_a')));
    assert.equal(await slot(names.group('chat_a')), await slot(names.historyMeta('chat_a')));
    const message = await layer.receive(me, AbortSignal.timeout(5000));
    assert.deepEqual(positionOf(message)?.offset, 1);
  });

  test('a group spread over processes whose keys live on every master gets each message once per member', async () => {
    const prefix = uniquePrefix();
    const names = new KeyNames(prefix, true);
    const layers: RedisChannelLayer[] = [];
    const masters = new Set<number>();
    // Processes until their keys cover the three masters (a process key's slot is random).
    while (masters.size < 3 && layers.length < 40) {
      const layer = core({ prefix });
      layers.push(layer);
      masters.add(await cluster.masterOf(names.channel(`specific.${layer.clientPrefix}!x`)));
    }
    assert.equal(masters.size, 3);
    const members = await Promise.all(layers.map(async (layer) => {
      const channel = await layer.newChannel();
      await layer.groupAdd('spread', channel);
      return channel;
    }));
    for (let n = 0; n < 3; n++) await layers[n % layers.length]!.groupSend('spread', { type: 'm', n });
    await Promise.all(members.map(async (channel, i) => {
      for (let n = 0; n < 3; n++) assert.deepEqual(await layers[i]!.receive(channel, AbortSignal.timeout(5000)), { type: 'm', n });
      assert.equal(await receiveWithin(layers[i]!, channel, 200), NOTHING);
    }));
  });

  test('history reads back what was sent, from a position, on the group\'s slot', async () => {
    const layer = core({ groupHistory: { 'news_*': { size: 10 } } });
    const me = await layer.newChannel();
    await layer.groupAdd('news_x', me);
    for (let n = 1; n <= 5; n++) await layer.groupSend('news_x', { type: 'm', n });
    const first = await layer.receive(me, AbortSignal.timeout(5000));
    const read = await layer.readHistory('news_x', positionOf(first)!, 100);
    assert.equal(read?.recovered, true);
    assert.deepEqual(read!.messages.map((m) => (m as { n?: number }).n), [2, 3, 4, 5]);
    const pubsubLayer = pubsub({ groupHistory: ['news_*'], prefix: layer.prefix });
    const again = await pubsubLayer.readHistory('news_x', { epoch: positionOf(first)!.epoch, offset: 3 }, 100);
    assert.deepEqual(again!.messages.map((m) => (m as { n?: number }).n), [4, 5]);
  });

  test('a lease is exclusive across processes; flush empties every master', async () => {
    const prefix = uniquePrefix();
    const a = core({ prefix });
    const b = pubsub({ prefix, groupHistory: ['h'] });
    const lease = await a.lease('ticker', 5000);
    assert.ok(lease !== null);
    assert.equal(await b.lease('ticker', 5000), null);
    await lease.release();
    assert.ok((await b.lease('ticker', 5000)) !== null);
    for (let i = 0; i < 20; i++) await a.groupAdd(`g${i}`, await a.newChannel());
    assert.ok((await keysOf(prefix)).length > 20);
    await a.flush();
    assert.deepEqual(await keysOf(prefix), []);
  });

  test('a killed process\'s members are removed at the next group send once its lease lapsed', async () => {
    const prefix = uniquePrefix();
    const logger = recordingLogger();
    const sender = core({ prefix, logger, processTtl: 30 });
    const doomed = new RedisChannelLayer({ hosts: cluster.seeds, cluster: true, prefix, processTtl: 0.5, logger: quiet });
    const mine = await sender.newChannel();
    const theirs = await doomed.newChannel();
    await sender.groupAdd('room', mine);
    await doomed.groupAdd('room', theirs);
    // As a SIGKILL: the lease is no longer renewed (close() would delete it and stay registered only with memberships left).
    await doomed.close();
    const names = new KeyNames(prefix, true);
    await until(async () => (await raw.exists(names.liveness(doomed.clientPrefix))) === 0, 5000, 'the lease lapsed');
    await sender.groupSend('room', { type: 'm' });
    await until(async () => (await raw.zrange(names.group('room'), '0', '-1')).length === 1, 5000, 'the dead member removed');
    assert.deepEqual(await raw.zrange(names.group('room'), '0', '-1'), [mine]);
    assert.ok(logger.lines.some((line) => /dead process/.test(line.message)));
  });
});
