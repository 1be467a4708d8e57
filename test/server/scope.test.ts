// Scopes share what repeats between connections (header pairs, paths, the
// version block) to keep idle connections small; sharing must never let one
// connection see or change another's values.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import WebSocket from 'ws';
import { scopeWith, type Application, type Header, type WebsocketScope } from 'switchyard';
import { ProtocolTypeRouter, URLRouter, path } from '../../src/routing.js';
import { AsyncConsumer } from '../../src/consumers/base.js';
import { serverPool, text, type TestServer } from './helpers.js';

const header = (headers: Header[], name: string): string | undefined => {
  const pair = headers.find(([key]) => text(key) === name);
  return pair === undefined ? undefined : text(pair[1]);
};

/** Serves websocket scopes into `seen`, accepting each connection. */
function recorder(seen: WebsocketScope[]): Application {
  return async (scope, receive, send) => {
    if (scope.type !== 'websocket') throw new Error('websocket only'); // lifespan: unsupported
    seen.push(scope);
    await receive();
    await send({ type: 'websocket.accept' });
    while ((await receive()).type !== 'websocket.disconnect');
  };
}

function open(server: TestServer, path: string, headers: Record<string, string>, clients: WebSocket[]): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}${path}`, { headers });
  clients.push(ws);
  return new Promise((resolve, reject) => { ws.once('open', () => resolve(ws)); ws.once('error', reject); });
}

describe('connection scopes', () => {
  const { serve, clients } = serverPool();

  test('each connection sees its own header values, shared or not', async () => {
    const seen: WebsocketScope[] = [];
    const server = await serve(recorder(seen));
    await open(server, '/a/', { 'User-Agent': 'same-agent', Cookie: 'id=1', 'X-Tag': 'one' }, clients);
    await open(server, '/a/', { 'User-Agent': 'same-agent', Cookie: 'id=2', 'X-Tag': 'two' }, clients);
    const [first, second] = seen as [WebsocketScope, WebsocketScope];
    assert.equal(header(first.headers, 'user-agent'), 'same-agent');
    assert.equal(header(second.headers, 'user-agent'), 'same-agent');
    assert.equal(header(first.headers, 'cookie'), 'id=1');
    assert.equal(header(second.headers, 'cookie'), 'id=2');
    assert.equal(header(first.headers, 'x-tag'), 'one');
    assert.equal(header(second.headers, 'x-tag'), 'two');
    assert.notEqual(header(first.headers, 'sec-websocket-key'), header(second.headers, 'sec-websocket-key'));
    assert.deepEqual(first.subprotocols, []);
    assert.equal(first.asgi.version, '3.0');
  });

  test('a header pair cannot be changed in place, so no connection can alter another', async () => {
    const seen: WebsocketScope[] = [];
    const server = await serve(recorder(seen));
    await open(server, '/b/', { 'X-Shared': 'v' }, clients);
    await open(server, '/b/', { 'X-Shared': 'v' }, clients);
    const pair = seen[0]!.headers.find(([key]) => text(key) === 'x-shared')!;
    assert.throws(() => { (pair as unknown as unknown[])[1] = Buffer.from('changed'); }, TypeError);
    assert.equal(header(seen[1]!.headers, 'x-shared'), 'v');
    // The list itself belongs to the connection: an app may add to it.
    seen[0]!.headers.push([Buffer.from('x-added'), Buffer.from('1')]);
    assert.equal(header(seen[1]!.headers, 'x-added'), undefined);
  });

  test('values stay right after more distinct values than the shared cache holds', async () => {
    const seen: WebsocketScope[] = [];
    const server = await serve(recorder(seen));
    const sockets: WebSocket[] = [];
    for (let batch = 0; batch < 6; batch++) {
      // 6 × 40 connections × 6 distinct headers: over 1,024 pairs, so the cache is emptied on the way.
      const headers = (i: number): Record<string, string> => Object.fromEntries(Array.from({ length: 6 }, (_, h) => [`x-h${h}`, `b${batch}-c${i}-h${h}`]));
      sockets.push(...await Promise.all(Array.from({ length: 40 }, (_, i) => open(server, `/c/${batch}/${i}/`, headers(i), clients))));
    }
    assert.equal(seen.length, 240);
    for (const scope of seen) {
      const [, , batch, i] = scope.path.split('/');
      for (let h = 0; h < 6; h++) assert.equal(header(scope.headers, `x-h${h}`), `b${batch}-c${i}-h${h}`);
      assert.equal(text(scope.raw_path), scope.path);
    }
    for (const ws of sockets) ws.terminate();
  });

  test("a route's positional args are frozen, like Django's tuple, and kwargs are the connection's own", async () => {
    const scopes: WebsocketScope[] = [];
    class Recorder extends AsyncConsumer {
      async websocket_connect() {
        scopes.push(this.scope as WebsocketScope);
        await this.baseSend({ type: 'websocket.accept' });
      }
    }
    const server = await serve(ProtocolTypeRouter({ websocket: URLRouter([path('room/<str:name>/', Recorder.asApp())]) }));
    await open(server, '/room/red/', {}, clients);
    await open(server, '/room/blue/', {}, clients);
    const [red, blue] = scopes.map((s) => s.urlRoute!) as [NonNullable<WebsocketScope['urlRoute']>, NonNullable<WebsocketScope['urlRoute']>];
    assert.deepEqual(red, { args: [], kwargs: { name: 'red' } });
    assert.deepEqual(blue, { args: [], kwargs: { name: 'blue' } });
    assert.throws(() => (red.args as unknown[]).push('x'), TypeError);
    (red.kwargs as Record<string, unknown>).extra = true;
    assert.equal((blue.kwargs as Record<string, unknown>).extra, undefined);
  });
});

describe('scopeWith', () => {
  test('copies the scope with more keys, keeps symbol keys, leaves the original alone', () => {
    const mark = Symbol('mark');
    const scope = { type: 'websocket', path: '/x/', [mark]: 1 } as unknown as WebsocketScope;
    const copy = scopeWith(scope, { user: 'ann', path: '/y/' });
    assert.equal(copy.user, 'ann');
    assert.equal(copy.path, '/y/');
    assert.equal((copy as unknown as Record<symbol, unknown>)[mark], 1);
    assert.equal(scope.path, '/x/');
    assert.equal('user' in scope, false);
  });
});
