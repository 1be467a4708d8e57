/**
 * Layer micro-benchmarks for one Switchyard layer (argv[2]: memory | redis |
 * pubsub; the Redis URL in BENCH_REDIS_URL). Prints one JSON object:
 * - send/receive round trips on one channel (sequential, await each);
 * - groupSend to a group of 1,000 channels, each with a receive waiting,
 *   timed until all 1,000 receives resolved.
 * Each measurement is bounded by a count and a time budget.
 */
import type { ChannelLayer } from '../../src/layers/base.js';
import { InMemoryChannelLayer } from '../../src/layers/memory.js';
import { RedisChannelLayer, RedisPubSubChannelLayer } from 'switchyard/redis';

const kind = process.argv[2] ?? 'memory';
const url = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/13';
const MEMBERS = 1000;
const BUDGET_MS = 2000;

function makeLayer(): ChannelLayer {
  if (kind === 'memory') return new InMemoryChannelLayer({ capacity: 1000 });
  if (kind === 'redis') return new RedisChannelLayer({ hosts: [url], prefix: 'benchmicro' });
  if (kind === 'pubsub') return new RedisPubSubChannelLayer({ hosts: [url], prefix: 'benchmicrops' });
  throw new Error(`unknown layer ${kind}`);
}

async function roundTrips(layer: ChannelLayer, maxOps: number) {
  const channel = await layer.newChannel();
  const message = { type: 'bench.ping', text: 'x'.repeat(32) };
  for (let i = 0; i < 50; i++) { await layer.send(channel, message); await layer.receive(channel); } // warm-up
  const t0 = performance.now();
  let ops = 0;
  while (ops < maxOps && performance.now() - t0 < BUDGET_MS) {
    await layer.send(channel, message);
    await layer.receive(channel);
    ops++;
  }
  const ms = performance.now() - t0;
  return { ops, usPerOp: Math.round((ms * 1000) / ops * 10) / 10, opsPerSecond: Math.round(ops / (ms / 1000)) };
}

async function groupFanout(layer: ChannelLayer, maxOps: number) {
  const channels: string[] = [];
  for (let i = 0; i < MEMBERS; i++) channels.push(await layer.newChannel());
  for (const channel of channels) await layer.groupAdd('benchgroup', channel);
  const message = { type: 'chat.message', message: 'x'.repeat(32), username: 'bench' };
  const once = async () => {
    const received = Promise.all(channels.map((channel) => layer.receive(channel)));
    await new Promise((r) => setImmediate(r)); // let every receive register first
    await layer.groupSend('benchgroup', message);
    await received;
  };
  await once(); // warm-up (subscriptions, scripts)
  const t0 = performance.now();
  let ops = 0;
  while (ops < maxOps && performance.now() - t0 < BUDGET_MS) {
    await once();
    ops++;
  }
  const ms = performance.now() - t0;
  return { members: MEMBERS, ops, msPerGroupSend: Math.round((ms / ops) * 1000) / 1000, usPerDelivery: Math.round((ms * 1000) / ops / MEMBERS * 100) / 100 };
}

const layer = makeLayer();
const result = { layer: kind, roundTrip: await roundTrips(layer, kind === 'memory' ? 200_000 : 20_000), groupSend: await groupFanout(layer, kind === 'memory' ? 2000 : 200) };
await layer.flush();
await layer.close();
console.log(JSON.stringify(result));
process.exit(0);
