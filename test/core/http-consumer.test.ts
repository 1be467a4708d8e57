// Ports django/channels tests/test_generic_http.py, plus SSE and long-poll, which Django's consumer cannot do.
import { beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { HttpConsumer, InMemoryChannelLayer, ProtocolError, configureChannelLayers } from 'switchyard';
import { HttpCommunicator } from 'switchyard/testing';

let layer: InMemoryChannelLayer;
beforeEach(() => {
  layer = new InMemoryChannelLayer();
  configureChannelLayers({ default: layer });
});

const header = (headers: Array<[Uint8Array, Uint8Array]>, name: string) =>
  headers.filter(([k]) => Buffer.from(k).toString() === name).map(([, v]) => Buffer.from(v).toString());

test('test_async_http_consumer: POST a JSON body, answer with sendResponse and object headers', async () => {
  class Json extends HttpConsumer {
    override async handle(body: Uint8Array) {
      const data = JSON.parse(Buffer.from(body).toString());
      await this.sendResponse(200, JSON.stringify({ value: data.value }), { headers: { 'Content-Type': 'application/json' } });
    }
  }
  const client = new HttpCommunicator(Json.asApp(), 'POST', '/test/', { body: JSON.stringify({ value: 42, anything: [] }) });
  const response = await client.getResponse();
  assert.equal(response.status, 200);
  assert.deepEqual(JSON.parse(response.body.toString()), { value: 42 });
  assert.deepEqual(header(response.headers, 'content-type'), ['application/json']);
});

test('the body arrives in chunks (more_body) and handle() sees it whole', async () => {
  class Length extends HttpConsumer {
    override async handle(body: Uint8Array) { await this.sendResponse(200, String(body.byteLength)); }
  }
  const client = new HttpCommunicator(Length.asApp(), 'POST', '/');
  await client.sendInput({ type: 'http.request', body: Buffer.from('abc'), more_body: true });
  await client.sendInput({ type: 'http.request', body: Buffer.from('defg'), more_body: false });
  const start = await client.receiveOutput();
  assert.equal(start.type, 'http.response.start');
  const body = await client.receiveOutput();
  assert.equal(Buffer.from((body as { body: Uint8Array }).body).toString(), '7');
});

test('test_error: an exception in handle() surfaces from getResponse', async () => {
  class Failing extends HttpConsumer {
    override async handle() { throw new Error('Error correctly raised'); }
  }
  await assert.rejects(new HttpCommunicator(Failing.asApp(), 'GET', '/').getResponse(), /Error correctly raised/);
});

test('test_per_scope_consumers: asApp() builds a new instance per scope', async () => {
  const instances = new Set<object>();
  class Tracker extends HttpConsumer {
    override async handle() {
      instances.add(this);
      await this.sendResponse(200, 'ok');
    }
  }
  const app = Tracker.asApp();
  await new HttpCommunicator(app, 'GET', '/').getResponse();
  await new HttpCommunicator(app, 'GET', '/').getResponse();
  assert.equal(instances.size, 2);
});

test('the default handle() answers 405', async () => {
  const response = await new HttpCommunicator(HttpConsumer.asApp(), 'GET', '/').getResponse();
  assert.equal(response.status, 405);
});

test('SSE: handle() streams events and a later group message continues the stream', async () => {
  class Events extends HttpConsumer {
    override async handle() {
      await this.channelLayer!.groupAdd('ticks', this.channelName);
      await this.sendHeaders({ headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' } });
      await this.sendBody('retry: 1000\n\n', { moreBody: true });
    }
    async tick(event: { value: number; last?: boolean }) {
      await this.sendBody(`data: ${event.value}\n\n`, { moreBody: !event.last });
    }
  }
  const client = new HttpCommunicator(Events.asApp(), 'GET', '/events/');
  const start = await client.getResponseStart();
  assert.equal(start.status, 200);
  assert.deepEqual(header(start.headers, 'content-type'), ['text/event-stream']);
  assert.deepEqual(await client.receiveBody(), { body: Buffer.from('retry: 1000\n\n'), moreBody: true });
  await layer.groupSend('ticks', { type: 'tick', value: 1 });
  assert.deepEqual(await client.receiveBody(), { body: Buffer.from('data: 1\n\n'), moreBody: true });
  await layer.groupSend('ticks', { type: 'tick', value: 2, last: true });
  assert.deepEqual(await client.receiveBody(), { body: Buffer.from('data: 2\n\n'), moreBody: false });
  // Finishing the response ends the instance, and it leaves its group.
  await client.wait();
  const probe = await layer.newChannel();
  await layer.groupAdd('ticks', probe);
  await layer.groupSend('ticks', { type: 'tick', value: 3 });
  assert.equal((await layer.receive(probe)).value, 3);
});

test('long-poll: handle() returns with the response open; a later event completes it (Django cannot)', async () => {
  let channelName = '';
  class LongPoll extends HttpConsumer {
    override async handle() {
      channelName = this.channelName;
      await this.sendHeaders({ headers: { 'content-type': 'application/json' } });
    }
    async chat_message(event: { text: string }) {
      await this.sendBody(JSON.stringify({ text: event.text }));
    }
  }
  const client = new HttpCommunicator(LongPoll.asApp(), 'GET', '/poll/');
  await client.getResponseStart();
  await layer.send(channelName, { type: 'chat.message', text: 'hi' });
  assert.deepEqual(await client.receiveBody(), { body: Buffer.from('{"text":"hi"}'), moreBody: false });
  await client.wait();
});

test('the deprecated spelling `more` still works, in sendBody() and in receiveBody()', async () => {
  class Old extends HttpConsumer {
    override async handle() {
      await this.sendHeaders();
      await this.sendBody('a', { more: true });
      await this.sendBody('b', { more: false });
    }
  }
  const client = new HttpCommunicator(Old.asApp(), 'GET', '/');
  await client.getResponseStart();
  const first = await client.receiveBody();
  assert.equal(first.more, true);
  assert.deepEqual(first, { body: Buffer.from('a'), moreBody: true });
  assert.equal((await client.receiveBody()).more, false);
  await client.wait();
});

test('an SSE client going away calls disconnect() and ends the instance', async () => {
  let disconnected = false;
  class Stream extends HttpConsumer {
    override async handle() {
      await this.sendHeaders();
      await this.sendBody('', { moreBody: true });
    }
    override async disconnect() { disconnected = true; }
  }
  const client = new HttpCommunicator(Stream.asApp(), 'GET', '/');
  await client.getResponseStart();
  await client.receiveBody();
  await client.sendInput({ type: 'http.disconnect' });
  await client.wait();
  assert.equal(disconnected, true);
});

test('sending a body before headers, or after the end, is a ProtocolError', async () => {
  class Early extends HttpConsumer { override async handle() { await this.sendBody('x'); } }
  await assert.rejects(new HttpCommunicator(Early.asApp(), 'GET', '/').getResponse(), ProtocolError);
  class Twice extends HttpConsumer {
    override async handle() { await this.sendResponse(200, 'a'); await this.sendBody('b'); }
  }
  const client = new HttpCommunicator(Twice.asApp(), 'GET', '/');
  await assert.rejects(async () => { await client.getResponse(); await client.wait(); }, ProtocolError);
});
