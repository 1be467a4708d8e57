import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, describe, test } from 'node:test';
import type { Application, HttpScope, ReceiveEvent } from 'switchyard';
import { RouteNotFound } from 'switchyard';
import { bytes, deferred, start, text, type TestServer } from './helpers.js';
import { delay, until } from '../helpers/time.js';

interface Reply { status: number; headers: http.IncomingHttpHeaders; body: string }

function request(server: TestServer, path: string, init: { method?: string; body?: string | string[]; headers?: Record<string, string>; agent?: http.Agent } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: server.port, path, method: init.method ?? 'GET', headers: init.headers, agent: init.agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    const parts = init.body === undefined ? [] : Array.isArray(init.body) ? init.body : [init.body];
    for (const part of parts) req.write(part);
    req.end();
  });
}

/** Echoes method, path, query, the body and how many `http.request` events carried it. */
const echo: Application = async (scope, receive, send) => {
  if (scope.type !== 'http') return;
  const chunks: Uint8Array[] = [];
  let events = 0;
  for (;;) {
    const event = await receive() as ReceiveEvent;
    if (event.type !== 'http.request') break;
    events++;
    if (event.body) chunks.push(event.body);
    if (!event.more_body) break;
  }
  const payload = JSON.stringify({
    method: scope.method, path: scope.path, raw: text(scope.raw_path), query: text(scope.query_string), scheme: scope.scheme,
    client: scope.client, root: scope.root_path, body: Buffer.concat(chunks).toString(), events,
    header: text(scope.headers.find(([k]) => text(k) === 'x-test')?.[1]),
  });
  await send({ type: 'http.response.start', status: 200, headers: [[bytes('content-type'), bytes('application/json')], [bytes('set-cookie'), bytes('a=1')], [bytes('set-cookie'), bytes('b=2')]] });
  await send({ type: 'http.response.body', body: bytes(payload) });
};

