// Ports django/channels tests/test_generic_websocket.py and the consumer dispatch rules.
import { beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AsyncConsumer,
  DenyConnection,
  InMemoryChannelLayer,
  InvalidChannelLayerError,
  JsonWebsocketConsumer,
  NoHandlerError,
  StopConsumer,
  URLRouter,
  WebsocketConsumer,
  configureChannelLayers,
  getChannelLayer,
  handlerName,
  path,
  type WebsocketReceiveEvent,
} from 'switchyard';
import { WebsocketCommunicator } from 'switchyard/testing';
import { abortAfter, delay } from '../helpers/time.js';

let layer: InMemoryChannelLayer;
beforeEach(() => {
  layer = new InMemoryChannelLayer();
  configureChannelLayers({ default: layer });
});


test('test_websocket_consumer: connect/accept, text and bytes echo, disconnect(code) called', async () => {
  const results: Record<string, unknown> = {};
  class Echo extends WebsocketConsumer {
    override async connect() {
      results.connected = true;
      await this.accept();
    }
    override async receive(data: string | Uint8Array) {
      results.received = data;
      await this.send(data);
    }
    override async disconnect(code: number) {
      results.disconnected = code;
    }
  }
  const client = new WebsocketCommunicator(Echo.asApp(), '/testws/');
  assert.deepEqual(await client.connect(), { connected: true, subprotocol: null });
  assert.equal(results.connected, true);
  await client.sendTo({ text: 'hello' });
  assert.equal(await client.receiveFrom(), 'hello');
  await client.sendTo({ bytes: Buffer.from('w\0\0\0') });
  assert.deepEqual(Buffer.from(await client.receiveFrom() as Uint8Array), Buffer.from('w\0\0\0'));
  await client.disconnect(4321);
  assert.equal(results.disconnected, 4321);
});

test('test_websocket_consumer_subprotocol: scope carries subprotocols; accept(subprotocol) is reported', async () => {
  class Sub extends WebsocketConsumer {
    override async connect() {
      assert.deepEqual((this.scope as { subprotocols: string[] }).subprotocols, ['subprotocol1', 'subprotocol2']);
      await this.accept('subprotocol2');
    }
  }
  const client = new WebsocketCommunicator(Sub.asApp(), '/testws/', { subprotocols: ['subprotocol1', 'subprotocol2'] });
  assert.deepEqual(await client.connect(), { connected: true, subprotocol: 'subprotocol2' });
  await client.disconnect();
});

test('test_websocket_consumer_groups: static groups are joined on connect and left on disconnect', async () => {
  let channelName = '';
  class Grouped extends WebsocketConsumer {
    static override groups = ['chat'];
    override async connect() { channelName = this.channelName; await this.accept(); }
    override async receive(data: string | Uint8Array) { await this.send(data); }
  }
  const client = new WebsocketCommunicator(Grouped.asApp(), '/testws/');
  await client.connect();
  await layer.groupSend('chat', { type: 'websocket.receive', text: 'group message' });
  assert.equal(await client.receiveFrom(), 'group message');
  await client.disconnect();
  // Left the group: a group message no longer lands on the consumer's channel.
  await layer.groupSend('chat', { type: 'probe' });
  await assert.rejects(layer.receive(channelName, abortAfter(50)), /timed out/);
});

test('test_async_websocket_consumer_specific_channel_layer: channelLayerAlias is respected; direct sends dispatch', async () => {
  const testLayer = new InMemoryChannelLayer();
  configureChannelLayers({ default: layer, testlayer: testLayer });
  let channelName = '';
  class Specific extends WebsocketConsumer {
    static override channelLayerAlias = 'testlayer';
    override async connect() {
      channelName = this.channelName;
      await this.accept();
    }
    async hello_world(event: { text: string }) { await this.send(event.text); }
  }
  const client = new WebsocketCommunicator(Specific.asApp(), '/testws/');
  await client.connect();
  await testLayer.send(channelName, { type: 'hello.world', text: 'from layer' });
  assert.equal(await client.receiveFrom(), 'from layer');
  await client.disconnect();
});

test('groups without a channel layer: InvalidChannelLayerError', async () => {
  configureChannelLayers({});
  class Grouped extends WebsocketConsumer { static override groups = ['chat']; }
  const client = new WebsocketCommunicator(Grouped.asApp(), '/testws/');
  await assert.rejects(client.connect(), InvalidChannelLayerError);
});

