// Slow consumers (issue 13): what a consumer's channel does while the consumer cannot keep
// up, by the policy its class declares: drop the oldest, coalesce by key, disconnect (4008),
// or Django's rule (the newest skipped); per group pattern; each action counted.
import { afterEach, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  InMemoryChannelLayer, SLOW_CONSUMER_CLOSE_CODE, WebsocketConsumer, configureChannelLayers, resetChannelLayers,
  type LayerMessage, type SlowConsumerConfig,
} from 'switchyard';
import { slowConsumerActions } from '../../src/layers/slow-consumers.js';
import { WebsocketCommunicator } from 'switchyard/testing';

let layer: InMemoryChannelLayer;
beforeEach(() => {
  layer = new InMemoryChannelLayer({ capacity: 3, groupHistory: ['history.*'] });
  configureChannelLayers({ default: layer });
});
afterEach(() => resetChannelLayers());

interface Tick extends LayerMessage { type: 'tick'; symbol: string; n: number }

/** Handlers wait on this gate: the consumer "cannot keep up" until it opens. */
let gate: { promise: Promise<void>; open: () => void };
function closeGate(): void {
  let open!: () => void;
  gate = { promise: new Promise<void>((resolve) => (open = resolve)), open };
}

function consumerWith(slowConsumer: SlowConsumerConfig | null, groups = ['ticks']) {
  return class Slow extends WebsocketConsumer {
    static override groups = groups;
    static override slowConsumer = slowConsumer;
    async tick(event: Tick) {
      await gate.promise;
      await this.send(`${event.symbol}${event.n}`);
    }
  };
}

async function connected(app: ReturnType<typeof WebsocketConsumer.asApp>): Promise<WebsocketCommunicator> {
  const client = new WebsocketCommunicator(app, '/ws/');
  assert.ok((await client.connect()).connected);
  return client;
}

/** Sends ticks to a group; the first is taken at once (its handler waits), the rest queue. */
async function burst(ticks: Array<[string, number]>, group = 'ticks'): Promise<void> {
  for (const [symbol, n] of ticks) {
    await layer.groupSend(group, { type: 'tick', symbol, n });
    await new Promise((resolve) => setImmediate(resolve));
  }
}

async function drained(client: WebsocketCommunicator): Promise<string[]> {
  const out: string[] = [];
  while (!(await client.receiveNothing(50))) out.push(await client.receiveFrom() as string);
  return out;
}

const counted = () => ({ ...slowConsumerActions() });

test("Django's rule by default: a full channel skips the newest", async () => {
  closeGate();
  const before = counted();
  const client = await connected(consumerWith(null).asApp());
  await burst([['a', 1], ['a', 2], ['a', 3], ['a', 4], ['a', 5], ['a', 6]]);
  gate.open();
  assert.deepEqual(await drained(client), ['a1', 'a2', 'a3', 'a4']);
  assert.equal(slowConsumerActions()['drop-newest'] - before['drop-newest'], 2);
  await client.disconnect();
});

test('drop-oldest: the queue keeps the freshest, bounded by the capacity', async () => {
  closeGate();
  const before = counted();
  const client = await connected(consumerWith('drop-oldest').asApp());
  await burst([['a', 1], ['a', 2], ['a', 3], ['a', 4], ['a', 5], ['a', 6]]);
  gate.open();
  assert.deepEqual(await drained(client), ['a1', 'a4', 'a5', 'a6']);
  assert.equal(slowConsumerActions()['drop-oldest'] - before['drop-oldest'], 2);
  await client.disconnect();
});

test('coalesce by a field: the latest value per key wins, the order of keys kept', async () => {
  closeGate();
  const before = counted();
  const client = await connected(consumerWith({ coalesce: 'symbol' }).asApp());
  await burst([['a', 1], ['a', 2], ['b', 1], ['a', 3], ['c', 1], ['b', 2], ['a', 4]]);
  gate.open();
  assert.deepEqual(await drained(client), ['a1', 'a4', 'b2', 'c1']);
  assert.equal(slowConsumerActions().coalesce - before.coalesce, 3);
  await client.disconnect();
});

test('disconnect: past the capacity the connection closes with 4008 "slow consumer"', async () => {
  closeGate();
  const before = counted();
  const client = await connected(consumerWith('disconnect').asApp());
  await burst([['a', 1], ['a', 2], ['a', 3], ['a', 4], ['a', 5]]);
  const closed = await client.receiveOutput();
  assert.deepEqual(closed, { type: 'websocket.close', code: SLOW_CONSUMER_CLOSE_CODE, reason: 'slow consumer' });
  assert.equal(slowConsumerActions().disconnect - before.disconnect, 1);
  gate.open();
  await client.disconnect();
});

test('per group pattern: each group of a consumer has its own policy', async () => {
  closeGate();
  const Two = consumerWith({ 'fast.*': { coalesce: 'symbol' }, '*': 'drop-newest' }, ['fast.quotes', 'slow']);
  const client = await connected(Two.asApp());
  await burst([['a', 1]], 'slow'); // taken at once: the handler waits
  await burst([['a', 2], ['a', 3], ['a', 4]], 'fast.quotes'); // coalesced into one
  await burst([['s', 1], ['s', 2], ['s', 3]], 'slow'); // two fit beside a4 (capacity 3), the newest is skipped
  await burst([['a', 5]], 'fast.quotes'); // still coalesced with a4, though the channel is full
  gate.open();
  assert.deepEqual(await drained(client), ['a1', 'a5', 's1', 's2']);
  await client.disconnect();
});

test('a bad policy is refused when the consumer starts', async () => {
  const Bad = consumerWith('drop-everything' as never);
  const client = new WebsocketCommunicator(Bad.asApp(), '/ws/');
  await assert.rejects(async () => {
    await client.connect();
    await client.wait();
  }, /slowConsumer policy must be/);
});