describe('HTTP bridge', () => {
  const servers: TestServer[] = [];
  after(async () => { await Promise.all(servers.map((s) => s.close())); });
  const serve = async (app: Application, options = {}): Promise<TestServer> => {
    const server = await start(app, options);
    servers.push(server);
    return server;
  };

  test('builds the scope and answers with duplicate headers and a content-length', async () => {
    const server = await serve(echo, { rootPath: '/api' });
    const reply = await request(server, '/caf%C3%A9/x?q=a%20b&n=1', { headers: { 'X-Test': 'yes' } });
    assert.equal(reply.status, 200);
    const body = JSON.parse(reply.body);
    assert.equal(body.method, 'GET');
    assert.equal(body.path, '/café/x');
    assert.equal(body.raw, '/caf%C3%A9/x');
    assert.equal(body.query, 'q=a%20b&n=1');
    assert.equal(body.scheme, 'http');
    assert.equal(body.root, '/api');
    assert.equal(body.client[0], '127.0.0.1');
    assert.equal(body.header, 'yes');
    assert.equal(JSON.parse((await request(server, '/')).body).header, '');
    assert.deepEqual(reply.headers['set-cookie'], ['a=1', 'b=2']);
    assert.equal(reply.headers['content-length'], String(Buffer.byteLength(reply.body)));
    assert.ok(server.logs.some((l) => l.access === 'http' && l.status === 200 && l.path === '/café/x'), 'access log line');
  });

  test('streams a request body in as several http.request events', async () => {
    const server = await serve(echo);
    const done = deferred<Reply>();
    const req = http.request({ host: '127.0.0.1', port: server.port, path: '/upload', method: 'POST', headers: { 'transfer-encoding': 'chunked' } }, (res) => {
      let data = '';
      res.on('data', (c: Buffer) => { data += c.toString(); });
      res.on('end', () => done.resolve({ status: res.statusCode!, headers: res.headers, body: data }));
    });
    req.write('first,');
    await delay(50);
    req.write('second,');
    await delay(50);
    req.end('third');
    const reply = await done.promise;
    const body = JSON.parse(reply.body);
    assert.equal(body.body, 'first,second,third');
    assert.ok(body.events >= 3, `expected >= 3 events, got ${body.events}`);
  });

  test('streams a response out chunk by chunk, each chunk reaching the client before the next is sent', async () => {
    const gate = deferred();
    const server = await serve(async (scope, _receive, send) => {
      await send({ type: 'http.response.start', status: 200, headers: [[bytes('content-type'), bytes('text/plain')]] });
      await send({ type: 'http.response.body', body: bytes('one\n'), more_body: true });
      await gate.promise;
      await send({ type: 'http.response.body', body: bytes('two\n'), more_body: true });
      await send({ type: 'http.response.body' });
    });
    const firstChunk = deferred<string>();
    const ended = deferred<string>();
    http.get({ host: '127.0.0.1', port: server.port, path: '/stream' }, (res) => {
      assert.equal(res.headers['transfer-encoding'], 'chunked');
      let all = '';
      res.on('data', (c: Buffer) => { all += c.toString(); firstChunk.resolve(all); });
      res.on('end', () => ended.resolve(all));
    });
    assert.equal(await firstChunk.promise, 'one\n');
    gate.resolve();
    assert.equal(await ended.promise, 'one\ntwo\n');
  });

  test('an empty first chunk flushes the headers at once (server-sent events)', async () => {
    const gate = deferred();
    const server = await serve(async (_scope, _receive, send) => {
      await send({ type: 'http.response.start', status: 200, headers: [[bytes('content-type'), bytes('text/event-stream')]] });
      await send({ type: 'http.response.body', body: new Uint8Array(0), more_body: true });
      await gate.promise;
      await send({ type: 'http.response.body', body: bytes('data: hi\n\n') });
    });
    const headers = await new Promise<http.IncomingHttpHeaders>((resolve) => {
      http.get({ host: '127.0.0.1', port: server.port, path: '/events' }, (res) => { resolve(res.headers); res.resume(); });
    });
    assert.equal(headers['content-type'], 'text/event-stream');
    gate.resolve();
  });

  test('a 5 MiB upload and a 5 MiB streamed download arrive intact', async () => {
    const { createHash, randomBytes } = await import('node:crypto');
    const server = await serve(async (_scope, receive, send) => {
      const hash = createHash('sha256');
      let size = 0;
      for (;;) {
        const event = await receive() as ReceiveEvent;
        if (event.type !== 'http.request') return;
        hash.update(event.body ?? new Uint8Array());
        size += event.body?.byteLength ?? 0;
        if (!event.more_body) break;
      }
      await send({ type: 'http.response.start', status: 200, headers: [[bytes('x-upload'), bytes(`${size}:${hash.digest('hex')}`)]] });
      const block = Buffer.alloc(64 * 1024, 7);
      for (let i = 0; i < 80; i++) await send({ type: 'http.response.body', body: block, more_body: true });
      await send({ type: 'http.response.body' });
    });
    const upload = randomBytes(5 * 1024 * 1024);
    const result = await new Promise<{ header: string; size: number; allSevens: boolean }>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: server.port, method: 'PUT', path: '/big' }, (res) => {
        let size = 0;
        let allSevens = true;
        res.on('data', (c: Buffer) => { size += c.length; if (allSevens && c.some((b) => b !== 7)) allSevens = false; });
        res.on('end', () => resolve({ header: String(res.headers['x-upload']), size, allSevens }));
      });
      req.on('error', reject);
      req.end(upload);
    });
    assert.equal(result.header, `${upload.length}:${createHash('sha256').update(upload).digest('hex')}`);
    assert.equal(result.size, 80 * 64 * 1024);
    assert.ok(result.allSevens);
  });

  test('keeps the connection alive across requests', async () => {
    const server = await serve(echo);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const ports = new Set<number>();
    for (let i = 0; i < 3; i++) {
      const reply = await request(server, `/k${i}`, { agent });
      ports.add(JSON.parse(reply.body).client[1]);
    }
    agent.destroy();
    assert.equal(ports.size, 1, 'one TCP connection served all three requests');
  });

  test('HEAD gets the headers without a body', async () => {
    const server = await serve(async (_scope, _receive, send) => {
      await send({ type: 'http.response.start', status: 200, headers: [[bytes('content-length'), bytes('5')]] });
      await send({ type: 'http.response.body', body: bytes('hello') });
    });
    const reply = await request(server, '/', { method: 'HEAD' });
    assert.equal(reply.status, 200);
    assert.equal(reply.headers['content-length'], '5');
    assert.equal(reply.body, '');
  });

  test('an app that throws gets a 500 and a logged stack; one that returns without answering too', async () => {
    const server = await serve(async (scope) => {
      if ((scope as HttpScope).path === '/boom') throw new Error('kaboom');
    });
    const boom = await request(server, '/boom');
    assert.equal(boom.status, 500);
    const logged = server.logs.find((l) => l.msg === 'Exception inside ASGI application');
    assert.ok(logged, 'error logged');
    assert.match(String((logged.err as { stack: string }).stack), /kaboom/);
    const silent = await request(server, '/silent');
    assert.equal(silent.status, 500);
    assert.ok(server.logs.some((l) => /returned without sending a response/.test(l.msg)));
  });

  test('RouteNotFound is a 404', async () => {
    const server = await serve(async () => { throw new RouteNotFound('No route found for path /nope'); });
    const reply = await request(server, '/nope');
    assert.equal(reply.status, 404);
    assert.ok(server.logs.some((l) => l.reason === 'No route found for path /nope'));
  });

  test('an app that fails mid-response drops the connection instead of hanging', async () => {
    const server = await serve(async (_scope, _receive, send) => {
      await send({ type: 'http.response.start', status: 200 });
      await send({ type: 'http.response.body', body: bytes('partial'), more_body: true });
      throw new Error('mid-stream');
    });
    await assert.rejects(request(server, '/'), /aborted|socket hang up|ECONNRESET/);
  });

  test('http.disconnect reaches the app when the client goes away mid-response', async () => {
    const disconnected = deferred<string>();
    const server = await serve(async (_scope, receive, send) => {
      await receive(); // the (empty) body
      await send({ type: 'http.response.start', status: 200 });
      await send({ type: 'http.response.body', body: bytes('tick'), more_body: true });
      const event = await receive();
      disconnected.resolve(event.type);
    });
    const socket = net.connect(server.port, '127.0.0.1');
    socket.write('GET /sse HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise((resolve) => socket.once('data', resolve));
    socket.destroy();
    assert.equal(await disconnected.promise, 'http.disconnect');
  });

  test('proxy headers from a trusted peer set client and scheme; ignored otherwise', async () => {
    const trusted = await serve(echo, { proxyHeaders: true, forwardedAllowIps: ['127.0.0.0/8'] });
    const reply = JSON.parse((await request(trusted, '/', { headers: { 'x-forwarded-for': '203.0.113.7, 127.0.0.1', 'x-forwarded-proto': 'https' } })).body);
    assert.deepEqual(reply.client, ['203.0.113.7', 0]);
    assert.equal(reply.scheme, 'https');
    const untrusted = await serve(echo, { proxyHeaders: true, forwardedAllowIps: ['10.0.0.1'] });
    const plain = JSON.parse((await request(untrusted, '/', { headers: { 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'https' } })).body);
    assert.equal(plain.client[0], '127.0.0.1');
    assert.equal(plain.scheme, 'http');
  });

  test('serves Prometheus metrics when asked to', async () => {
    const server = await serve(echo, { metricsPath: '/metrics' });
    await request(server, '/a');
    const reply = await request(server, '/metrics');
    assert.equal(reply.status, 200);
    assert.match(reply.body, /switchyard_http_requests_total\{status="200"\} 1/);
    assert.match(reply.body, /switchyard_ws_connections_open 0/);
    // Layer operations are timed on the default layer.
    const { getChannelLayer } = await import('../../src/layers/registry.js');
    await getChannelLayer()!.groupSend('metrics-test', { type: 'noop' });
    assert.match((await request(server, '/metrics')).body, /switchyard_layer_operation_seconds_count\{op="groupSend"\} [1-9]/);
  });

  test('close() waits for an in-flight response', async () => {
    const server = await start(async (_scope, _receive, send) => {
      await send({ type: 'http.response.start', status: 200 });
      await delay(200);
      await send({ type: 'http.response.body', body: bytes('late but complete') });
    });
    let started = false;
    server.httpServer.once('request', () => { started = true; });
    const pending = request(server, '/slow');
    await until(() => started, 3000, 'the request to reach the server');
    await server.close();
    const reply = await pending;
    assert.equal(reply.body, 'late but complete');
  });
});
