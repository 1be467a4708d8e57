// Ports of channels_redis tests/test_sentinel.py and tests/test_pubsub_sentinel.py (spec §3.2): the
// core and pub/sub behaviours again, through a Sentinel that names the master (here a
// password-protected sentinel, as channels_redis's fixture with sentinel_kwargs={"password": ...}).
// The host entry is channels_redis's own spelling (`sentinels` as pairs, `master_name`, `sentinel_kwargs`).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { RedisChannelLayer, RedisPubSubChannelLayer } from 'switchyard/redis';
import { layerConformance } from '../layers/conformance.js';
import { OwnedRedis, OwnedSentinel } from '../helpers/redis-server.js';
import { abortAfter } from '../helpers/time.js';

const SENTINEL_PASSWORD = 'channels_redis';
let master: OwnedRedis;
let sentinel: OwnedSentinel;
let masterPort = 0;
let sentinelPort = 0;

before(async () => {
  master = await OwnedRedis.start();
  sentinel = await OwnedSentinel.start(master, 'sentinel', { password: SENTINEL_PASSWORD });
  masterPort = master.port;
  sentinelPort = sentinel.port;
});

after(async () => {
  await sentinel.stop();
  await master.stop();
});

/** channels_redis's sentinel host entry, spelled as in its test fixture. */
const sentinelHosts = () => [{ sentinels: [['127.0.0.1', sentinelPort] as [string, number]], master_name: 'sentinel', sentinel_kwargs: { password: SENTINEL_PASSWORD } }] as never[];

/**
 * Hands a pub/sub layer over once its subscriber connection is up: through a Sentinel a fresh
 * connection first asks the sentinel for the master, which can take longer than the suite's
 * 100 ms between a receive and the publish it must see. (Not for the core layer: an aborted
 * receive there keeps popping its process key for a moment, which the capacity and expiry
 * tests would notice.)
 */
async function warmed(layer: RedisPubSubChannelLayer): Promise<RedisPubSubChannelLayer> {
  await layer.receive(await layer.newChannel(), abortAfter(100)).catch(() => {});
  return layer;
}

layerConformance('RedisChannelLayer through Sentinel', (options, namespace) => new RedisChannelLayer({ ...options, hosts: sentinelHosts(), prefix: namespace }), {
  capacity: true,
  persistent: true,
  groupExpiry: true,
  shared: true,
});

layerConformance('RedisPubSubChannelLayer through Sentinel', (options, namespace) =>
  warmed(new RedisPubSubChannelLayer({ hosts: sentinelHosts(), prefix: namespace, capacity: options.capacity, expiry: options.expiry })), {
  capacity: false,
  persistent: false,
  groupExpiry: false,
  shared: true,
});

test('test_sentinel.py: messages really go through the master the sentinel names', async () => {
  const layer = new RedisChannelLayer({ hosts: sentinelHosts(), prefix: `sy-sentinel-${process.pid}-` });
  const master = new Redis({ port: masterPort });
  try {
    await layer.send('worker-tasks', { type: 'via.sentinel' });
    assert.equal(await master.zcard(`sy-sentinel-${process.pid}-worker-tasks`), 1);
    assert.deepEqual(await layer.receive('worker-tasks'), { type: 'via.sentinel' });
  } finally {
    await layer.flush();
    await layer.close();
    master.disconnect();
  }
});