test('test_json_websocket_consumer: JSON round trip', async () => {
  class Json extends JsonWebsocketConsumer {
    override async receiveJson(content: unknown) { await this.sendJson({ echo: content }); }
  }
  const client = new WebsocketCommunicator(Json.asApp(), '/testws/');
  await client.connect();
  await client.sendJsonTo({ hello: 'world', n: [1, 2] });
  assert.deepEqual(await client.receiveJsonFrom(), { echo: { hello: 'world', n: [1, 2] } });
  await client.disconnect();
});

test('JSON consumer: invalid JSON, binary and empty frames get an error frame and the connection survives', async () => {
  const got: unknown[] = [];
  class Json extends JsonWebsocketConsumer {
    override async receiveJson(content: unknown) {
      got.push(content);
      await this.sendJson({ ok: true });
    }
  }
  const client = new WebsocketCommunicator(Json.asApp(), '/testws/');
  await client.connect();
  await client.sendTo({ text: '{not json' });
  assert.deepEqual(await client.receiveJsonFrom(), { type: 'error', message: 'Invalid JSON format' });
  await client.sendTo({ bytes: Buffer.from('{}') });
  assert.equal((await client.receiveJsonFrom()).type, 'error');
  await client.sendTo({ text: '' });
  assert.equal((await client.receiveJsonFrom()).type, 'error');
  assert.deepEqual(got, []);
  await client.sendJsonTo({ still: 'alive' });
  assert.deepEqual(await client.receiveJsonFrom(), { ok: true });
  assert.deepEqual(got, [{ still: 'alive' }]);
  await client.disconnect();
});

test('JSON consumer: encodeJson/decodeJson can be overridden', async () => {
  class Pretty extends JsonWebsocketConsumer {
    override decodeJson(text: string) { return JSON.parse(text.slice(1)); }
    override encodeJson(content: unknown) { return `>${JSON.stringify(content)}`; }
    override async receiveJson(content: unknown) { await this.sendJson(content); }
  }
  const client = new WebsocketCommunicator(Pretty.asApp(), '/testws/');
  await client.connect();
  await client.sendTo({ text: '#{"a":1}' });
  assert.equal(await client.receiveFrom(), '>{"a":1}');
  await client.disconnect();
});

test('test_block_underscored_type_function_call / test_block_leading_dot_type_function_call', async () => {
  assert.throws(() => handlerName({ type: '_my_private_handler' }), /Malformed type in message \(leading underscore\)/);
  assert.throws(() => handlerName({ type: '.my_private_handler' }), /Malformed type in message \(leading underscore\)/);
  assert.throws(() => handlerName({}), /Incoming message has no 'type' attribute/);
  assert.equal(handlerName({ type: 'chat.message' }), 'chat_message');
  class Private extends WebsocketConsumer {
    async _my_private_handler() { await this.send('should not happen'); }
  }
  const client = new WebsocketCommunicator(Private.asApp(), '/testws/');
  await client.connect();
  await client.sendInput({ type: '_my_private_handler' });
  await assert.rejects(client.receiveOutput(), /leading underscore/);
});

test('a message type with no handler is a NoHandlerError naming the type and the consumer', async () => {
  class Plain extends WebsocketConsumer {}
  const client = new WebsocketCommunicator(Plain.asApp(), '/testws/');
  await client.connect();
  await client.sendInput({ type: 'missing.handler' });
  await assert.rejects(client.receiveOutput(), (error: unknown) => {
    assert.ok(error instanceof NoHandlerError);
    assert.match((error as Error).message, /'missing\.handler' on Plain \(expected a method named 'missing_handler'\)/);
    return true;
  });
});

test('a layer message cannot call framework methods (close, send, groupSend...)', async () => {
  let channelName = '';
  class Target extends WebsocketConsumer {
    override async connect() { channelName = this.channelName; await this.accept(); }
  }
  const client = new WebsocketCommunicator(Target.asApp(), '/testws/');
  await client.connect();
  await layer.send(channelName, { type: 'close' });
  await assert.rejects(client.receiveOutput(), NoHandlerError);
});

