// A flooding client in a real room, over the real server: it is throttled (error event, then
// close 1008), the others lose nothing and see almost none of the spam, and their round-trip
// latency is measured: without a flood, under a flood with the chat's limits, and under the
// same flood with no limits at all (for comparison).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import type { Application } from 'switchyard';
import { InMemoryChannelLayer, ProtocolTypeRouter, URLRouter, configureChannelLayers } from 'switchyard';
import { websocketUrlPatterns } from '../../examples/chat/routing.js';
import { start, type TestServer } from '../server/helpers.js';
import { delay } from '../helpers/time.js';

const FLOODER = fileURLToPath(new URL('./auth-flooder.mjs', import.meta.url));
let limited: TestServer;
let unlimited: TestServer;

before(async () => {
  delete process.env.CHANNEL_LAYER_URL;
  const { application } = (await import('../../examples/chat/app.js')) as { application: Application };
  configureChannelLayers({ default: new InMemoryChannelLayer({ capacity: 1000 }) });
  limited = await start(application, { accessLog: false, logLevel: 'warn' });
  unlimited = await start(ProtocolTypeRouter({ websocket: URLRouter(websocketUrlPatterns) }), { accessLog: false, logLevel: 'warn' });
});
after(async () => {
  await limited.close({ timeout: 1 });
  await unlimited.close({ timeout: 1 });
});

const urlOf = (server: TestServer, room: string) => `ws://127.0.0.1:${server.port}/ws/chat/${room}/`;
const originOf = (server: TestServer) => `http://127.0.0.1:${server.port}`;

function open(server: TestServer, room: string): Promise<WebSocket> {
  const ws = new WebSocket(urlOf(server, room), { headers: { origin: originOf(server) } });
  return new Promise((resolve, reject) => {
    ws.once('message', () => resolve(ws)); // connection_established
    ws.once('error', reject);
  });
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
};

interface Measured { n: number; lost: number; p50: number; p99: number; spamSeen: number }

/** Members each send one line every `every` ms for `ms`; round trip = send → own line back from the room. */
async function measure(members: WebSocket[], ms: number, every: number): Promise<Measured> {
  const latencies: number[] = [];
  const pending = new Map<string, number>();
  let spamSeen = 0;
  const listeners = members.map((ws, i) => {
    const onMessage = (data: Buffer) => {
      const frame = JSON.parse(data.toString()) as { message?: string };
      if (i === 0 && frame.message?.startsWith('spam ')) spamSeen += 1;
      const sentAt = frame.message === undefined ? undefined : pending.get(frame.message);
      if (sentAt !== undefined && frame.message!.startsWith(`member${i}-`)) {
        latencies.push(performance.now() - sentAt);
        pending.delete(frame.message!);
      }
    };
    ws.on('message', onMessage);
    return onMessage;
  });
  const end = performance.now() + ms;
  for (let seq = 0; performance.now() < end; seq++) {
    members.forEach((ws, i) => {
      const message = `member${i}-${seq}`;
      pending.set(message, performance.now());
      ws.send(JSON.stringify({ message, username: `member${i}` }));
    });
    await delay(every);
  }
  const deadline = performance.now() + 3000;
  while (pending.size > 0 && performance.now() < deadline) await delay(20);
  members.forEach((ws, i) => ws.off('message', listeners[i]!));
  const round = (x: number) => Math.round(x * 100) / 100;
  return { n: latencies.length, lost: pending.size, p50: round(percentile(latencies, 50)), p99: round(percentile(latencies, 99)), spamSeen };
}

interface FloodStats { connections: number; notices: number; closes1008: number; otherCloses: number; sent: number }

/** Runs the flooder process against `server` while the members measure. */
async function underFlood(server: TestServer, room: string, members: WebSocket[]): Promise<{ measured: Measured; flood: FloodStats }> {
  // 6 connections × 3000 messages, one connection every 300 ms: 18 000 lines in under 2 s.
  const child = spawn(process.execPath, [FLOODER, urlOf(server, room), originOf(server), '6', '3000', '300'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  await delay(150); // the flood is under way
  const measured = await measure(members, 1800, 100);
  assert.equal(await exited, 0);
  return { measured, flood: JSON.parse(output) as FloodStats };
}

test('a flooding client is throttled and closed with 1008; the others lose nothing and keep their latency', async () => {
  const members = await Promise.all([1, 2, 3, 4].map(() => open(limited, 'flood')));
  const baseline = await measure(members, 1000, 100);
  const withLimits = await underFlood(limited, 'flood', members);
  members.forEach((ws) => ws.close());

  const bare = await Promise.all([1, 2, 3, 4].map(() => open(unlimited, 'flood')));
  const withoutLimits = await underFlood(unlimited, 'flood', bare);
  bare.forEach((ws) => ws.close());

  console.log(`flood report: ${JSON.stringify({ baseline, withLimits, withoutLimits })}`);
  const { measured, flood } = withLimits;
  assert.equal(baseline.lost, 0);
  assert.equal(measured.lost, 0, 'no member message lost under the flood');
  assert.equal(flood.connections, 6);
  assert.equal(withoutLimits.flood.sent, flood.sent, 'the same flood both times');
  assert.equal(flood.closes1008, flood.connections, 'every flooding connection was closed with 1008 by the server');
  assert.equal(flood.notices, flood.connections, 'each was told once (rate_limited error event) before');
  // Only each connection's burst (20) and trickle (10/s) reach the room.
  assert.ok(measured.spamSeen <= flood.connections * 25, `members saw ${measured.spamSeen} spam lines from ${flood.connections} connections`);
  assert.ok(withoutLimits.measured.spamSeen > measured.spamSeen * 10, 'without limits the room is flooded');
  // Latency: the machine may be shared, so only a loose bound here; the report above has the figures.
  assert.ok(measured.p50 < 250, `members' median round trip under the flood: ${measured.p50} ms`);
});
