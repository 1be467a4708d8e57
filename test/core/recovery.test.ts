// Recovery, the consumer's half (docs/recovery.md), on the in-memory layer: the outcome
// frame, replay before live, marks, duplicates dropped, gaps repaired, epochs, and the
// seeds' protocol unchanged for a client that does not ask.
import { afterEach, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  InMemoryChannelLayer, WebsocketConsumer, configureChannelLayers, resetChannelLayers, type LayerMessage,
} from 'switchyard';
import { WebsocketCommunicator } from 'switchyard/testing';
import { groupsResynced } from '../../src/layers/history.js';

let layer: InMemoryChannelLayer;
beforeEach(() => {
  layer = new InMemoryChannelLayer({ groupHistory: { 'room*': { size: 5, ttl: 60 } } });
  configureChannelLayers({ default: layer });
});
afterEach(() => resetChannelLayers());

interface Line extends LayerMessage { type: 'chat_message'; n: number }

/** Channels of the connections, newest last (tests reach a member's channel through it). */
const channels: string[] = [];

class Declared extends WebsocketConsumer {
  static override groups = ['room'];
  static override renders = { chat_message: (e: Line) => JSON.stringify({ n: e.n }) };
  override async connect() {
    channels.push(this.channelName);
    await this.accept();
  }
}

class Plain extends WebsocketConsumer {
  static override groups = ['room'];
  async chat_message(event: Line) {
    await this.send(JSON.stringify({ n: event.n }));
  }
}

class Silent extends WebsocketConsumer {
  static override groups = ['room'];
  async chat_message(_event: Line) {}
}

class Unkept extends WebsocketConsumer {
  static override groups = ['other'];
  static override renders = { chat_message: (e: Line) => JSON.stringify({ n: e.n }) };
}

type Frame = { $sy?: string; g?: string; e?: string; o?: number; d?: string; recovered?: boolean; replayed?: number; n?: number };

async function connect(app: ReturnType<typeof WebsocketConsumer.asApp>, query = 'switchyard.recover=1'): Promise<WebsocketCommunicator> {
  const client = new WebsocketCommunicator(app, `/ws/?${query}`);
  const { connected } = await client.connect();
  assert.ok(connected);
  return client;
}

async function frames(client: WebsocketCommunicator, count: number): Promise<Frame[]> {
  const out: Frame[] = [];
  for (let i = 0; i < count; i++) out.push(JSON.parse(await client.receiveFrom() as string) as Frame);
  return out;
}

const send = (n: number, group = 'room') => layer.groupSend(group, { type: 'chat_message', n });

test('a client that asks gets the outcome frame, then marked messages carrying the app frame', async () => {
  const client = await connect(Declared.asApp());
  const [outcome] = await frames(client, 1);
  assert.equal(outcome!.$sy, 'r');
  assert.equal(outcome!.g, 'room');
  assert.equal(outcome!.o, 0);
  assert.equal(outcome!.recovered, true);
  assert.equal(outcome!.replayed, 0);
  await send(1);
  const [marked] = await frames(client, 1);
  assert.deepEqual({ ...marked, e: undefined }, { $sy: 'm', g: 'room', e: undefined, o: 1, d: '{"n":1}' });
  assert.equal(marked!.e, outcome!.e);
  await client.disconnect();
});

test('a client that does not ask sees exactly the app frames (the seeds protocol)', async () => {
  const client = await connect(Declared.asApp(), '');
  await send(1);
  assert.equal(await client.receiveFrom(), '{"n":1}');
  assert.ok(await client.receiveNothing());
  await client.disconnect();
});

test('a client that comes back with its position gets exactly what it missed, in order, before live messages', async () => {
  for (const App of [Declared, Plain]) {
    await layer.flush();
    const first = await connect(App.asApp());
    const [outcome] = await frames(first, 1);
    await send(1);
    const [one] = await frames(first, 1);
    await first.disconnect();
    await send(2);
    await send(3);
    const again = await connect(App.asApp(), `switchyard.recover=1&switchyard.position=room:${outcome!.e}:${one!.o}`);
    await send(4);
    const got = await frames(again, 4);
    assert.equal(got[0]!.$sy, 'r');
    assert.equal(got[0]!.recovered, true, App.name);
    assert.equal(got[0]!.replayed, 2);
    assert.equal(got[0]!.o, 1);
    assert.deepEqual(got.slice(1).map((f) => [f.$sy, f.o, f.d]), [['m', 2, '{"n":2}'], ['m', 3, '{"n":3}'], ['m', 4, '{"n":4}']], App.name);
    assert.ok(await again.receiveNothing());
    await again.disconnect();
  }
});