test('a layer message cannot call a framework method the consumer overrides (connect, receive, disconnect...)', async () => {
  const calls: string[] = [];
  let channelName = '';
  class Overrides extends WebsocketConsumer {
    override async connect() { channelName = this.channelName; calls.push('connect'); await this.accept(); }
    override async receive() { calls.push('receive'); }
    override async disconnect() { calls.push('disconnect'); }
    override async layerUnavailable() { calls.push('layerUnavailable'); }
  }
  for (const type of ['connect', 'receive', 'disconnect', 'layerUnavailable']) {
    const client = new WebsocketCommunicator(Overrides.asApp(), '/testws/');
    await client.connect();
    await layer.send(channelName, { type });
    await assert.rejects(client.receiveOutput(), NoHandlerError, type);
  }
  assert.deepEqual(calls, ['connect', 'connect', 'connect', 'connect'], 'only the real connects ran');
});

test('test_accept_headers: accept(subprotocol, headers) passes headers to the server', async () => {
  class Headers extends WebsocketConsumer {
    override async connect() { await this.accept(null, [[Buffer.from('foo'), Buffer.from('bar')]]); }
  }
  const client = new WebsocketCommunicator(Headers.asApp(), '/testws/');
  await client.connect();
  assert.deepEqual(client.responseHeaders.map(([k, v]) => [Buffer.from(k).toString(), Buffer.from(v).toString()]), [['foo', 'bar']]);
  await client.disconnect();
});

test('test_close_reason: close(code, reason) after accept sends both', async () => {
  class Closer extends WebsocketConsumer {
    override async receive() { await this.close(4007, 'test reason'); }
  }
  const client = new WebsocketCommunicator(Closer.asApp(), '/testws/');
  await client.connect();
  await client.sendTo({ text: 'x' });
  assert.deepEqual(await client.receiveOutput(), { type: 'websocket.close', code: 4007, reason: 'test reason' });
});

test('closing before accepting refuses the handshake (with the given code, 1000 by default)', async () => {
  class Refuse extends WebsocketConsumer { override async connect() { await this.close(); } }
  class RefuseCode extends WebsocketConsumer { override async connect() { await this.close(4403); } }
  class Deny extends WebsocketConsumer { override async connect() { throw new DenyConnection(); } }
  assert.deepEqual(await new WebsocketCommunicator(Refuse.asApp(), '/').connect(), { connected: false, closeCode: 1000 });
  assert.deepEqual(await new WebsocketCommunicator(RefuseCode.asApp(), '/').connect(), { connected: false, closeCode: 4403 });
  assert.deepEqual(await new WebsocketCommunicator(Deny.asApp(), '/').connect(), { connected: false, closeCode: 1000 });
});

test('send(data, close) sends then closes; a number is the close code', async () => {
  class Bye extends WebsocketConsumer { override async receive() { await this.send('bye', 4003); } }
  const client = new WebsocketCommunicator(Bye.asApp(), '/');
  await client.connect();
  await client.sendTo({ text: 'x' });
  assert.equal(await client.receiveFrom(), 'bye');
  assert.deepEqual(await client.receiveOutput(), { type: 'websocket.close', code: 4003 });
});

test('test_websocket_receive_with_none_text: {text: null, bytes} is treated as bytes', async () => {
  const got: unknown[] = [];
  class Rec extends WebsocketConsumer { override async receive(data: string | Uint8Array) { got.push(data); } }
  const client = new WebsocketCommunicator(Rec.asApp(), '/');
  await client.connect();
  await client.sendInput({ type: 'websocket.receive', text: null, bytes: Buffer.from('b') } as WebsocketReceiveEvent);
  await client.sendInput({ type: 'websocket.receive', bytes: Buffer.from('c') });
  await client.sendInput({ type: 'websocket.receive', text: 't' });
  await client.receiveNothing();
  assert.deepEqual(got.map((g) => (typeof g === 'string' ? g : Buffer.from(g as Uint8Array).toString())), ['b', 'c', 't']);
  await client.disconnect();
});

test('test_multiple_websocket_consumers: each connection gets its own instance and scope', async () => {
  class PathEcho extends WebsocketConsumer {
    override async connect() { await this.accept(); await this.send(this.scope.type === 'websocket' ? this.scope.path : ''); }
  }
  const app = URLRouter([path('<str:name>/', PathEcho.asApp())]);
  const one = new WebsocketCommunicator(app, '/one/');
  const two = new WebsocketCommunicator(app, '/two/');
  await one.connect();
  await two.connect();
  assert.equal(await one.receiveFrom(), '/one/');
  assert.equal(await two.receiveFrom(), '/two/');
  await one.disconnect();
  await two.disconnect();
});

