/**
 * WebSocket echo round trips per second: Switchyard's server (a bare ASGI
 * echo app, and a `WebsocketConsumer` echo) against a bare `ws` echo server,
 * in one run. Each server runs in its own child process; the load comes from
 * this process: C connections, each sending its next message as soon as the
 * echo of the previous one arrives, for D seconds.
 *
 *   npx tsx bench/ws-echo.ts [--connections 50] [--seconds 5] [--size 64] [--rounds 3]
 *
 * Server CPU per round trip (from /proc) is the steadier figure: with one
 * client process, the client is often the bottleneck.
 *
 * Not part of `npm test`: numbers depend on the machine.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import WebSocket, { WebSocketServer } from 'ws';

const { values } = parseArgs({
  options: {
    connections: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '5' },
    size: { type: 'string', default: '64' },
    rounds: { type: 'string', default: '3' },
    serve: { type: 'string' },
  },
});

async function serveTarget(kind: string): Promise<void> {
  let url: string;
  if (kind === 'ws') {
    const server = http.createServer();
    const wss = new WebSocketServer({ server, maxPayload: 1024 * 1024 });
    wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `ws://127.0.0.1:${(server.address() as { port: number }).port}/`;
  } else {
    const { serve } = await import('../src/server/index.js');
    const { createLogger } = await import('../src/server/logging.js');
    let app;
    if (kind === 'consumer') {
      const { WebsocketConsumer } = await import('../src/index.js');
      class Echo extends WebsocketConsumer {
        override async connect(): Promise<void> { await this.accept(); }
        override async receive(data: string | Uint8Array): Promise<void> { await this.send(data); }
      }
      app = Echo.asApp();
    } else {
      app = async (scope: { type: string }, receive: () => Promise<{ type: string; text?: string | null; bytes?: Uint8Array | null }>, send: (e: object) => Promise<void>) => {
        if (scope.type !== 'websocket') return;
        await receive();
        await send({ type: 'websocket.accept' });
        for (;;) {
          const event = await receive();
          if (event.type === 'websocket.disconnect') return;
          await send(event.text != null ? { type: 'websocket.send', text: event.text } : { type: 'websocket.send', bytes: event.bytes });
        }
      };
    }
    const server = await serve(app as never, { port: 0, accessLog: false, lifespan: 'off', logger: createLogger({ level: 'warn' }) });
    url = server.url.replace('http', 'ws') + '/';
  }
  process.stdout.write(`${JSON.stringify({ url })}\n`);
}

function startServer(kind: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--serve', kind], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /\{"url":"([^"]+)"\}/.exec(out);
      if (match) resolve({ child, url: match[1]! });
    });
    child.once('exit', (code) => reject(new Error(`${kind} server exited with ${code}`)));
  });
}

/** CPU seconds (user + system) a process has used, from /proc (Linux); NaN elsewhere. */
function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks (100/s)
  } catch {
    return Number.NaN;
  }
}

async function load(url: string, connections: number, seconds: number, size: number, pid: number): Promise<{ rate: number; cpuPerTrip: number }> {
  const payload = 'x'.repeat(size);
  const sockets = await Promise.all(Array.from({ length: connections }, () => new Promise<WebSocket>((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  })));
  let count = 0;
  let running = true;
  for (const ws of sockets) {
    ws.on('message', () => {
      count++;
      if (running) ws.send(payload);
    });
  }
  // Warm up for half a second, then measure.
  for (const ws of sockets) ws.send(payload);
  await new Promise((resolve) => setTimeout(resolve, 500));
  const before = count;
  const cpuBefore = cpuSeconds(pid);
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const measured = count - before;
  const elapsedSeconds = (performance.now() - started) / 1000;
  const cpu = cpuSeconds(pid) - cpuBefore;
  running = false;
  for (const ws of sockets) ws.terminate();
  return { rate: measured / elapsedSeconds, cpuPerTrip: (cpu / measured) * 1e6 };
}

if (values.serve !== undefined) {
  await serveTarget(values.serve);
} else {
  const connections = Number(values.connections);
  const seconds = Number(values.seconds);
  const size = Number(values.size);
  // Rounds interleave the servers, and each figure is the median over rounds: a shared
  // machine's noise hits all three alike.
  const rounds = Number(values.rounds);
  const samples: Record<string, Array<{ rate: number; cpuPerTrip: number }>> = { ws: [], switchyard: [], consumer: [] };
  for (let round = 0; round < rounds; round++) {
    for (const kind of ['ws', 'switchyard', 'consumer']) {
      const { child, url } = await startServer(kind);
      samples[kind]!.push(await load(url, connections, seconds, size, child.pid!));
      child.kill();
    }
  }
  const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const results: Record<string, { rate: number; cpuPerTrip: number }> = {};
  for (const [kind, list] of Object.entries(samples)) {
    results[kind] = { rate: median(list.map((r) => r.rate)), cpuPerTrip: median(list.map((r) => r.cpuPerTrip)) };
  }
  const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
  const base = results.ws!;
  console.log(`WebSocket echo, ${connections} connections, ${size}-byte text messages, ${seconds} s per run, median of ${rounds} rounds (one client process drives the load)`);
  const line = (label: string, r: { rate: number; cpuPerTrip: number }): string =>
    `  ${label.padEnd(38)} ${fmt(r.rate).padStart(8)} round trips/s (ratio ${(r.rate / base.rate).toFixed(2)}), `
    + `server CPU ${r.cpuPerTrip.toFixed(1)} µs per round trip (ratio ${(r.cpuPerTrip / base.cpuPerTrip).toFixed(2)})`;
  console.log(line('bare ws server', base));
  console.log(line('Switchyard server, raw ASGI echo app', results.switchyard!));
  console.log(line('Switchyard server, WebsocketConsumer', results.consumer!));
}
