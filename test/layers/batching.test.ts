// Group batching (issue 15, the seeds' bulk_messages done right): messages to a batched
// group travel as one `bulk_messages` event per batch (flushed by size or after maxDelayMs,
// never later), are unpacked for every receiver in order, and reach each consumer's handler
// one by one; history groups are never batched; a bad message fails its own sender only.
import { after, afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DelegatingLayer, ImproperlyConfigured, InMemoryChannelLayer, InvalidMessageError, WebsocketConsumer, buildChannelLayer,
  configureChannelLayers, resetChannelLayers, type ChannelLayer, type LayerMessage,
} from 'switchyard';
import 'switchyard/redis';
import { WebsocketCommunicator } from 'switchyard/testing';
import { GroupBatchingLayer } from '../../src/layers/batching.js';
import { guardRedisKeys } from '../helpers/redis-clean.js';

const PREFIX = `sy-batch-${process.pid}-`;
import { NOTHING, receiveWithin } from './conformance.js';

/** An inner layer that records what reaches it through groupSend. */
class Recording extends DelegatingLayer {
  readonly sent: Array<[string, LayerMessage]> = [];
  override groupSend(group: string, message: LayerMessage): Promise<void> {
    this.sent.push([group, message]);
    return super.groupSend(group, message);
  }
}

async function next(layer: ChannelLayer, channel: string, ms = 3000): Promise<Record<string, unknown>> {
  const message = await receiveWithin(layer, channel, ms);
  assert.notEqual(message, NOTHING, `a message on ${channel}`);
  return message as Record<string, unknown>;
}

const made: ChannelLayer[] = [];
after(async () => {
  for (const layer of made) {
    await layer.flush();
    await layer.close();
  }
});
guardRedisKeys(PREFIX); // after the layers are flushed
afterEach(() => resetChannelLayers());

test('group commit: an idle group sends at once; while a send is under way a burst gathers into full batches; in order', async () => {
  const inner = new Recording(new InMemoryChannelLayer());
  const layer = new GroupBatchingLayer(inner, { groups: { 'chat_*': { maxMessages: 10, maxDelayMs: 20 } } });
  const [a, b] = [await layer.newChannel(), await layer.newChannel()];
  await layer.groupAdd('chat_lobby', a);
  await layer.groupAdd('chat_lobby', b);
  const sizes = () => inner.sent.map(([, m]) => (m.messages as unknown[] | undefined)?.length ?? 1);
  const sends = Array.from({ length: 25 }, (_, i) => layer.groupSend('chat_lobby', { type: 'chat_message', n: i }));
  assert.deepEqual(sizes(), [1, 10, 10], 'the first at once, then two full batches');
  await Promise.all(sends);
  assert.deepEqual(sizes(), [1, 10, 10, 4], 'the last four when the sends under way returned');
  for (const channel of [a, b]) {
    for (let i = 0; i < 25; i++) assert.deepEqual({ ...(await next(layer, channel)) }, { type: 'chat_message', n: i });
    assert.equal(await receiveWithin(layer, channel, 50), NOTHING);
  }
});

test('maxDelayMs: while a slow send is under way, what gathered goes after maxDelayMs, not after the slow send', async () => {
  let release!: () => void;
  const blocked = new Promise<void>((resolve) => (release = resolve));
  class Slow extends Recording {
    override async groupSend(group: string, message: LayerMessage): Promise<void> {
      const first = this.sent.length === 0;
      await super.groupSend(group, message);
      if (first) await blocked;
    }
  }
  const inner = new Slow(new InMemoryChannelLayer());
  const layer = new GroupBatchingLayer(inner, { groups: { 'chat_*': { maxMessages: 10, maxDelayMs: 10 } } });
  const first = layer.groupSend('chat_x', { type: 'a' });
  const gathered = Promise.all([layer.groupSend('chat_x', { type: 'b' }), layer.groupSend('chat_x', { type: 'c' })]);
  await gathered; // would hang until release() if the batch waited for the slow send
  assert.deepEqual(inner.sent.map(([, m]) => m.type), ['a', 'bulk_messages']);
  release();
  await first;
});

test('a lone message is never held: sent as itself within maxDelayMs; other groups are not batched', async () => {
  const inner = new Recording(new InMemoryChannelLayer());
  const layer = new GroupBatchingLayer(inner, { groups: ['chat_*'] });
  const channel = await layer.newChannel();
  await layer.groupAdd('chat_quiet', channel);
  await layer.groupAdd('news', channel);
  const started = performance.now();
  await layer.groupSend('chat_quiet', { type: 'chat_message', text: 'alone' });
  const waited = performance.now() - started;
  assert.ok(waited < 1000, `resolved after ${waited.toFixed(1)} ms`);
  assert.deepEqual(inner.sent.map(([, m]) => m.type), ['chat_message'], 'sent as itself, not as a batch of one');
  assert.equal((await next(layer, channel)).text, 'alone');
  await layer.groupSend('news', { type: 'headline' });
  assert.equal(inner.sent.length, 2);
  assert.equal((await next(layer, channel)).type, 'headline');
});

