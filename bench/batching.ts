/**
 * What group batching (`groupBatching`, src/layers/batching.ts) buys on the
 * Redis layers: many senders into one busy room. Not part of `npm test`.
 *
 *   npx tsx bench/batching.ts [senders=50] [perSender=40] [members=100]
 *
 * Two layer instances (two "processes", each with its own Redis connections)
 * share a private Redis (bench/lib/redis.ts, port BENCH_REDIS_PORT or 6399);
 * the room's members are split between them and read with taps, as consumers
 * do. `senders` concurrent senders each send `perSender` messages back to
 * back (awaiting each groupSend, as a consumer's handler does) through
 * instance A. For the core layer and the pub/sub layer, without and with
 * batching: Redis commands per message (INFO commandstats), Redis CPU per
 * message, deliveries lost, and the time until the last delivery.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { buildChannelLayer, type ChannelLayer } from 'switchyard';
import 'switchyard/redis';
import { countDelta, startRedis } from './lib/redis.js';

const [senders = 50, perSender = 40, members = 100] = process.argv.slice(2).map(Number);
const messages = senders * perSender;

interface Row { layer: string; batching: boolean; commandsPerMessage: number; redisCpuUsPerMessage: number; lost: number; ms: number; top: string }

async function redisCpuUs(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const user = Number(/used_cpu_user:([\d.]+)/.exec(info)?.[1] ?? 0);
  const sys = Number(/used_cpu_sys:([\d.]+)/.exec(info)?.[1] ?? 0);
  return (user + sys) * 1e6;
}

async function run(url: string, label: string, batching: boolean, admin: Redis, counts: () => Promise<Record<string, number>>): Promise<Row> {
  const full = `${url}${url.includes('?') ? '&' : '?'}prefix=bench-batch-&capacity=1000${batching ? '&groupBatching=room' : ''}`;
  const [a, b] = [buildChannelLayer(full), buildChannelLayer(full)] as [ChannelLayer, ChannelLayer];
  let delivered = 0;
  let lastDelivery = 0;
  const taps = [];
  for (let i = 0; i < members; i++) {
    const layer = i % 2 === 0 ? a : b;
    const channel = await layer.newChannel();
    await layer.groupAdd('room', channel);
    const tap = layer.tap!(channel, function onMessage() {
      delivered++;
      lastDelivery = performance.now();
      while (tap.take() !== undefined) delivered++;
      tap.arm();
    });
    tap.arm();
    taps.push(tap);
  }
  await sleep(300);
  const [commandsBefore, cpuBefore] = [await counts(), await redisCpuUs(admin)];
  const started = performance.now();
  await Promise.all(Array.from({ length: senders }, async (_, s) => {
    for (let n = 0; n < perSender; n++) await a.groupSend('room', { type: 'chat_message', message: `${s}:${n}:${'x'.repeat(32)}`, username: 'bench' });
  }));
  for (let waited = 0; delivered < messages * members && waited < 5000; waited += 50) await sleep(50);
  const [commandsAfter, cpuAfter] = [await counts(), await redisCpuUs(admin)];
  const delta = countDelta(commandsBefore, commandsAfter);
  const total = Object.values(delta).reduce((sum, calls) => sum + calls, 0);
  for (const tap of taps) tap.close();
  await a.flush();
  await Promise.all([a.close(), b.close()]);
  const top = Object.entries(delta).sort((x, y) => y[1] - x[1]).slice(0, 4).map(([name, calls]) => `${name} ${(calls / messages).toFixed(2)}`).join(', ');
  return {
    layer: label, batching,
    commandsPerMessage: total / messages,
    redisCpuUsPerMessage: (cpuAfter - cpuBefore) / messages,
    lost: messages * members - delivered,
    ms: Math.round((lastDelivery || performance.now()) - started),
    top,
  };
}

const redis = await startRedis(null);
const admin = new Redis(redis.url);
const rows: Row[] = [];
try {
  for (const [label, scheme] of [['core', 'redis:'], ['pub/sub', 'redis+pubsub:']] as const) {
    const url = redis.url.replace(/^redis:/, scheme);
    for (const batching of [false, true]) {
      rows.push(await run(url, label, batching, admin, () => redis.commandCounts()));
      await redis.flush();
    }
  }
} finally {
  admin.disconnect();
  await redis.stop();
}
console.log(`\n${senders} senders × ${perSender} messages into one room of ${members} (half on each of two layer instances), Redis ${redis.url}\n`);
console.log('| layer | batching | Redis commands / message | Redis CPU µs / message | deliveries lost | ms to last delivery | top commands / message |');
console.log('|---|---|---|---|---|---|---|');
for (const row of rows) {
  console.log(`| ${row.layer} | ${row.batching ? 'on' : 'off'} | ${row.commandsPerMessage.toFixed(2)} | ${row.redisCpuUsPerMessage.toFixed(1)} | ${row.lost} | ${row.ms} | ${row.top} |`);
}
