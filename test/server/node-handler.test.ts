// Express as the http branch of a ProtocolTypeRouter, on the same port as a
// WebSocket route served by a Switchyard consumer.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, describe, test } from 'node:test';
import express from 'express';
import WebSocket from 'ws';
import { ProtocolTypeRouter, URLRouter, WebsocketConsumer, path, type Application } from 'switchyard';
import { nodeHandler, scopeOf } from 'switchyard/server';
import { HttpCommunicator } from 'switchyard/testing';
import { start, type TestServer } from './helpers.js';

class Shout extends WebsocketConsumer {
  override async connect(): Promise<void> { await this.accept(); }
  override async receive(data: string | Uint8Array): Promise<void> { await this.send(String(data).toUpperCase()); }
}

function request(port: number, method: string, url: string, body?: string): Promise<{ status: number; body: string; type?: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: url, headers: body ? { 'content-type': 'application/json' } : {} }, (res) => {
      let data = '';
      res.on('data', (c: Buffer) => { data += c.toString(); });
      res.on('end', () => resolve({ status: res.statusCode!, body: data, type: res.headers['content-type'] }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('nodeHandler: Express beside Switchyard consumers', () => {
  let server: TestServer;
  after(async () => { await server?.close(); });

  test('routes, JSON bodies, errors and 404 go through Express; /ws/ goes to the consumer on the same port', async () => {
    const web = express();
    web.use(express.json());
    web.get('/health', (_req, res) => { res.json({ ok: true }); });
    web.post('/echo', (req, res) => { res.json({ got: req.body, path: scopeOf(req)?.path, tagged: scopeOf(req)?.tag }); });
    web.get('/fail', () => { throw new Error('express route failed'); });
    // Middleware on the ASGI side enriches the scope; Express reads it through scopeOf().
    const tagging = (inner: Application): Application => (scope, receive, send) => inner({ ...scope, tag: 'from-middleware' } as typeof scope, receive, send);
    const application = ProtocolTypeRouter({
      http: tagging(nodeHandler(web)),
      websocket: URLRouter([path('ws/shout/', Shout.asApp())]),
    });
    server = await start(application);

    assert.deepEqual(await request(server.port, 'GET', '/health'), { status: 200, body: '{"ok":true}', type: 'application/json; charset=utf-8' });
    const echoed = await request(server.port, 'POST', '/echo', JSON.stringify({ a: [1, 2] }));
    assert.deepEqual(JSON.parse(echoed.body), { got: { a: [1, 2] }, path: '/echo', tagged: 'from-middleware' });
    assert.equal((await request(server.port, 'GET', '/fail')).status, 500);
    assert.equal((await request(server.port, 'GET', '/nothing-here')).status, 404);

    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/ws/shout/`);
    await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
    const reply = new Promise<string>((resolve) => ws.once('message', (data: Buffer) => resolve(data.toString())));
    ws.send('hello express');
    assert.equal(await reply, 'HELLO EXPRESS');
    ws.close();
    const accessed = server.logs.filter((l) => l.access === 'http').map((l) => `${l.method} ${l.path} ${l.status}`);
    assert.deepEqual(accessed, ['GET /health 200', 'POST /echo 200', 'GET /fail 500', 'GET /nothing-here 404']);
  });

  test('without the Switchyard server (HttpCommunicator), the handler runs on an emulated request and response', async () => {
    const web = express();
    web.use(express.json());
    web.post('/echo', (req, res) => { res.status(201).json({ got: req.body, query: req.query.q, path: scopeOf(req)?.path }); });
    web.get('/stream', (_req, res) => {
      res.setHeader('content-type', 'text/plain');
      res.write('one,');
      setTimeout(() => res.end('two'), 10);
    });
    web.get('/fail', () => { throw new Error('express route failed'); });
    const app = nodeHandler(web);

    const echo = await new HttpCommunicator(app, 'POST', '/echo?q=1', {
      body: JSON.stringify({ a: 1 }), headers: { 'content-type': 'application/json' },
    }).getResponse();
    assert.equal(echo.status, 201);
    assert.deepEqual(JSON.parse(echo.body.toString()), { got: { a: 1 }, query: '1', path: '/echo' });
    const names = echo.headers.map(([k]) => Buffer.from(k).toString());
    assert.ok(names.includes('content-type') && !names.includes('connection'), names.join(','));

    const streamed = await new HttpCommunicator(app, 'GET', '/stream').getResponse();
    assert.equal(streamed.body.toString(), 'one,two');
    assert.equal((await new HttpCommunicator(app, 'GET', '/missing').getResponse()).status, 404);
    await assert.rejects(new HttpCommunicator(app, 'GET', '/fail').getResponse(), /express route failed/);
  });
});
