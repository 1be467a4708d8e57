// Ports of channels_redis tests/test_sentinel.py and tests/test_pubsub_sentinel.py (spec §3.2): the
// core and pub/sub behaviours again, through a Sentinel that names the master (here a
// password-protected sentinel, as channels_redis's fixture with sentinel_kwargs={"password": ...}).
// The host entry is channels_redis's own spelling (`sentinels` as pairs, `master_name`, `sentinel_kwargs`).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { RedisChannelLayer, RedisPubSubChannelLayer } from '../../src/redis/index.js';
import { layerConformance } from '../layers/conformance.js';
import { abortAfter, delay } from '../helpers/time.js';

const SENTINEL_PASSWORD = 'channels_redis';
const children: ChildProcess[] = [];
let masterPort = 0;
let sentinelPort = 0;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await check().catch(() => false)) return;
    await delay(50);
  }
  throw new Error(`${what} did not come up`);
}

before(async () => {
  masterPort = await freePort();
  sentinelPort = await freePort();
  children.push(spawn('redis-server', ['--port', String(masterPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' }));
  const dir = mkdtempSync(join(tmpdir(), 'sy-sentinel-'));
  const conf = join(dir, 'sentinel.conf');
  writeFileSync(conf, [
    `port ${sentinelPort}`,
    'bind 127.0.0.1',
    `dir ${dir}`,
    `requirepass ${SENTINEL_PASSWORD}`,
    `sentinel monitor sentinel 127.0.0.1 ${masterPort} 1`,
    '',
  ].join('\n'));
  children.push(spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' }));
  const probe = (port: number, password?: string) => async () => {
    const client = new Redis({ port, password, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on('error', () => {});
    try {
      await client.connect();
      return (await client.ping()) === 'PONG';
    } finally {
      client.disconnect();
    }
  };
  await until(probe(masterPort), 'redis-server');
  await until(probe(sentinelPort, SENTINEL_PASSWORD), 'redis sentinel');
});

after(() => {
  for (const child of children) child.kill('SIGKILL');
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
