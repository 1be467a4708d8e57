import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, test } from 'node:test';
import WebSocket from 'ws';
import { type Application, type ReceiveEvent, type Send, type WebsocketScope, RouteNotFound } from 'switchyard';
import { acceptingApp, bytes, deferred, serverPool, text, type TestServer } from './helpers.js';
import { until } from '../helpers/time.js';

/** Opens a client and resolves once open, or with the HTTP status of a refused handshake. */
function connect(url: string, protocols: string[] = [], options: WebSocket.ClientOptions = {}): Promise<{ ws: WebSocket; upgrade: IncomingMessage } | { status: number }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, options);
    let upgrade: IncomingMessage | undefined;
    ws.on('upgrade', (res) => { upgrade = res; });
    ws.on('open', () => resolve({ ws, upgrade: upgrade! }));
    ws.on('unexpected-response', (_req, res) => { resolve({ status: res.statusCode! }); res.resume(); });
    ws.on('error', reject);
  });
}

async function open(url: string, protocols: string[] = [], options: WebSocket.ClientOptions = {}): Promise<WebSocket> {
  const result = await connect(url, protocols, options);
  if (!('ws' in result)) throw new Error(`handshake refused with ${result.status}`);
  return result.ws;
}

const closed = (ws: WebSocket): Promise<{ code: number; reason: string }> =>
  new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
const nextMessage = (ws: WebSocket): Promise<{ data: Buffer; isBinary: boolean }> =>
  new Promise((resolve) => ws.once('message', (data: Buffer, isBinary) => resolve({ data, isBinary })));

