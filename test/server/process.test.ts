// The real command in real processes: SIGTERM drain, lifespan failure, workers, TLS.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ioUringAllowed } from '../helpers/io-uring.js';
import { listening, run, type Running } from '../helpers/processes.js';
import { delay } from '../helpers/time.js';
import { openSocket } from '../helpers/ws-client.js';
import { guardRedisKeys } from '../helpers/redis-clean.js';

const APP = 'test/server/fixtures/app.ts:app';
/** Its own prefix on the shared Redis (not channels_redis's default `asgi`, which a Django peer may be using). */
const REDIS_PREFIX = `sy-process-${process.pid}-`;
const REDIS_URL = `redis://127.0.0.1:6379/0?prefix=${REDIS_PREFIX}`;

function get(url: string, options: https.RequestOptions = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const client = url.startsWith('https') ? https : http;
    client.get(url, { agent: false, ...options }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    }).on('error', reject);
  });
}

describe('switchyard serve (processes)', () => {
  const running: Running[] = [];
  const start = (args: string[], env: Record<string, string> = {}): Running => {
    const r = run(args, env);
    running.push(r);
    return r;
  };
  after(() => { for (const r of running) r.stop(); });

  test('SIGTERM: open WebSockets get 1001, their disconnect handlers and an in-flight response finish, lifespan shutdown runs, exit 0', async () => {
    const server = start(['serve', APP, '--port', '0', '--shutdown-timeout', '5']);
    const started = await server.waitFor(listening);
    assert.equal(started.writes, ioUringAllowed() ? 'io_uring' : 'write', 'the line says how the server writes');
    const url = String(started.url);
    const sockets = await Promise.all([openSocket(`${url.replace('http', 'ws')}/a`), openSocket(`${url.replace('http', 'ws')}/b`)]);
    const codes = sockets.map((ws) => new Promise<number>((resolve) => ws.once('close', (code) => resolve(code))));
    const slow = get(`${url}/slow`);
    await delay(100); // the request is in flight
    server.child.kill('SIGTERM');
    assert.deepEqual(await Promise.all(codes), [1001, 1001]);
    assert.deepEqual(await slow, { status: 200, body: 'slow and complete' });
    assert.deepEqual(await server.exited, { code: 0, signal: null });
    const fixture = server.lines.filter((l) => typeof l.fixture === 'string').map((l) => l.fixture);
    assert.deepEqual(fixture, ['startup', 'disconnect 1001', 'disconnect 1001', 'shutdown']);
  });

  test('--fallback (or SWITCHYARD_FALLBACK) serves the HTTP fallback on WebSocket routes; off without it', async () => {
    /** The status and content type of a GET that opens an event stream (the stream is dropped at once). */
    const openStream = (url: string) => new Promise<{ status: number; type: string }>((resolve, reject) => {
      const request = http.get(url, { agent: false }, (res) => {
        resolve({ status: res.statusCode!, type: String(res.headers['content-type'] ?? '') });
        request.destroy();
      });
      request.on('error', reject);
    });
    for (const [args, env, on] of [[['--fallback'], {}, true], [[], { SWITCHYARD_FALLBACK: '1' }, true], [[], {}, false]] as const) {
      const server = start(['serve', APP, '--port', '0', ...args], env);
      const url = String((await server.waitFor(listening)).url);
      const answer = await openStream(`${url}/echo?switchyard.transport=sse`);
      if (on) assert.deepEqual([answer.status, answer.type.split(';')[0]], [200, 'text/event-stream'], `fallback on: ${JSON.stringify({ args, env })}`);
      else assert.notEqual(answer.type.split(';')[0], 'text/event-stream', 'off by default');
      server.stop();
    }
  });

  test('options come from SWITCHYARD_* environment variables; a flag wins over its variable', async () => {
    const server = start(['serve', APP, '--port', '0'], { SWITCHYARD_PORT: '1', SWITCHYARD_WS_MAX_SIZE: '10', SWITCHYARD_METRICS_PATH: '/m' });
    const url = String((await server.waitFor(listening)).url);
    assert.doesNotMatch(url, /:1$/);
    assert.equal((await get(`${url}/m`)).status, 200);
    const ws = await openSocket(`${url.replace('http', 'ws')}/echo`);
    const code = new Promise<number>((resolve) => ws.once('close', (c) => resolve(c)));
    ws.send('x'.repeat(11));
    assert.equal(await code, 1009);
    server.child.kill('SIGTERM');
    assert.equal((await server.exited).code, 0);
  });

  test('a failing lifespan startup stops the server with a clear message and a non-zero exit', async () => {
    const server = start(['serve', APP, '--port', '0'], { FIXTURE_FAIL_STARTUP: '1' });
    const { code } = await server.exited;
    assert.notEqual(code, 0);
    assert.match(server.output(), /Lifespan startup failed: database unreachable/);
  });

  test('--workers 2 refuses the in-memory layer and says why', async () => {
    const server = start(['serve', APP, '--port', '0', '--workers', '2'], { CHANNEL_LAYER_URL: 'memory://' });
    const { code } = await server.exited;
    assert.equal(code, 1);
    assert.match(server.output(), /groups? would never reach|in-memory channel layer/);
  });

  test('--workers 2 with Redis: two processes serve one port', async () => {
    const server = start(['serve', APP, '--port', '0', '--workers', '2', '--metrics-path', '/metrics'], { CHANNEL_LAYER_URL: REDIS_URL });
    const ready = await server.waitFor((l) => l.workers === 2 && listening(l), 20000);
    const url = String(ready.url);
    const pids = new Set<string>();
    let requests = 0;
    for (let i = 0; i < 20 && pids.size < 2; i++, requests++) pids.add((await get(`${url}/pid`)).body);
    assert.equal(pids.size, 2, `answers came from ${[...pids].join(', ')}`);
    // One scrape, whichever worker takes it, counts the requests of both.
    const metrics = (await get(`${url}/metrics`)).body;
    assert.match(metrics, new RegExp(`switchyard_http_requests_total\\{status="200"\\} ${requests}\\b`));
    server.child.kill('SIGTERM');
    assert.equal((await server.exited).code, 0);
    // Each log line names its process: the primary's say so, each worker's carry its id and pid.
    const logLines = server.lines.filter((l) => typeof l.level === 'number');
    assert.ok(logLines.length > 4, server.output());
    for (const line of logLines) assert.ok(typeof line.pid === 'number' && line.worker !== undefined, `unlabelled line: ${JSON.stringify(line)}`);
    assert.ok(logLines.some((l) => l.worker === 'primary'));
    assert.equal(new Set(logLines.filter((l) => typeof l.worker === 'number').map((l) => l.pid)).size, 2);
  });

  test('switchyard runworker serves a channel from Redis and stops on SIGTERM', async () => {
    const worker = start(['runworker', 'test/server/fixtures/worker.ts:worker', 'switchyard-test-tasks'], { CHANNEL_LAYER_URL: REDIS_URL });
    await worker.waitFor((l) => l.msg === 'worker listening');
    await import('../../src/redis/index.js');
    const { buildChannelLayer } = await import('../../src/layers/registry.js');
    const layer = buildChannelLayer(REDIS_URL);
    try {
      await layer.send('switchyard-test-tasks', { type: 'task.run', payload: 'thumbnail 42' });
      assert.deepEqual(await worker.waitFor((l) => l.fixture === 'task'), { fixture: 'task', payload: 'thumbnail 42' });
    } finally {
      await layer.close();
    }
    worker.child.kill('SIGTERM');
    assert.equal((await worker.exited).code, 0);
  });

  test('--ssl-keyfile/--ssl-certfile serve https:// and wss://', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-tls-'));
    try {
      const key = join(dir, 'key.pem');
      const cert = join(dir, 'cert.pem');
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1',
        '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
      const server = start(['serve', APP, '--port', '0', '--ssl-keyfile', key, '--ssl-certfile', cert]);
      const url = String((await server.waitFor(listening)).url);
      assert.match(url, /^https:\/\//);
      const { readFileSync } = await import('node:fs');
      const ca = readFileSync(cert);
      assert.equal((await get(`${url}/pid`, { ca })).status, 200);
      const ws = await openSocket(`${url.replace('https', 'wss')}/echo`, { ca });
      const reply = new Promise<string>((resolve) => ws.once('message', (data: Buffer) => resolve(data.toString())));
      ws.send('over tls');
      assert.equal(await reply, 'over tls');
      ws.close();
      server.child.kill('SIGTERM');
      assert.equal((await server.exited).code, 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

guardRedisKeys(REDIS_PREFIX);
