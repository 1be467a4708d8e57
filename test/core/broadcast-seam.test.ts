// The broadcast seam (issue 12): declared renders render once per broadcast, plainly written
// handlers work unchanged, and the handler rule lives in one place.
import { beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AsyncConsumer,
  InMemoryChannelLayer,
  JsonWebsocketConsumer,
  NoHandlerError,
  WebsocketConsumer,
  configureChannelLayers,
  type LayerMessage,
} from 'switchyard';
import { WebsocketCommunicator } from 'switchyard/testing';

let layer: InMemoryChannelLayer;
beforeEach(() => {
  layer = new InMemoryChannelLayer();
  configureChannelLayers({ default: layer });
});

interface ChatEvent extends LayerMessage { type: 'chat_message'; message: string; username: string }

let renders = 0;
class Declared extends WebsocketConsumer {
  static override groups = ['room'];
  static override renders = {
    chat_message: (e: ChatEvent) => { renders++; return JSON.stringify({ message: e.message, username: e.username }); },
  };
}

class Plain extends WebsocketConsumer {
  static override groups = ['room'];
  async chat_message(event: ChatEvent) {
    await this.send(JSON.stringify({ message: event.message, username: event.username }));
  }
}

async function members(app: ReturnType<typeof WebsocketConsumer.asApp>, count: number): Promise<WebsocketCommunicator[]> {
  const clients = Array.from({ length: count }, () => new WebsocketCommunicator(app, '/ws/'));
  for (const client of clients) await client.connect();
  return clients;
}

test('a declared render is rendered once per broadcast: every member sends the same frame and string', async () => {
  renders = 0;
  const clients = await members(Declared.asApp(), 5);
  await layer.groupSend('room', { type: 'chat_message', message: 'hi', username: 'ann' });
  const frames = await Promise.all(clients.map((c) => c.receiveOutput())) as Array<{ type: string; text: string }>;
  assert.equal(renders, 1);
  for (const frame of frames) {
    assert.deepEqual(frame, { type: 'websocket.send', text: '{"message":"hi","username":"ann"}' });
    assert.equal(frame, frames[0]);
  }
  // A second broadcast renders again, once.
  await layer.groupSend('room', { type: 'chat_message', message: 'again', username: 'ann' });
  const second = await Promise.all(clients.map((c) => c.receiveOutput())) as Array<{ text: string }>;
  assert.equal(renders, 2);
  assert.deepEqual(second.map((f) => f.text), Array(5).fill('{"message":"again","username":"ann"}'));
  await Promise.all(clients.map((c) => c.disconnect()));
});

test('interleaved broadcasts of two renders are each rendered right', async () => {
  class Two extends WebsocketConsumer {
    static override groups = ['room'];
    static override renders = {
      a: (e: LayerMessage & { v: number }) => `a${e.v}`,
      b: (e: LayerMessage & { v: number }) => `b${e.v}`,
    };
  }
  const clients = await members(Two.asApp(), 3);
  await layer.groupSend('room', { type: 'a', v: 1 });
  await layer.groupSend('room', { type: 'b', v: 2 });
  await layer.groupSend('room', { type: 'a', v: 3 });
  for (const client of clients) {
    const texts = [];
    for (let i = 0; i < 3; i++) texts.push(((await client.receiveOutput()) as { text: string }).text);
    assert.deepEqual(texts, ['a1', 'b2', 'a3']);
  }
  await Promise.all(clients.map((c) => c.disconnect()));
});

test('a plainly written async handler delivers the same frames to every member', async () => {
  const clients = await members(Plain.asApp(), 3);
  await layer.groupSend('room', { type: 'chat_message', message: 'hi', username: 'bob' });
  const frames = await Promise.all(clients.map((c) => c.receiveOutput()));
  assert.deepEqual(frames, Array(3).fill({ type: 'websocket.send', text: '{"message":"hi","username":"bob"}' }));
  await Promise.all(clients.map((c) => c.disconnect()));
});

