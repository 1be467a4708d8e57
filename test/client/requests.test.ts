// Request/reply end to end: a real server, the reconnecting client in Node (typed by the
// consumer class, importing only its type), a TCP proxy that cuts the link mid-request.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { z } from 'zod';
import { InMemoryChannelLayer, type RequestHandlers, TypedJsonConsumer, configureChannelLayers, defineProtocol, resetChannelLayers } from 'switchyard';
import { ReconnectingWebsocket, RequestError } from 'switchyard/client';
import { serve, type Server } from 'switchyard/server';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { delay, until } from '../helpers/time.js';

const protocol = defineProtocol({
  messages: { say: z.object({ text: z.string() }) },
  events: { said: z.object({ text: z.string() }) },
  requests: {
    add: { input: z.object({ a: z.number(), b: z.number() }), output: z.object({ sum: z.number() }) },
    wait: { input: z.object({ ms: z.number(), key: z.string() }), output: z.number() },
    crash: z.object({}),
  },
  frames: { said: z.object({ text: z.string() }) },
});

/** How many times each `wait` key ran on the server (a retried request runs again). */
const runs = new Map<string, number>();

class Calc extends TypedJsonConsumer<typeof protocol> {
  static override protocol = protocol;
  static override groups = ['calc'];
  override async receiveJson(message: { text: string }) {
    await this.groupSend('calc', { type: 'said', text: message.text });
  }
  async said(event: { text: string }) { await this.sendJson({ type: 'said', text: event.text }); }
  override requests: RequestHandlers<typeof protocol> = {
    add: ({ a, b }) => ({ sum: a + b }),
    wait: async ({ ms, key }) => {
      runs.set(key, (runs.get(key) ?? 0) + 1);
      await delay(ms);
      return runs.get(key)!;
    },
    crash: () => { throw new Error('secret internals'); },
  };
}

let server: Server;
let proxy: TcpProxy;

before(async () => {
  configureChannelLayers({ default: new InMemoryChannelLayer() });
  server = await serve(Calc.asApp(), { host: '127.0.0.1', port: 0, logLevel: 'silent' });
  proxy = await TcpProxy.start({ target: { port: Number(new URL(server.url).port) } });
});
after(async () => {
  await proxy.close();
  await server.close();
  resetChannelLayers();
});

function connect() {
  return new ReconnectingWebsocket<typeof Calc>(`ws://127.0.0.1:${proxy.port}/ws/`, { WebSocket, minDelay: 50, maxDelay: 200 });
}

test('request() resolves with the typed reply; replies never reach the message event; broadcasts still do', async () => {
  const client = connect();
  const frames: unknown[] = [];
  client.on('message', ({ data }) => frames.push(data));
  // Made before the link is open: goes out when it opens.
  const first = client.request('add', { a: 1, b: 2 });
  const { sum } = await first;
  assert.equal(sum, 3);
  const many = await Promise.all(Array.from({ length: 30 }, (_, i) => {
    if (i % 3 === 0) client.sendJson({ type: 'say', text: `line ${i}` });
    return client.request('add', { a: i, b: 1 });
  }));
  assert.deepEqual(many.map((r) => r.sum), Array.from({ length: 30 }, (_, i) => i + 1));
  await until(() => frames.length === 10, 3000, 'the ten broadcasts');
  assert.deepEqual(frames, Array.from({ length: 10 }, (_, i) => ({ type: 'said', text: `line ${i * 3}` })));
  client.close();
});

test('server errors reject with a RequestError and its code; the link stays up', async () => {
  const client = connect();
  await assert.rejects(client.request('crash', {}), (error: RequestError) => {
    assert.ok(error instanceof RequestError);
    assert.equal(error.reason, 'handler_error');
    assert.equal(error.message, 'The request failed');
    return true;
  });
  await assert.rejects(client.request('add', { a: 1, b: 'two' } as never), (error: RequestError) => {
    assert.equal(error.reason, 'invalid_message');
    assert.deepEqual(error.issues?.map((i) => i.path), ['b']);
    return true;
  });
  await assert.rejects(client.request('nope' as never, {} as never), { reason: 'unknown_request', code: 'SY_REQUEST_FAILED' });
  assert.equal(client.state, 'open');
  assert.deepEqual(await client.request('add', { a: 2, b: 2 }), { sum: 4 });
  client.close();
});

test('no reply in time: rejects with code timeout (a TimeoutError); the late reply is dropped quietly', async () => {
  const client = connect();
  const frames: unknown[] = [];
  client.on('message', ({ data }) => frames.push(data));
  await assert.rejects(client.request('wait', { ms: 400, key: 'late' }, { timeout: 100 }), { name: 'TimeoutError', reason: 'timeout' });
  await delay(500);
  assert.deepEqual(frames, [], 'the late reply is not a message');
  assert.equal(await client.request('wait', { ms: 1, key: 'after' }), 1);
  client.close();
});

test('the link drops mid-request: retry false rejects at once (disconnected); retry once runs again after the reconnection', async () => {
  const client = connect();
  await until(() => client.state === 'open', 3000, 'open');
  let failedAt = 0;
  const failing = assert.rejects(client.request('wait', { ms: 300, key: 'no-retry' }), (error: RequestError) => {
    failedAt = Date.now();
    return error.reason === 'disconnected';
  });
  const retried = client.request('wait', { ms: 300, key: 'retry' }, { retry: 'once', timeout: 5000 });
  await delay(100);
  const started = Date.now();
  await proxy.cut();
  await failing;
  assert.ok(failedAt - started < 200, `fails fast, not at the timeout (${failedAt - started} ms)`);
  assert.equal(await retried, 2, 'sent again after the reconnection: the second run answered');
  // Requests made while offline wait for the link (they were never sent: no retry needed).
  await proxy.cut({ forMs: 300 });
  const offline = client.request('add', { a: 5, b: 5 });
  assert.deepEqual(await offline, { sum: 10 });
  client.close();
});

test('close() rejects what is pending with code closed; request() on a closed client rejects at once', async () => {
  const client = connect();
  await until(() => client.state === 'open', 3000, 'open');
  const pending = assert.rejects(client.request('wait', { ms: 300, key: 'closing' }), { reason: 'closed' });
  client.close();
  await pending;
  await assert.rejects(client.request('add', { a: 1, b: 1 }), { reason: 'closed' });
  const other = connect();
  assert.throws(() => other.request('add', { a: 1, b: 1 }, { timeout: 0 }), { name: 'TypeError', message: 'The "timeout" option must be a number > 0' });
  other.close();
});
