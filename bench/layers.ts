/**
 * Channel layer benchmark: Switchyard's RedisChannelLayer against Django's
 * channels_redis (Debian's 4.0.0 under /usr/bin/python3) on the same Redis, in
 * the same run. Not part of `npm test`.
 *
 *   npx tsx bench/layers.ts [roundTrips=2000] [groupSends=50]
 *
 * Scenarios (each language runs the same ones with two layer instances, i.e.
 * two "processes" from the layer's point of view: separate client prefixes,
 * keys and connections, sharing one event loop):
 * - round trips: A sends to B's channel, B echoes to A's; sequential; round trips/s.
 * - groupSend: a 1,000-member group, 500 channels in each instance; one
 *   groupSend, then every member receives it; group sends/s and deliveries/s.
 * The ratio printed is Switchyard / channels_redis (higher is better for Switchyard).
 */
import { spawnSync } from 'node:child_process';
import { RedisChannelLayer } from '../src/redis/index.js';

const ROUND_TRIPS = Number(process.argv[2] ?? 2000);
const GROUP_SENDS = Number(process.argv[3] ?? 50);
const REDIS = 'redis://127.0.0.1:6379/0';
const MEMBERS_PER_PROCESS = 500;

interface Result {
  roundTripsPerSecond: number;
  groupSendsPerSecond: number;
}

async function switchyard(prefix: string): Promise<Result> {
  const a = new RedisChannelLayer({ hosts: [REDIS], prefix, capacity: 1000 });
  const b = new RedisChannelLayer({ hosts: [REDIS], prefix, capacity: 1000 });
  try {
    const [ca, cb] = [await a.newChannel(), await b.newChannel()];
    const echo = (async () => {
      for (let i = 0; i < ROUND_TRIPS + 100; i++) await b.send(ca, await b.receive(cb));
    })();
    for (let i = 0; i < 100; i++) {
      await a.send(cb, { type: 'ping', i });
      await a.receive(ca);
    }
    let started = performance.now();
    for (let i = 0; i < ROUND_TRIPS; i++) {
      await a.send(cb, { type: 'ping', i });
      await a.receive(ca);
    }
    const roundTripsPerSecond = ROUND_TRIPS / ((performance.now() - started) / 1000);
    await echo;

    const members: [RedisChannelLayer, string][] = [];
    for (const layer of [a, b]) {
      for (let i = 0; i < MEMBERS_PER_PROCESS; i++) {
        const channel = await layer.newChannel();
        await layer.groupAdd('bench', channel);
        members.push([layer, channel]);
      }
    }
    const round = async (k: number) => {
      const all = Promise.all(members.map(([layer, channel]) => layer.receive(channel)));
      await a.groupSend('bench', { type: 'broadcast', k, text: 'x'.repeat(100) });
      await all;
    };
    await round(-1);
    started = performance.now();
    for (let k = 0; k < GROUP_SENDS; k++) await round(k);
    return { roundTripsPerSecond, groupSendsPerSecond: GROUP_SENDS / ((performance.now() - started) / 1000) };
  } finally {
    await a.flush();
    await Promise.all([a.close(), b.close()]);
  }
}

const PYTHON = `
import asyncio, json, sys, time
from channels_redis.core import RedisChannelLayer
prefix, n_rt, n_gs, per = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
async def main():
    a = RedisChannelLayer(hosts=["${REDIS}"], prefix=prefix, capacity=1000)
    b = RedisChannelLayer(hosts=["${REDIS}"], prefix=prefix, capacity=1000)
    ca, cb = await a.new_channel(), await b.new_channel()
    async def echo():
        for i in range(n_rt + 100):
            await b.send(ca, await b.receive(cb))
    task = asyncio.ensure_future(echo())
    for i in range(100):
        await a.send(cb, {"type": "ping", "i": i}); await a.receive(ca)
    start = time.perf_counter()
    for i in range(n_rt):
        await a.send(cb, {"type": "ping", "i": i}); await a.receive(ca)
    rt = n_rt / (time.perf_counter() - start)
    await task
    members = []
    for layer in (a, b):
        for i in range(per):
            c = await layer.new_channel(); await layer.group_add("bench", c); members.append((layer, c))
    async def round_(k):
        receives = asyncio.gather(*[layer.receive(c) for layer, c in members])
        await a.group_send("bench", {"type": "broadcast", "k": k, "text": "x" * 100})
        await receives
    await round_(-1)
    start = time.perf_counter()
    for k in range(n_gs):
        await round_(k)
    gs = n_gs / (time.perf_counter() - start)
    await a.flush()
    print(json.dumps({"roundTripsPerSecond": rt, "groupSendsPerSecond": gs}))
asyncio.run(main())
`;

function channelsRedis(prefix: string): Result {
  const run = spawnSync('/usr/bin/python3', ['-c', PYTHON, prefix, String(ROUND_TRIPS), String(GROUP_SENDS), String(MEMBERS_PER_PROCESS)], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`channels_redis benchmark failed: ${run.stderr}`);
  return JSON.parse(run.stdout.trim().split('\n').pop()!) as Result;
}

const node = await switchyard(`sy-bench-${process.pid}-node-`);
const python = channelsRedis(`sy-bench-${process.pid}-py-`);
const fmt = (n: number) => n.toFixed(1).padStart(10);
console.log(`Redis channel layers, ${ROUND_TRIPS} round trips, ${GROUP_SENDS} groupSends to ${2 * MEMBERS_PER_PROCESS} members over 2 layer instances`);
console.log(`${''.padEnd(34)}${'Switchyard'.padStart(10)} ${'channels_redis'.padStart(14)}   ratio`);
console.log(`send/receive round trips per s   ${fmt(node.roundTripsPerSecond)} ${fmt(python.roundTripsPerSecond).padStart(14)}   ${(node.roundTripsPerSecond / python.roundTripsPerSecond).toFixed(2)}x`);
console.log(`groupSend (1,000 members) per s  ${fmt(node.groupSendsPerSecond)} ${fmt(python.groupSendsPerSecond).padStart(14)}   ${(node.groupSendsPerSecond / python.groupSendsPerSecond).toFixed(2)}x`);
console.log(`  = deliveries per s             ${fmt(node.groupSendsPerSecond * 2 * MEMBERS_PER_PROCESS)} ${fmt(python.groupSendsPerSecond * 2 * MEMBERS_PER_PROCESS).padStart(14)}`);
