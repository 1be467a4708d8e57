// The ASGI extensions the server offers: the WebSocket denial response
// (`websocket.http.response`) and HTTP response trailers (`http.response.trailers`).
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { describe, test } from 'node:test';
import WebSocket from 'ws';
import type { Application, ReceiveEvent, SendEvent } from 'switchyard';
import { bytes, deferred, serverPool, type TestServer } from './helpers.js';

interface Refusal { status: number; headers: http.IncomingHttpHeaders; body: string }

/** Opens a WebSocket that the server is expected to refuse; resolves with the HTTP response. */
function refused(server: TestServer, path = '/'): Promise<Refusal> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}${path}`);
    ws.on('open', () => reject(new Error('the handshake was accepted')));
    ws.on('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    ws.on('error', () => {}); // ws reports the refusal as an error too
  });
}

/** A websocket app that answers the handshake with `events`, then records what it receives and what its sends did. */
function denying(events: SendEvent[]): { app: Application; gone: Promise<ReceiveEvent>; failures: string[] } {
  const gone = deferred<ReceiveEvent>();
  const failures: string[] = [];
  const app: Application = async (scope, receive, send) => {
    if (scope.type !== 'websocket') throw new Error('websocket only');
    await receive();
    for (const event of events) await send(event).catch((error: Error) => { failures.push(error.message); });
    gone.resolve(await receive() as ReceiveEvent);
  };
  return { app, gone: gone.promise, failures };
}

describe('WebSocket denial response', () => {
  const { serve } = serverPool();

  test('the scope offers the extension; the app answers with its own status, headers and streamed body', async () => {
    let offered: unknown;
    const { app, gone } = denying([
      { type: 'websocket.http.response.start', status: 401, headers: [[bytes('www-authenticate'), bytes('Bearer realm="chat"')], [bytes('content-type'), bytes('text/plain')]] },
      { type: 'websocket.http.response.body', body: bytes('sign in '), more_body: true },
      { type: 'websocket.http.response.body', body: bytes('first') },
    ]);
    const server = await serve((scope, receive, send) => {
      offered = scope.extensions;
      return app(scope, receive, send);
    }, { accessLog: true });
    const reply = await refused(server, '/private/');
    assert.equal(reply.status, 401);
    assert.equal(reply.headers['www-authenticate'], 'Bearer realm="chat"');
    assert.equal(reply.body, 'sign in first');
    assert.equal(reply.headers['content-length'], String('sign in first'.length));
    assert.deepEqual(offered, { 'websocket.http.response': {}, 'websocket.send.shared_frames': {} });
    assert.equal((await gone).type, 'websocket.disconnect');
    assert.ok(server.logs.some((l) => l.access === 'websocket' && l.status === 401), 'access log shows the status');
  });

  test('misuse is a protocol error at the call: body first, accept or close midway, a header that would split the response', async () => {
    const start: SendEvent = { type: 'websocket.http.response.start', status: 403 };
    const bodyFirst = denying([{ type: 'websocket.http.response.body', body: bytes('x') }, { type: 'websocket.close' }]);
    const acceptMidway = denying([start, { type: 'websocket.accept' }, { type: 'websocket.close' }, { type: 'websocket.http.response.body', body: bytes('no') }]);
    const injected = denying([
      { type: 'websocket.http.response.start', status: 400, headers: [[bytes('x-bad'), bytes('a\r\nset-cookie: evil=1')]] },
      { type: 'websocket.close' },
    ]);
    const badStatus = denying([{ type: 'websocket.http.response.start', status: 101 }, { type: 'websocket.close' }]);

    const first = await serve(bodyFirst.app);
    assert.equal((await refused(first)).status, 403);
    assert.match(bodyFirst.failures.join(), /before 'websocket.http.response.start'/);

    const second = await serve(acceptMidway.app);
    const reply = await refused(second);
    assert.deepEqual([reply.status, reply.body], [403, 'no']);
    assert.equal(acceptMidway.failures.length, 2);
    assert.match(acceptMidway.failures[0]!, /'websocket.accept' sent during a denial response/);
    assert.match(acceptMidway.failures[1]!, /'websocket.close' sent during a denial response/);

    const third = await serve(injected.app);
    const plain = await refused(third);
    assert.equal(plain.status, 403);
    assert.equal(plain.headers['set-cookie'], undefined);
    assert.match(injected.failures.join(), /Invalid header/);

    const fourth = await serve(badStatus.app);
    assert.equal((await refused(fourth)).status, 403);
    assert.match(badStatus.failures.join(), /status from 200 to 599/);
  });
});

/** Sends a raw HTTP request and returns the raw response bytes (to see the chunked framing and trailers). */
function rawRequest(server: TestServer, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(server.port, '127.0.0.1', () => socket.end(request));
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.on('error', reject);
  });
}

describe('HTTP response trailers', () => {
  const { serve } = serverPool();
  const withTrailers: Application = async (scope, receive, send) => {
    if (scope.type !== 'http') return;
    await receive();
    await send({ type: 'http.response.start', status: 200, headers: [[bytes('content-type'), bytes('text/plain')]], trailers: true });
    await send({ type: 'http.response.body', body: bytes('hello '), more_body: true });
    await send({ type: 'http.response.body', body: bytes('world') });
    await send({ type: 'http.response.trailers', headers: [[bytes('x-checksum'), bytes('abc123')]], more_trailers: true });
    await send({ type: 'http.response.trailers', headers: [[bytes('x-rows'), bytes('2')]] });
  };

  test('a response started with trailers: true goes out chunked, its trailers after the body', async () => {
    const server = await serve(withTrailers);
    const reply = await new Promise<{ body: string; trailers: NodeJS.Dict<string> ; chunked: string | undefined }>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: server.port, path: '/' }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => { body += c.toString(); });
        res.on('end', () => resolve({ body, trailers: res.trailers, chunked: res.headers['transfer-encoding'] }));
      }).on('error', reject);
    });
    assert.deepEqual(reply, { body: 'hello world', trailers: { 'x-checksum': 'abc123', 'x-rows': '2' }, chunked: 'chunked' });
  });

  test('HTTP/1.0 clients get the body without trailers (no chunked encoding there)', async () => {
    const server = await serve(withTrailers);
    const raw = await rawRequest(server, 'GET / HTTP/1.0\r\nHost: x\r\n\r\n');
    assert.match(raw, /^HTTP\/1\.1 200/);
    assert.ok(raw.endsWith('hello world'), raw);
    assert.doesNotMatch(raw, /x-checksum/i);
  });

  test('trailers without trailers: true, or before the body ends, are protocol errors', async () => {
    const failures: string[] = [];
    const server = await serve(async (scope, receive, send) => {
      if (scope.type !== 'http') return;
      await receive();
      const early = scope.path === '/early';
      await send({ type: 'http.response.start', status: 200, trailers: early });
      if (early) await send({ type: 'http.response.body', body: bytes('part'), more_body: true });
      await send({ type: 'http.response.trailers', headers: [] }).catch((error: Error) => { failures.push(error.message); });
      await send({ type: 'http.response.body', body: bytes('end') });
      if (early) await send({ type: 'http.response.trailers' });
    });
    const plain = await new Promise<string>((resolve) => http.get(`${server.url}/plain`, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => resolve(body));
    }));
    const early = await new Promise<string>((resolve) => http.get(`${server.url}/early`, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => resolve(body));
    }));
    assert.deepEqual([plain, early], ['end', 'partend']);
    assert.match(failures[0]!, /without 'trailers: true'/);
    assert.match(failures[1]!, /before the body completed/);
  });

  test('a trailer that could split the response is refused at the call; the client sees a dropped response, not a complete one', async () => {
    const failures: string[] = [];
    const server = await serve(async (scope, receive, send) => {
      if (scope.type !== 'http') return;
      await receive();
      await send({ type: 'http.response.start', status: 200, trailers: true });
      await send({ type: 'http.response.body', body: bytes('data') });
      await send({ type: 'http.response.trailers', headers: [[bytes('x-sum'), bytes('1\r\nx-evil: 1')]] })
        .catch((error: Error) => { failures.push(error.message); });
    });
    const outcome = await new Promise<string>((resolve) => {
      http.get(`${server.url}/`, (res) => {
        res.on('data', () => {});
        res.on('end', () => resolve(`complete ${JSON.stringify(res.trailers)}`));
        res.on('error', () => resolve('dropped'));
        res.on('aborted', () => resolve('dropped'));
      }).on('error', () => resolve('dropped'));
    });
    assert.equal(outcome, 'dropped');
    assert.match(failures[0]!, /Invalid trailer/);
  });
});
