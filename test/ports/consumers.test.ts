// Ports of django/channels tests/test_generic_websocket.py and tests/test_generic_http.py (spec §3.1)
// where test/core covers the behaviour only in part.
import { beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { type Application, HttpConsumer, InMemoryChannelLayer, JsonWebsocketConsumer, WebsocketConsumer, configureChannelLayers } from 'switchyard';
import { HttpCommunicator, WebsocketCommunicator } from 'switchyard/testing';
import { abortAfter, delay, until } from '../helpers/time.js';

let layer: InMemoryChannelLayer;
beforeEach(() => {
  layer = new InMemoryChannelLayer();
  configureChannelLayers({ default: layer });
});

test('test_websocket_consumer_groups: joined on connect (a group websocket.receive is echoed); the channel leaves the group on disconnect', async () => {
  let channelName = '';
  class TestConsumer extends WebsocketConsumer {
    static override groups = ['chat'];
    override async connect() {
      channelName = this.channelName;
      await this.accept();
    }
    override async receive(data: string | Uint8Array) { await this.send(data); }
  }
  const communicator = new WebsocketCommunicator(TestConsumer.asApp(), '/testws/');
  assert.equal((await communicator.connect()).connected, true);
  await layer.groupSend('chat', { type: 'websocket.receive', text: 'hello' });
  assert.equal(await communicator.receiveFrom(), 'hello');
  await communicator.disconnect();
  // Django checks `channel_layer.groups == {}`: here, a group message no longer lands on the consumer's channel.
  await layer.groupSend('chat', { type: 'websocket.receive', text: 'after disconnect' });
  await assert.rejects(layer.receive(channelName, abortAfter(100)), /timed out/);
});

test('test_json_websocket_consumer: a binary frame is not JSON (Django raises ValueError; we answer with an error frame, by design)', async () => {
  const received: unknown[] = [];
  class TestConsumer extends JsonWebsocketConsumer {
    override async receiveJson(content: unknown) {
      received.push(content);
      await this.sendJson(content);
    }
  }
  const communicator = new WebsocketCommunicator(TestConsumer.asApp(), '/testws/');
  await communicator.connect();
  await communicator.sendJsonTo({ hello: 'world' });
  assert.deepEqual(await communicator.receiveJsonFrom(), { hello: 'world' });
  await communicator.sendTo({ bytes: Buffer.from('w\0\0\0') });
  assert.equal((await communicator.receiveJsonFrom()).type, 'error');
  assert.deepEqual(received, [{ hello: 'world' }], 'receiveJson was not called for the binary frame');
  await communicator.disconnect();
});

test('test_async_http_consumer: headers given as an object become a list of [name, value] pairs (names lowercased, as ASGI recommends)', async () => {
  class TestConsumer extends HttpConsumer {
    override async handle(body: Uint8Array) {
      const data = JSON.parse(Buffer.from(body).toString());
      await this.sendResponse(200, JSON.stringify({ value: data.value }), { headers: { 'Content-Type': 'application/json' } });
    }
  }
  const response = await new HttpCommunicator(TestConsumer.asApp(), 'POST', '/test/', { body: JSON.stringify({ value: 42, anything: false }) }).getResponse();
  assert.equal(response.body.toString(), '{"value":42}');
  assert.equal(response.status, 200);
  assert.deepEqual(response.headers.map(([n, v]) => [Buffer.from(n).toString(), Buffer.from(v).toString()]), [['content-type', 'application/json']]);
});

test('test_async_http_consumer_future: receive/send may be async functions or plain functions returning promises', async () => {
  class TestConsumer extends HttpConsumer {
    override async handle() {
      await this.sendResponse(200, '42', { headers: { 'Content-Type': 'text/plain' } });
    }
  }
  const app = TestConsumer.asApp();
  const coroutineApp: Application = async (scope, receive, send) => {
    await app(scope, async () => await receive(), async (event) => await send(event));
  };
  const awaitableCallableApp: Application = async (scope, receive, send) => {
    await app(scope, () => Promise.resolve().then(() => receive()), (event) => Promise.resolve().then(() => send(event)));
  };
  for (const wrapped of [coroutineApp, awaitableCallableApp]) {
    const response = await new HttpCommunicator(wrapped, 'GET', '/').getResponse();
    assert.equal(response.body.toString(), '42');
    assert.equal(response.status, 200);
    assert.deepEqual(response.headers.map(([n, v]) => [Buffer.from(n).toString(), Buffer.from(v).toString()]), [['content-type', 'text/plain']]);
  }
});

test('test_per_scope_consumers: two requests through one asApp() get two instances (different bodies)', async () => {
  let counter = 0;
  class TestConsumer extends HttpConsumer {
    readonly id = ++counter;
    override async handle() {
      await this.sendResponse(200, `${this.constructor.name} ${this.id}`, { headers: { 'Content-Type': 'text/plain' } });
    }
  }
  const app = TestConsumer.asApp();
  const first = await new HttpCommunicator(app, 'GET', '/test/').getResponse();
  const second = await new HttpCommunicator(app, 'GET', '/test2/').getResponse();
  assert.equal(first.status, 200);
  assert.equal(second.status, 200);
  assert.notEqual(first.body.toString(), second.body.toString());
});

test('README claim: a consumer that crashes leaves no zombie group membership (checked on its own channel)', async () => {
  let channelName = '';
  class Crashy extends WebsocketConsumer {
    override async connect() {
      channelName = this.channelName;
      await this.channelLayer!.groupAdd('room', channelName);
      await this.accept();
    }
    override async receive() { throw new Error('boom'); }
  }
  const communicator = new WebsocketCommunicator(Crashy.asApp(), '/');
  await communicator.connect();
  await communicator.sendTo({ text: 'x' });
  await assert.rejects(communicator.wait(), /boom/);
  await layer.groupSend('room', { type: 'after.crash' });
  await assert.rejects(layer.receive(channelName, abortAfter(100)), /timed out/);
});

test('README claim: a slow group handler never delays a disconnect', async () => {
  let channelName = '';
  let disconnectedAt = 0;
  let release!: () => void;
  class Slow extends WebsocketConsumer {
    override async connect() {
      channelName = this.channelName;
      await this.accept();
    }
    async slow_event() { await new Promise<void>((resolve) => (release = resolve)); }
    override async disconnect() { disconnectedAt = Date.now(); }
  }
  const communicator = new WebsocketCommunicator(Slow.asApp(), '/');
  await communicator.connect();
  await layer.send(channelName, { type: 'slow.event' });
  await delay(20);
  const askedAt = Date.now();
  await communicator.sendInput({ type: 'websocket.disconnect', code: 1001 });
  await until(() => disconnectedAt > 0, 500, 'disconnect() to run');
  assert.ok(disconnectedAt > 0 && disconnectedAt - askedAt < 300, 'disconnect() ran while the slow handler was still waiting');
  release();
  await communicator.wait();
});
