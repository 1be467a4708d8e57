// Lifespan events, state shared into connection scopes, and listening on a Unix socket.
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { Application, ReceiveEvent } from 'switchyard';
import { ProtocolTypeRouter } from 'switchyard';
import { LifespanError } from 'switchyard/server';
import { bytes, start } from './helpers.js';

const hello: Application = async (scope, _receive, send) => {
  const state = (scope as { state?: Record<string, unknown> }).state;
  await send({ type: 'http.response.start', status: 200 });
  await send({ type: 'http.response.body', body: bytes(JSON.stringify({ state: state ?? null, server: (scope as { server?: unknown }).server })) });
};

function getJson(options: http.RequestOptions): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    http.get({ ...options, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => resolve(JSON.parse(body) as Record<string, unknown>));
    }).on('error', reject);
  });
}

describe('lifespan', () => {
  test('startup runs before listening, its state reaches every scope (a copy), shutdown runs on close', async () => {
    const events: string[] = [];
    const app: Application = async (scope, receive, send) => {
      if (scope.type !== 'lifespan') return hello(scope, receive, send);
      for (;;) {
        const event = await receive() as ReceiveEvent;
        events.push(event.type);
        if (event.type === 'lifespan.startup') {
          scope.state!.db = 'connected';
          await send({ type: 'lifespan.startup.complete' });
        } else if (event.type === 'lifespan.shutdown') {
          await send({ type: 'lifespan.shutdown.complete' });
          return;
        }
      }
    };
    const server = await start(app);
    assert.deepEqual(events, ['lifespan.startup']);
    const reply = await getJson({ host: '127.0.0.1', port: server.port });
    assert.deepEqual(reply.state, { db: 'connected' });
    await server.close();
    assert.deepEqual(events, ['lifespan.startup', 'lifespan.shutdown']);
  });

  test('lifespan.startup.failed and an exception after reading startup both reject serve() with LifespanError', async () => {
    const failed: Application = async (_scope, receive, send) => {
      await receive();
      await send({ type: 'lifespan.startup.failed', message: 'no database' });
    };
    await assert.rejects(start(failed), (err: unknown) => err instanceof LifespanError && err.code === 'SY_LIFESPAN_FAILED' && /no database/.test(err.message));
    const raising: Application = async (_scope, receive) => {
      await receive();
      throw new Error('migrations missing');
    };
    await assert.rejects(start(raising), /Lifespan startup failed: migrations missing/);
  });

  test('an app without lifespan support (a ProtocolTypeRouter with no lifespan branch) still serves', async () => {
    const server = await start(ProtocolTypeRouter({ http: hello }));
    assert.deepEqual((await getJson({ host: '127.0.0.1', port: server.port })).state, null);
    assert.ok(server.logs.some((l) => /lifespan' protocol appears unsupported/.test(l.msg)));
    await server.close();
  });

  test('lifespan "on" requires support', async () => {
    await assert.rejects(start(ProtocolTypeRouter({ http: hello }), { lifespan: 'on' }), LifespanError);
  });

  test('listens on a Unix socket; scope.server is [path, null]', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-uds-'));
    const socketPath = join(dir, 'app.sock');
    try {
      const server = await start(hello, { unixSocket: socketPath });
      assert.equal(server.url, `http+unix://${encodeURIComponent(socketPath)}`);
      const reply = await getJson({ socketPath, path: '/' });
      assert.deepEqual(reply.server, [socketPath, null]);
      await server.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
