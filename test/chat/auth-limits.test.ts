// A flooding client in a real room, over the real server: it is throttled (error event, then
// close 1008), and the other members' round-trip latency is measured with and without it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import type { Application } from '../../src/asgi.js';
import { InMemoryChannelLayer, configureChannelLayers } from '../../src/index.js';
import { start, type TestServer } from '../server/helpers.js';

let server: TestServer;
let url = '';
let origin = '';

before(async () => {
  delete process.env.CHANNEL_LAYER_URL;
  const { application } = (await import('../../examples/chat/app.js')) as { application: Application };
  configureChannelLayers({ default: new InMemoryChannelLayer({ capacity: 1000 }) });
  server = await start(application, { accessLog: false, logLevel: 'warn' });
  url = `ws://127.0.0.1:${server.port}/ws/chat/flood/`;
  origin = `http://127.0.0.1:${server.port}`;
});
after(() => server.close({ timeout: 1 }));

function open(): Promise<WebSocket> {
  const ws = new WebSocket(url, { headers: { origin } });
  return new Promise((resolve, reject) => {
    ws.once('message', () => resolve(ws)); // connection_established
    ws.once('error', reject);
  });
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
};

/** Members each send one line every `every` ms for `ms`; returns every round-trip latency (send → own echo). */
async function measure(members: WebSocket[], ms: number, every: number): Promise<{ latencies: number[]; lost: number }> {
  const latencies: number[] = [];
  const pending = new Map<string, number>();
  const listeners = members.map((ws) => {
    const onMessage = (data: Buffer) => {
      const frame = JSON.parse(data.toString()) as { message?: string };
      const sentAt = frame.message === undefined ? undefined : pending.get(frame.message);
      if (sentAt !== undefined) {
        latencies.push(performance.now() - sentAt);
        pending.delete(frame.message!);
      }
    };
    ws.on('message', onMessage);
    return onMessage;
  });
  const end = performance.now() + ms;
  let seq = 0;
  while (performance.now() < end) {
    members.forEach((ws, i) => {
      const message = `member${i}-${seq}`;
      pending.set(message, performance.now());
      ws.send(JSON.stringify({ message, username: `member${i}` }));
    });
    seq += 1;
    await new Promise((r) => setTimeout(r, every));
  }
  await new Promise((r) => setTimeout(r, 300));
  members.forEach((ws, i) => ws.off('message', listeners[i]!));
  return { latencies, lost: pending.size };
}

test('a flooding client is throttled and closed with 1008; the others keep their latency', async () => {
  const members = await Promise.all([1, 2, 3, 4].map(() => open()));
  const baseline = await measure(members, 1000, 100);

  // Flooders, in another process: each connection fires 3000 messages at once; when it is
  // closed, the next one starts, for the whole measurement window.
  const child = spawn(process.execPath, [fileURLToPath(new URL('./auth-flooder.mjs', import.meta.url)), url, origin, '2000', '2'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  await new Promise((r) => setTimeout(r, 150)); // let the flood start
  const underFlood = await measure(members, 1800, 100);
  assert.equal(await exited, 0);
  const stats = JSON.parse(output) as { connections: number; notices: number; closes1008: number; otherCloses: number; sent: number };
  members.forEach((ws) => ws.close());

  const report = {
    baseline: { n: baseline.latencies.length, p50: +percentile(baseline.latencies, 50).toFixed(2), p99: +percentile(baseline.latencies, 99).toFixed(2) },
    underFlood: { n: underFlood.latencies.length, p50: +percentile(underFlood.latencies, 50).toFixed(2), p99: +percentile(underFlood.latencies, 99).toFixed(2), max: +Math.max(...underFlood.latencies).toFixed(2) },
    flood: stats,
  };
  console.log(`flood report: ${JSON.stringify(report)}`);
  assert.equal(baseline.lost, 0);
  assert.equal(underFlood.lost, 0, 'no member message lost under flood');
  assert.ok(stats.closes1008 >= 2 && stats.closes1008 === stats.connections, 'every flooding connection was closed with 1008');
  assert.ok(stats.notices >= 1, 'the flooder was told (rate_limited error event)');
  assert.equal(stats.otherCloses, 0);
  assert.ok(report.underFlood.p99 < 250, `members' p99 latency under flood ${report.underFlood.p99} ms`);
});
