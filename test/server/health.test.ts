// /livez and /readyz in a real `switchyard serve`: a Redis that does not answer
// at startup is a warning naming the URL, readiness says 503 until it answers.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, describe, test } from 'node:test';
import { listening, run, type Running } from '../helpers/processes.js';
import { delay } from '../helpers/time.js';
import { closedPort } from '../helpers/ports.js';

const APP = 'test/server/fixtures/app.ts:app';

async function status(url: string): Promise<{ status: number; body: string }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return { status: response.status, body: await response.text() };
}

/** A TCP relay to the shared Redis, opened on `port` only when asked: "Redis comes up later". */
async function relayToRedis(port: number): Promise<net.Server> {
  const relay = net.createServer((client) => {
    const upstream = net.connect(6379, '127.0.0.1');
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => relay.listen(port, '127.0.0.1', resolve));
  return relay;
}

describe('health endpoints (processes)', () => {
  const running: Running[] = [];
  const cleanups: Array<() => void> = [];
  const start = (args: string[], env: Record<string, string> = {}): Running => {
    const r = run(args, env);
    running.push(r);
    return r;
  };
  after(() => {
    for (const r of running) r.stop();
    for (const cleanup of cleanups) cleanup();
  });

  test('Redis away at startup: serving anyway with a warning naming the URL; /livez 200, /readyz 503 until Redis answers, then 200', async () => {
    const port = await closedPort();
    const layerUrl = `redis://127.0.0.1:${port}/0?prefix=sy-health-test-`;
    const server = start(['serve', APP, '--port', '0'], { CHANNEL_LAYER_URL: layerUrl });
    const url = String((await server.waitFor(listening)).url);
    const warning = await server.waitFor((l) => l.level === 40 && typeof l.msg === 'string' && l.msg.includes('does not answer'));
    assert.match(String(warning.msg), new RegExp(`^CHANNEL_LAYER_URL=redis://127\\.0\\.0\\.1:${port}/0\\?prefix=sy-health-test- does not answer: .*serving anyway, /readyz answers 503 until it does`));
    assert.equal((await status(`${url}/livez`)).status, 200);
    const notReady = await status(`${url}/readyz`);
    assert.equal(notReady.status, 503);
    assert.match(notReady.body, /does not answer/);
    assert.equal((await status(`${url}/pid`)).status, 200, 'the app still serves');

    const relay = await relayToRedis(port);
    cleanups.push(() => relay.close());
    const deadline = Date.now() + 15000;
    let ready = await status(`${url}/readyz`);
    while (ready.status !== 200 && Date.now() < deadline) {
      await delay(250);
      ready = await status(`${url}/readyz`);
    }
    assert.deepEqual(ready, { status: 200, body: '{"status":"ready"}\n' });
    await server.waitFor((l) => l.msg === 'Channel layer connected: ready');
    server.child.kill('SIGTERM');
    assert.equal((await server.exited).code, 0);
  });

  test('the in-memory layer is ready at once; --readiness-path off hands /readyz to the app', async () => {
    const server = start(['serve', APP, '--port', '0'], { CHANNEL_LAYER_URL: 'memory://' });
    const url = String((await server.waitFor(listening)).url);
    assert.deepEqual(await status(`${url}/readyz`), { status: 200, body: '{"status":"ready"}\n' });
    assert.deepEqual(await status(`${url}/livez`), { status: 200, body: '{"status":"alive"}\n' });
    server.child.kill('SIGTERM');
    await server.exited;

    const off = start(['serve', APP, '--port', '0', '--readiness-path', 'off', '--liveness-path', '/alive'], { CHANNEL_LAYER_URL: 'memory://' });
    const offUrl = String((await off.waitFor(listening)).url);
    assert.deepEqual(await status(`${offUrl}/readyz`), { status: 200, body: 'slow and complete' }, 'the fixture app answers');
    assert.deepEqual(await status(`${offUrl}/livez`), { status: 200, body: 'slow and complete' });
    assert.deepEqual(await status(`${offUrl}/alive`), { status: 200, body: '{"status":"alive"}\n' });
    off.child.kill('SIGTERM');
    assert.equal((await off.exited).code, 0);
  });
});