describe('WebSocket bridge', () => {
  const { serve, clients } = serverPool();
  const wsUrl = (server: TestServer, path: string): string => `${server.url.replace('http', 'ws')}${path}`;

  test('accepts with a subprotocol and extra headers, gives the full scope, echoes text and binary', async () => {
    let seen: WebsocketScope | undefined;
    const events: ReceiveEvent[] = [];
    const gone = deferred();
    const server = await serve(async (scope, receive, send) => {
      if (scope.type !== 'websocket') return;
      seen = scope;
      assert.equal((await receive()).type, 'websocket.connect');
      await send({ type: 'websocket.accept', subprotocol: 'chat.v2', headers: [[bytes('x-served-by'), bytes('switchyard')]] });
      for (;;) {
        const event = await receive() as ReceiveEvent;
        events.push(event);
        if (event.type === 'websocket.disconnect') return gone.resolve();
        if (event.type !== 'websocket.receive') continue;
        if (event.text != null) await send({ type: 'websocket.send', text: `echo:${event.text}` });
        else await send({ type: 'websocket.send', bytes: event.bytes! });
      }
    });
    const result = await connect(wsUrl(server, '/ws/room/caf%C3%A9/?token=abc'), ['chat.v1', 'chat.v2'], { headers: { cookie: 'sid=1' } });
    assert.ok('ws' in result);
    const { ws, upgrade } = result;
    clients.push(ws);
    assert.equal(ws.protocol, 'chat.v2');
    assert.equal(upgrade.headers['x-served-by'], 'switchyard');
    assert.equal(seen!.path, '/ws/room/café/');
    assert.equal(text(seen!.query_string), 'token=abc');
    assert.equal(seen!.scheme, 'ws');
    assert.deepEqual(seen!.subprotocols, ['chat.v1', 'chat.v2']);
    assert.equal(seen!.client![0], '127.0.0.1');
    assert.ok(seen!.headers.some(([k, v]) => text(k) === 'cookie' && text(v) === 'sid=1'));
    ws.send('hello');
    assert.equal((await nextMessage(ws)).data.toString(), 'echo:hello');
    ws.send(Buffer.from([1, 2, 3]));
    const binary = await nextMessage(ws);
    assert.equal(binary.isBinary, true);
    assert.deepEqual([...binary.data], [1, 2, 3]);
    ws.close(4001, 'bye now');
    await gone.promise;
    const disconnects = events.filter((e) => e.type === 'websocket.disconnect');
    assert.deepEqual(disconnects, [{ type: 'websocket.disconnect', code: 4001, reason: 'bye now' }]);
    assert.ok(server.logs.some((l) => l.access === 'websocket' && l.code === 4001 && l.path === '/ws/room/café/'), 'access log line');
  });

  test('close before accept answers the handshake with 403; the app still gets one disconnect', async () => {
    const disconnect = deferred<ReceiveEvent>();
    const server = await serve(async (scope, receive, send) => {
      if (scope.type !== 'websocket') return;
      await receive();
      await send({ type: 'websocket.close', code: 4003 });
      disconnect.resolve(await receive() as ReceiveEvent);
    });
    const result = await connect(wsUrl(server, '/private/'));
    assert.deepEqual(result, { status: 403 });
    assert.equal((await disconnect.promise).type, 'websocket.disconnect');
  });

  test('no route: 403 with the reason logged; an exception during the handshake: 500', async () => {
    const server = await serve(async (scope) => {
      if (scope.type !== 'websocket') return;
      if (scope.path === '/boom/') throw new Error('handshake bug');
      throw new RouteNotFound(`No route found for path '${scope.path.slice(1)}'.`);
    });
    assert.deepEqual(await connect(wsUrl(server, '/missing/')), { status: 403 });
    assert.ok(server.logs.some((l) => l.reason === "No route found for path 'missing/'."));
    assert.deepEqual(await connect(wsUrl(server, '/boom/')), { status: 500 });
    assert.ok(server.logs.some((l) => l.msg.includes('during the WebSocket handshake') && String((l.err as { message: string }).message) === 'handshake bug'));
  });

  test('websocket.send before accept is a protocol error (500)', async () => {
    const server = await serve(async (scope, receive, send) => {
      if (scope.type !== 'websocket') return;
      await receive();
      await send({ type: 'websocket.send', text: 'too early' });
    });
    assert.deepEqual(await connect(wsUrl(server, '/')), { status: 500 });
    assert.ok(server.logs.some((l) => /before 'websocket.accept'/.test(String((l.err as { message?: string } | undefined)?.message))));
  });

  test('an exception after accept closes with 1011; returning after accept closes with 1000', async () => {
    const server = await serve(async (scope, receive, send) => {
      if (scope.type !== 'websocket') return;
      await receive();
      await send({ type: 'websocket.accept' });
      const event = await receive() as ReceiveEvent;
      if (event.type === 'websocket.receive' && event.text === 'crash') throw new Error('consumer bug');
    });
    const a = await open(wsUrl(server, '/'));
    clients.push(a);
    const aClosed = closed(a);
    a.send('crash');
    assert.equal((await aClosed).code, 1011);
    const b = await open(wsUrl(server, '/'));
    clients.push(b);
    const bClosed = closed(b);
    b.send('fine');
    assert.equal((await bClosed).code, 1000);
  });

  test('the server closes with the code and reason the app gives; sends after the close are dropped', async () => {
    const disconnect = deferred<ReceiveEvent>();
    const server = await serve(async (scope, receive, send) => {
      if (scope.type !== 'websocket') return;
      await receive();
      await send({ type: 'websocket.accept' });
      await send({ type: 'websocket.send', text: '{"before":"close"}' });
      await send({ type: 'websocket.close', code: 4321, reason: 'done here' });
      await send({ type: 'websocket.send', text: 'after close: dropped' });
      disconnect.resolve(await receive() as ReceiveEvent);
    });
    const ws = new WebSocket(wsUrl(server, '/'));
    clients.push(ws);
    const messages: Array<{ data: string; binary: boolean }> = [];
    ws.on('message', (data: Buffer, binary) => messages.push({ data: data.toString(), binary }));
    const result = await closed(ws);
    assert.deepEqual(result, { code: 4321, reason: 'done here' });
    assert.deepEqual(messages, [{ data: '{"before":"close"}', binary: false }]);
    assert.deepEqual(await disconnect.promise, { type: 'websocket.disconnect', code: 4321, reason: 'done here' });
  });

  test('frames sent in one turn (written together) arrive complete and in order, to every socket, before a close', async () => {
    const sockets: Send[] = [];
    const ready = deferred();
    const server = await serve(async (scope, receive, send) => {
      if (scope.type !== 'websocket') return;
      await receive();
      await send({ type: 'websocket.accept' });
      sockets.push(send);
      if (sockets.length === 2) ready.resolve();
      await receive();
    });
    const a = new WebSocket(wsUrl(server, '/'));
    const b = new WebSocket(wsUrl(server, '/'));
    clients.push(a, b);
    const got: [string[], string[]] = [[], []];
    a.on('message', (data: Buffer) => got[0].push(data.toString()));
    b.on('message', (data: Buffer) => got[1].push(data.toString()));
    const ends = [closed(a), closed(b)];
    await ready.promise;
    // One synchronous stretch: 1,000 frames to each socket, interleaved, then a close.
    for (let i = 0; i < 1000; i++) for (const send of sockets) void send({ type: 'websocket.send', text: `frame ${i}` });
    for (const send of sockets) void send({ type: 'websocket.close', code: 4000 });
    assert.deepEqual((await Promise.all(ends)).map((e) => e.code), [4000, 4000]);
    const expected = Array.from({ length: 1000 }, (_, i) => `frame ${i}`);
    assert.deepEqual(got, [expected, expected]);
  });

  test('text frames of every length class arrive intact and in order, repeated (a shared frame) or not, binary among them, with or without deflate', async () => {
    const sizes = [0, 1, 125, 126, 1000, 65535, 65536, 200_000];
    const payload = (n: number): Buffer => Buffer.from('é'.repeat(Math.floor(n / 2)) + 'x'.repeat(n % 2));
    for (const deflate of [false, true]) {
      const server = await serve(async (scope, receive, send) => {
        if (scope.type !== 'websocket') return;
        await receive();
        await send({ type: 'websocket.accept' });
        for (const n of sizes) {
          const text = payload(n).toString();
          // The same text twice in a row (the second is the frame kept from the first), a binary frame between.
          await send({ type: 'websocket.send', text });
          await send({ type: 'websocket.send', text });
          await send({ type: 'websocket.send', bytes: Buffer.from(`binary ${n}`) });
          await send({ type: 'websocket.send', text: `plain ${n}` });
        }
        await send({ type: 'websocket.close', code: 4001 });
        await receive();
      }, { wsPerMessageDeflate: deflate });
      const ws = new WebSocket(wsUrl(server, '/'), { perMessageDeflate: deflate });
      clients.push(ws);
      const got: string[] = [];
      ws.on('message', (data: Buffer, binary) => got.push(binary ? `bytes: ${data.toString()}` : data.toString()));
      assert.equal((await closed(ws)).code, 4001);
      assert.equal(ws.extensions.includes('permessage-deflate'), deflate);
      assert.deepEqual(got, sizes.flatMap((n) => [payload(n).toString(), payload(n).toString(), `bytes: binary ${n}`, `plain ${n}`]));
    }
  });

  test('invalid UTF-8 in a text frame closes with 1007', async () => {
    const disconnect = deferred<ReceiveEvent>();
    const server = await serve(acceptingApp((event) => event.type === 'websocket.disconnect' && disconnect.resolve(event)));
    const ws = await open(wsUrl(server, '/'));
    clients.push(ws);
    const result = closed(ws);
    ws.send(Buffer.from([0xc3, 0x28]), { binary: false });
    assert.equal((await result).code, 1007);
    assert.equal((await disconnect.promise as { code: number }).code, 1007);
  });

  test('metrics count connects, disconnects by code, messages and bytes', async () => {
    const gone = deferred();
    const server = await serve(acceptingApp(async (event, send) => {
      if (event.type === 'websocket.disconnect') gone.resolve();
      if (event.type === 'websocket.receive') await send({ type: 'websocket.send', text: `${event.text}!` });
    }), { metricsPath: '/metrics' });
    const ws = await open(wsUrl(server, '/'));
    ws.send('abc');
    await nextMessage(ws);
    ws.close(4002);
    await gone.promise;
    const metrics = await server.metrics!.registry.metrics();
    assert.match(metrics, /switchyard_ws_connects_total 1/);
    assert.match(metrics, /switchyard_ws_disconnects_total\{code="4002"\} 1/);
    assert.match(metrics, /switchyard_ws_messages_total\{direction="in"\} 1/);
    assert.match(metrics, /switchyard_ws_bytes_total\{direction="out"\} 4/);
    assert.match(metrics, /switchyard_ws_connections_open 0/);
  });

  test('permessage-deflate is negotiated only when enabled; an over-long close reason is cut to 123 bytes', async () => {
    const app: Application = async (scope, receive, send) => {
      if (scope.type !== 'websocket') return;
      await receive();
      await send({ type: 'websocket.accept' });
      await receive();
      await send({ type: 'websocket.close', code: 4000, reason: 'é'.repeat(100) });
    };
    const plain = await open(wsUrl(await serve(app), '/'));
    assert.equal(plain.extensions, '');
    const compressed = await open(wsUrl(await serve(app, { wsPerMessageDeflate: true }), '/'));
    assert.match(compressed.extensions, /permessage-deflate/);
    const result = closed(compressed);
    compressed.send('close please');
    const { code, reason } = await result;
    assert.equal(code, 4000);
    assert.equal(reason, 'é'.repeat(61));
    plain.terminate();
  });

  test('handshake not answered in time is refused', async () => {
    const server = await serve(async (scope, receive) => {
      if (scope.type !== 'websocket') return;
      await receive();
      await new Promise(() => {}); // never decides
    }, { wsConnectTimeout: 0.2 });
    assert.deepEqual(await connect(wsUrl(server, '/')), { status: 403 });
    await until(() => server.logs.some((l) => /not answered in time/.test(l.msg)), 3000, 'the "not answered in time" log line');
  });
});
