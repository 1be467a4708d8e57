// A RedisSessionStore whose Redis is away fails fast (≤ 2 s) with SessionStoreUnavailableError,
// and the session middleware turns that into a 503 over HTTP and a handshake refused with 503
// over WebSocket, with one log line for many refusals; once Redis is back, sessions work again.
// Before: the store's commands waited in ioredis's offline queue for its 20 retries (10–20 s).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { type Application, ProtocolTypeRouter, WebsocketConsumer } from 'switchyard';
import {
  AuthMiddlewareStack, RedisSessionStore, SessionManager, SessionStoreUnavailableError, getSession, login,
} from 'switchyard/middleware';
import { captureLibraryLogs, type LogLine } from '../helpers/logs.js';
import { closedPort } from '../helpers/ports.js';
import { OwnedRedis } from '../helpers/redis-server.js';
import { delay } from '../helpers/time.js';
import { frameClient } from '../helpers/ws-client.js';
import { serverPool } from '../server/helpers.js';

const PREFIX = `test:session-unavailable:${process.pid}:`;
const owned: OwnedRedis[] = [];
after(async () => { for (const redis of owned) await redis.stop(); });

async function ownedRedis(): Promise<OwnedRedis> {
  const redis = await OwnedRedis.start();
  owned.push(redis);
  return redis;
}

/** How long `promise` takes to settle, and how. */
async function timed(promise: Promise<unknown>): Promise<{ ms: number; error: unknown }> {
  const started = Date.now();
  try {
    await promise;
    return { ms: Date.now() - started, error: undefined };
  } catch (error) {
    return { ms: Date.now() - started, error };
  }
}

describe('RedisSessionStore, Redis away', () => {
  test('load, save and destroy fail within 2 s with SessionStoreUnavailableError once Redis is stopped; work again once it is back', async () => {
    const redis = await ownedRedis();
    const store = new RedisSessionStore({ url: redis.url, prefix: PREFIX });
    try {
      const token = await store.save(null, { a: 1 }, 60);
      await redis.stop();
      for (const call of [() => store.load(token), () => store.save(token, { a: 2 }, 60), () => store.save(null, { b: 1 }, 60), () => store.destroy(token)]) {
        const { ms, error } = await timed(call());
        assert.ok(error instanceof SessionStoreUnavailableError, `a typed error, got ${String(error)}`);
        assert.equal((error as SessionStoreUnavailableError).status, 503);
        assert.ok(ms <= 2000, `failed after ${ms} ms`);
      }
      await redis.startAgain();
      let saved: string | null = null;
      for (const end = Date.now() + 8000; saved === null && Date.now() < end;) {
        saved = await store.save(null, { back: true }, 60).catch(async () => { await delay(100); return null; });
      }
      assert.ok(saved !== null, 'a save works again once Redis is back');
      assert.deepEqual(await store.load(saved), { back: true });
    } finally {
      await store.close();
    }
  });

  test('a store whose Redis never answered (lazyConnect, nothing listening) fails within 2 s too', async () => {
    const store = new RedisSessionStore({ url: `redis://127.0.0.1:${await closedPort()}/0`, prefix: PREFIX, redisOptions: { lazyConnect: true } });
    try {
      for (let i = 0; i < 2; i++) {
        const { ms, error } = await timed(store.load('some-token'));
        assert.ok(error instanceof SessionStoreUnavailableError, `a typed error, got ${String(error)}`);
        assert.ok(ms <= 2000, `failed after ${ms} ms`);
      }
    } finally {
      await store.close();
    }
  });
});

describe('the session middleware over real sockets, Redis away', () => {
  const { serve } = serverPool();

  /** An HTTP request: its status and how long it took. */
  function get(port: number, path: string, cookie = ''): Promise<{ status: number; ms: number; setCookie: string[] }> {
    const started = Date.now();
    return new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path, headers: cookie === '' ? {} : { cookie } }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode!, ms: Date.now() - started, setCookie: res.headers['set-cookie'] ?? [] }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  test('HTTP answers 503 and WebSocket handshakes are refused with 503, fast, with one log line; both work again once Redis is back', async () => {
    const redis = await ownedRedis();
    const store = new RedisSessionStore({ url: redis.url, prefix: PREFIX });
    const sessions = new SessionManager({ store, secrets: ['test-secret'] });
    const loadUser = async (id: string) => ({ id, username: `user${id}`, isAuthenticated: true as const });
    const http: Application = async (scope, _receive, send) => {
      if (scope.path === '/login') await login(scope, await loadUser('7'));
      const visits = ((await getSession(scope).get<number>('visits')) ?? 0) + 1;
      await getSession(scope).set('visits', visits);
      await send({ type: 'http.response.start', status: 200, headers: [] });
      await send({ type: 'http.response.body', body: Buffer.from(String(visits)) });
    };
    class Hello extends WebsocketConsumer {
      override async connect() {
        await this.accept();
        await this.send(`hello ${String((this.scope.user as { username: string }).username)}`);
      }
    }
    const app = ProtocolTypeRouter({
      http: AuthMiddlewareStack(http, { sessions, loadUser }),
      websocket: AuthMiddlewareStack(Hello.asApp(), { sessions, loadUser }),
    });
    const server = await serve(app);
    const logs = captureLibraryLogs('warn');
    try {
      const login = await get(server.port, '/login');
      assert.equal(login.status, 200);
      const cookie = login.setCookie[0]!.split(';')[0]!;
      assert.equal((await get(server.port, '/', cookie)).status, 200);
      const ws = await frameClient(`ws://127.0.0.1:${server.port}/`, { headers: { cookie } });
      await ws.next((f) => f.text === 'hello user7');
      ws.close();

      await redis.stop();
      for (let i = 0; i < 3; i++) {
        const { status, ms } = await get(server.port, '/', cookie);
        assert.equal(status, 503);
        assert.ok(ms <= 2000, `answered after ${ms} ms`);
      }
      const started = Date.now();
      await assert.rejects(frameClient(`ws://127.0.0.1:${server.port}/`, { headers: { cookie } }), /handshake refused: 503/);
      assert.ok(Date.now() - started <= 2000, `refused after ${Date.now() - started} ms`);
      const refusals = logs.lines.filter((l: LogLine) => /session store unavailable/i.test(l.msg));
      assert.equal(refusals.length, 1, `one line for four refusals: ${JSON.stringify(logs.lines)}`);
      assert.equal(refusals[0]!.code, 'SY_SESSION_STORE_UNAVAILABLE');

      await redis.startAgain(); // empty: the old session is gone, so the user is anonymous again
      let status = 0;
      for (const end = Date.now() + 8000; status !== 200 && Date.now() < end; await delay(100)) status = (await get(server.port, '/', cookie)).status;
      assert.equal(status, 200, 'HTTP works again');
      const again = await frameClient(`ws://127.0.0.1:${server.port}/`, { headers: { cookie } });
      await again.next((f) => f.text === 'hello ');
      again.close();
    } finally {
      logs.restore();
      await store.close();
    }
  });
});