test('a position out of the window or of another epoch: recovered false, and what is kept is replayed', async () => {
  const first = await connect(Declared.asApp());
  const [outcome] = await frames(first, 1);
  await first.disconnect();
  for (let n = 1; n <= 8; n++) await send(n);
  const late = await connect(Declared.asApp(), `switchyard.recover=1&switchyard.position=room:${outcome!.e}:1`);
  const got = await frames(late, 6);
  assert.deepEqual([got[0]!.$sy, got[0]!.recovered, got[0]!.replayed, got[0]!.o], ['r', false, 5, 3]);
  assert.deepEqual(got.slice(1).map((f) => f.o), [4, 5, 6, 7, 8]);
  await late.disconnect();
  const stranger = await connect(Declared.asApp(), 'switchyard.recover=1&switchyard.position=room:notThisEpoch:3');
  const again = await frames(stranger, 6);
  assert.deepEqual([again[0]!.recovered, again[0]!.o], [false, 3]);
  assert.deepEqual(again.slice(1).map((f) => f.o), [4, 5, 6, 7, 8]);
  await stranger.disconnect();
});

test('a handler that sends nothing is followed by a position mark; a group without history is not tracked', async () => {
  const silent = await connect(Silent.asApp());
  await frames(silent, 1);
  await send(1);
  const [mark] = await frames(silent, 1);
  assert.deepEqual([mark!.$sy, mark!.o], ['p', 1]);
  await silent.disconnect();
  const unkept = await connect(Unkept.asApp());
  await send(7, 'other');
  assert.equal(await unkept.receiveFrom(), '{"n":7}');
  await unkept.disconnect();
});

test('a duplicate delivery is dropped, and a gap is repaired from the history, in order', async () => {
  const client = await connect(Declared.asApp());
  const [outcome] = await frames(client, 1);
  // A message the layer delivered twice (a live copy racing a replay), and one that never arrived live.
  await send(1);
  const one = (await layer.readHistory('room', { epoch: outcome!.e!, offset: 0 }))!.messages[0]!;
  const channel = channels.at(-1)!;
  await layer.send(channel, one);
  await layer.groupDiscard('room', channel);
  await send(2); // missed live: the channel is not in the group
  await layer.groupAdd('room', channel);
  await send(3);
  const got = await frames(client, 3);
  assert.deepEqual(got.map((f) => f.o), [1, 2, 3]); // 3 waits while 2 is read from the history
  assert.ok(await client.receiveNothing());
  await client.disconnect();
});

test('a message of a new epoch starts the group over: recovered false, then the new epoch from its start', async () => {
  const client = await connect(Declared.asApp());
  await frames(client, 1);
  const channel = channels.at(-1)!;
  await layer.flush(); // the history is lost: a new epoch; the membership too
  await layer.groupAdd('room', channel);
  await send(1);
  const [reset, one] = await frames(client, 2);
  assert.deepEqual([reset!.$sy, reset!.recovered, reset!.o], ['r', false, 0]);
  assert.equal(one!.o, 1);
  assert.equal(one!.e, reset!.e);
  await client.disconnect();
});


test('after a resync (the layer may have missed live messages), a quiet group catches up without waiting for the next message', async () => {
  const client = await connect(Declared.asApp());
  await frames(client, 1);
  const channel = channels.at(-1)!;
  await layer.groupDiscard('room', channel); // as if Redis lost the membership
  await send(1);
  await send(2);
  await layer.groupAdd('room', channel); // re-asserted
  assert.ok(await client.receiveNothing(), 'nothing live: the messages went by while the membership was gone');
  groupsResynced(['room']);
  assert.deepEqual((await frames(client, 2)).map((f) => f.o), [1, 2]);
  await client.disconnect();
});

test('a send that leaves the member out: its recovering client gets a position mark, at once, and the others the message', async () => {
  class Echoing extends Declared {
    override async receive(data: string | Uint8Array) {
      await this.channelLayer!.groupSend('room', { type: 'chat_message', n: Number(data) }, { except: this.channelName });
    }
  }
  const sender = await connect(Echoing.asApp());
  const other = await connect(Declared.asApp());
  await frames(sender, 1);
  await frames(other, 1);
  await sender.sendTo({ text: '5' });
  const [mark] = await frames(sender, 1);
  assert.deepEqual([mark!.$sy, mark!.o], ['p', 1]);
  const [seen] = await frames(other, 1);
  assert.deepEqual([seen!.$sy, seen!.o, seen!.d], ['m', 1, '{"n":5}']);
  await send(6);
  const started = Date.now();
  assert.deepEqual((await frames(sender, 1)).map((f) => [f.$sy, f.o]), [['m', 2]]);
  assert.ok(Date.now() - started < 200, 'no gap to wait for');
  await sender.disconnect();
  await other.disconnect();
});

test('a position that cannot be read: recovered false for its group (what is kept follows); one naming no group is ignored', async () => {
  await send(1);
  const unreadable = await connect(Declared.asApp(), 'switchyard.recover=1&switchyard.position=room:not%20an%20epoch!:x');
  const [outcome, kept] = await frames(unreadable, 2);
  assert.deepEqual([outcome!.$sy, outcome!.recovered, outcome!.replayed], ['r', false, 1]);
  assert.deepEqual([kept!.$sy, kept!.o], ['m', 1]);
  await unreadable.disconnect();
  const garbage = await connect(Declared.asApp(), 'switchyard.recover=1&switchyard.position=%00%00');
  const [fresh] = await frames(garbage, 1);
  assert.deepEqual([fresh!.recovered, fresh!.o, fresh!.replayed], [true, 1, 0]);
  await garbage.disconnect();
});