test('a message the layer refuses fails its own sender; the rest of its batch is delivered', async () => {
  const layer = new GroupBatchingLayer(new InMemoryChannelLayer(), { groups: ['chat_*'] });
  const channel = await layer.newChannel();
  await layer.groupAdd('chat_x', channel);
  const first = layer.groupSend('chat_x', { type: 'chat_message', n: 1 });
  await assert.rejects(layer.groupSend('chat_x', { type: 'chat_message', when: new Date() } as never), InvalidMessageError);
  const third = layer.groupSend('chat_x', { type: 'chat_message', n: 3 });
  await Promise.all([first, third]);
  assert.equal((await next(layer, channel)).n, 1);
  assert.equal((await next(layer, channel)).n, 3);
});

test('except leaves its member out of the unpacked batch, and only it', async () => {
  const layer = new GroupBatchingLayer(new InMemoryChannelLayer(), { groups: ['chat_*'] });
  const [sender, other] = [await layer.newChannel(), await layer.newChannel()];
  await layer.groupAdd('chat_x', sender);
  await layer.groupAdd('chat_x', other);
  await Promise.all([
    layer.groupSend('chat_x', { type: 'chat_message', n: 1 }, { except: sender }),
    layer.groupSend('chat_x', { type: 'chat_message', n: 2 }),
  ]);
  assert.deepEqual([(await next(layer, other)).n, (await next(layer, other)).n], [1, 2]);
  assert.equal((await next(layer, sender)).n, 2);
  assert.equal(await receiveWithin(layer, sender, 50), NOTHING);
});

test('consumers: each message of a batch reaches the handler, in order, on every member (tap lane)', async () => {
  const inner = new Recording(new InMemoryChannelLayer());
  const layer = new GroupBatchingLayer(inner, { groups: { 'room': { maxMessages: 4, maxDelayMs: 5 } } });
  configureChannelLayers({ default: layer });
  class Room extends WebsocketConsumer {
    static override groups = ['room'];
    async chat_message(event: { type: 'chat_message'; n: number }) { await this.send(`line ${event.n}`); }
  }
  const clients = [new WebsocketCommunicator(Room.asApp(), '/ws/'), new WebsocketCommunicator(Room.asApp(), '/ws/')];
  for (const client of clients) assert.ok((await client.connect()).connected);
  await Promise.all(Array.from({ length: 10 }, (_, n) => layer.groupSend('room', { type: 'chat_message', n })));
  assert.ok(inner.sent.some(([, m]) => m.type === 'bulk_messages'), 'batches were sent');
  for (const client of clients) {
    const lines: unknown[] = [];
    for (let i = 0; i < 10; i++) lines.push(await client.receiveFrom());
    assert.deepEqual(lines, Array.from({ length: 10 }, (_, n) => `line ${n}`));
    assert.ok(await client.receiveNothing(50));
    await client.disconnect();
  }
});

test('groupBatching on a URL (any backend); groups of groupHistory are left unbatched; bad options refused', async () => {
  const layer = buildChannelLayer('memory://?groupHistory=chat_*&groupBatching=chat_*,news_*');
  made.push(layer);
  assert.ok(layer instanceof GroupBatchingLayer);
  const channel = await layer.newChannel();
  await layer.groupAdd('chat_kept', channel);
  await Promise.all([layer.groupSend('chat_kept', { type: 'a' }), layer.groupSend('chat_kept', { type: 'b' })]);
  const offsets = [await next(layer, channel), await next(layer, channel)].map((m) => (m.__switchyard_position__ as { offset: number }).offset);
  assert.deepEqual(offsets, [1, 2], 'each message of a history group has its own offset');
  assert.throws(() => buildChannelLayer('memory://?groupBatching={"chat_*":{"maxMessage":3}}'), (error: unknown) =>
    error instanceof ImproperlyConfigured && /unknown option maxMessage \(known: maxMessages, maxDelayMs\)/.test(error.message));
  assert.throws(() => buildChannelLayer('memory://?groupBatching={"chat_*":{"maxMessages":1}}'), /maxMessages for chat_\* must be an integer of at least 2/);
  assert.throws(() => buildChannelLayer('memory://?groupBatching=a&groupBatching=b'), /given twice/);
  assert.throws(() => new GroupBatchingLayer(new InMemoryChannelLayer(), { groups: 'chat_*' as never }),
    /groupBatching must be a list of group patterns or an object of pattern → options, not "chat_\*"/);
});

test('Redis core layer, two processes: batches cross Redis, are unpacked in order, and close() sends what is queued', async () => {
  const url = `redis://127.0.0.1:6379/0?prefix=${PREFIX}&groupBatching=chat_*`;
  const sender = buildChannelLayer(url);
  const receiver = buildChannelLayer(url);
  made.push(receiver);
  const channel = await receiver.newChannel();
  await receiver.groupAdd('chat_far', channel);
  const sends = Array.from({ length: 23 }, (_, n) => sender.groupSend('chat_far', { type: 'chat_message', n }));
  await sender.close(); // the last three are still queued: close sends them
  await Promise.all(sends);
  for (let n = 0; n < 23; n++) assert.equal((await next(receiver, channel)).n, n);
  assert.equal(await receiveWithin(receiver, channel, 100), NOTHING);
});