test('a declared render can send binary frames, and a method of the same name wins over it', async () => {
  class Binary extends WebsocketConsumer {
    static override groups = ['room'];
    static override renders = {
      blob: (e: LayerMessage & { n: number }) => Uint8Array.of(e.n),
      shout: () => 'declared',
    };
    async shout(event: LayerMessage & { text: string }) { await this.send(event.text.toUpperCase()); }
  }
  const [client] = await members(Binary.asApp(), 1);
  await layer.groupSend('room', { type: 'blob', n: 7 });
  assert.deepEqual(await client!.receiveOutput(), { type: 'websocket.send', bytes: Uint8Array.of(7) });
  await layer.groupSend('room', { type: 'shout', text: 'hey' });
  assert.deepEqual(await client!.receiveOutput(), { type: 'websocket.send', text: 'HEY' });
  await client!.disconnect();
});

test('JsonWebsocketConsumer takes declared renders too', async () => {
  let count = 0;
  class Ticker extends JsonWebsocketConsumer {
    static override groups = ['ticks'];
    static override renders = { tick: (e: LayerMessage & { value: number }) => { count++; return JSON.stringify({ value: e.value }); } };
  }
  const clients = await members(Ticker.asApp(), 3);
  await layer.groupSend('ticks', { type: 'tick', value: 42 });
  for (const client of clients) assert.deepEqual(await client.receiveJsonFrom(), { value: 42 });
  assert.equal(count, 1);
  await Promise.all(clients.map((c) => c.disconnect()));
});

test('the deprecated forward() and forwardJson() still send what they did', async () => {
  class Old extends JsonWebsocketConsumer {
    static override groups = ['room'];
    chat_message(event: ChatEvent) { return this.forward(event, (e) => `${e.username}: ${e.message}`); }
    async whole(event: LayerMessage) { await this.forwardJson(event); }
  }
  const [client] = await members(Old.asApp(), 1);
  await layer.groupSend('room', { type: 'chat_message', message: 'hi', username: 'cy' });
  assert.deepEqual(await client!.receiveOutput(), { type: 'websocket.send', text: 'cy: hi' });
  await layer.groupSend('room', { type: 'whole', n: 1 });
  assert.deepEqual(await client!.receiveJsonFrom(), { type: 'whole', n: 1 });
  await client!.disconnect();
});

test('handlers: methods of the user classes (inherited ones too) and framework event handlers; framework methods are refused', async () => {
  let channel = '';
  class Base extends WebsocketConsumer {
    override async connect() { channel = this.channelName; await this.accept(); }
    async ping() { await this.send('pong'); }
  }
  class Child extends Base {}
  const client = new WebsocketCommunicator(Child.asApp(), '/ws/');
  await client.connect();
  await layer.send(channel, { type: 'ping' });
  assert.deepEqual(await client.receiveOutput(), { type: 'websocket.send', text: 'pong' });
  for (const type of ['accept', 'cleanup', 'baseSend', 'dispatch']) {
    const other = new WebsocketCommunicator(Child.asApp(), '/ws/');
    await other.connect();
    await layer.send(channel, { type });
    await assert.rejects(other.receiveOutput(), NoHandlerError, type);
  }
});

test('cleanup() runs once when the instance ends, however it ends', async () => {
  const cleaned: string[] = [];
  class Tidy extends WebsocketConsumer {
    override async receive(data: string | Uint8Array) { if (data === 'crash') throw new Error('boom'); }
    protected override async cleanup() { cleaned.push(this.channelName); }
  }
  const normal = new WebsocketCommunicator(Tidy.asApp(), '/ws/');
  await normal.connect();
  await normal.disconnect();
  assert.equal(cleaned.length, 1);
  const crashing = new WebsocketCommunicator(Tidy.asApp(), '/ws/');
  await crashing.connect();
  await crashing.sendTo({ text: 'crash' });
  await assert.rejects(crashing.wait(), /boom/);
  assert.equal(cleaned.length, 2);
  assert.notEqual(cleaned[0], cleaned[1]);
});

test('a raw AsyncConsumer with a synchronous handler is served', async () => {
  class Sync extends AsyncConsumer {
    websocket_connect() { return this.baseSend({ type: 'websocket.accept' }); }
    websocket_receive() { void this.baseSend({ type: 'websocket.send', text: 'sync' }); }
  }
  const client = new WebsocketCommunicator(Sync.asApp(), '/ws/');
  await client.connect();
  await client.sendTo({ text: 'x' });
  assert.deepEqual(await client.receiveOutput(), { type: 'websocket.send', text: 'sync' });
});