test('asApp(initKwargs) assigns per-app options to each new instance', async () => {
  class Greeter extends WebsocketConsumer {
    greeting = 'hello';
    override async connect() { await this.accept(); await this.send(this.greeting); }
  }
  const app = Greeter.asApp({ greeting: 'bonjour' });
  assert.equal(app.consumerClass, Greeter);
  const client = new WebsocketCommunicator(app, '/');
  await client.connect();
  assert.equal(await client.receiveFrom(), 'bonjour');
  await client.disconnect();
});

test('layer messages wait until connect is handled, then both lanes run concurrently', async () => {
  let channelName = '';
  let releaseSlow!: () => void;
  class Lanes extends WebsocketConsumer {
    override async connect() {
      channelName = this.channelName;
      await layer.send(channelName, { type: 'early' }); // arrives before accept: must wait
      await delay(20);
      await this.accept();
    }
    async early() { await this.send('early after accept'); }
    async slow() {
      await new Promise<void>((resolve) => (releaseSlow = resolve));
      await this.send('slow done');
    }
    override async receive(data: string | Uint8Array) { await this.send(`echo ${String(data)}`); }
  }
  const client = new WebsocketCommunicator(Lanes.asApp(), '/');
  await client.connect();
  assert.equal(await client.receiveFrom(), 'early after accept');
  // A slow layer handler does not hold up the connection's own events.
  await layer.send(channelName, { type: 'slow' });
  await delay(10);
  await client.sendTo({ text: 'ping' });
  assert.equal(await client.receiveFrom(), 'echo ping');
  releaseSlow();
  assert.equal(await client.receiveFrom(), 'slow done');
  await client.disconnect();
});

test('a consumer that crashes leaves no zombie group membership behind', async () => {
  let channelName = '';
  class Crashy extends WebsocketConsumer {
    override async connect() {
      channelName = this.channelName;
      await this.channelLayer!.groupAdd('room', this.channelName);
      await this.accept();
    }
    override async receive() { throw new Error('boom'); }
  }
  const client = new WebsocketCommunicator(Crashy.asApp(), '/');
  await client.connect();
  await layer.groupSend('room', { type: 'before.crash' });
  assert.equal((await layer.receive(channelName)).type, 'before.crash', 'a member before the crash');
  await client.sendTo({ text: 'x' });
  await assert.rejects(client.wait(), /boom/);
  await layer.groupSend('room', { type: 'after.crash' });
  await assert.rejects(layer.receive(channelName, abortAfter(50)), /timed out/, 'not a member after the crash');
});

test('StopConsumer from a raw AsyncConsumer ends it cleanly; errors propagate', async () => {
  class Raw extends AsyncConsumer {
    async websocket_connect() { await this.baseSend({ type: 'websocket.accept' }); }
    async websocket_disconnect() { throw new StopConsumer(); }
    async websocket_receive() { throw new Error('handler failed'); }
  }
  const clean = new WebsocketCommunicator(Raw.asApp(), '/');
  await clean.connect();
  await clean.disconnect();
  const failing = new WebsocketCommunicator(Raw.asApp(), '/');
  await failing.connect();
  await failing.sendTo({ text: 'x' });
  await assert.rejects(failing.receiveOutput(), /handler failed/);
});

test('every instance has a unique channelName when a layer is configured; none without', async () => {
  const names: string[] = [];
  class Named extends WebsocketConsumer {
    override async connect() { names.push(this.channelName); await this.accept(); }
  }
  for (let i = 0; i < 3; i++) {
    const c = new WebsocketCommunicator(Named.asApp(), '/');
    await c.connect();
    await c.disconnect();
  }
  assert.equal(new Set(names).size, 3);
  assert.ok(names.every((n) => n.includes('!')));
  configureChannelLayers({});
  assert.equal(getChannelLayer(), null);
  const c = new WebsocketCommunicator(Named.asApp(), '/');
  await c.connect();
  assert.equal(names.at(-1), '');
  await c.disconnect();
});
