// DelegatingLayer: wrappers keep every capability of the layer they wrap (taps, leases),
// and only those it has; withGroupLimit and the consumer's own wrapper are built on it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  InMemoryChannelLayer,
  TooManyGroups,
  WebsocketConsumer,
  configureChannelLayers,
  isLeasable,
  runOnce,
  type ChannelLayer,
  type LayerMessage,
} from 'switchyard';
import { withGroupLimit } from 'switchyard/middleware';
import { WebsocketCommunicator } from 'switchyard/testing';
import { isTappable } from '../../src/layers/base.js';
import { DelegatingLayer } from '../../src/layers/delegating.js';

/** A layer with only the required members: no taps, no leases. */
function bareLayer(inner = new InMemoryChannelLayer()): ChannelLayer {
  return {
    extensions: inner.extensions,
    expiry: inner.expiry,
    send: (c, m) => inner.send(c, m),
    receive: (c, s) => inner.receive(c, s),
    newChannel: (p) => inner.newChannel(p),
    groupAdd: (g, c) => inner.groupAdd(g, c),
    groupDiscard: (g, c) => inner.groupDiscard(g, c),
    groupSend: (g, m) => inner.groupSend(g, m),
    flush: () => inner.flush(),
    close: () => inner.close(),
  };
}

/** An in-memory layer that counts receive() calls (the slow lane). */
class CountingLayer extends InMemoryChannelLayer {
  receives = 0;
  override receive(channel: string, signal?: AbortSignal): Promise<LayerMessage> {
    this.receives++;
    return super.receive(channel, signal);
  }
}

test('a DelegatingLayer offers tap and lease exactly when the inner layer does', () => {
  const full = new DelegatingLayer(new InMemoryChannelLayer());
  assert.equal(isTappable(full), true);
  assert.equal(isLeasable(full), true);
  const bare = new DelegatingLayer(bareLayer());
  assert.equal(isTappable(bare), false);
  assert.equal(isLeasable(bare), false);
  assert.equal('tap' in bare, false);
  assert.equal('lease' in bare, false);
});

test('a DelegatingLayer forwards every member, tap included', async () => {
  const inner = new InMemoryChannelLayer();
  const layer = new DelegatingLayer(inner);
  assert.deepEqual(layer.extensions, inner.extensions);
  assert.equal(layer.expiry, inner.expiry);
  const channel = await layer.newChannel();
  await layer.groupAdd('g', channel);
  await layer.groupSend('g', { type: 'one' });
  assert.deepEqual(await layer.receive(channel), { type: 'one' });
  const got: LayerMessage[] = [];
  const tap = layer.tap!(channel, (message) => got.push(message));
  tap.arm();
  await inner.send(channel, { type: 'two' });
  await Promise.resolve();
  assert.deepEqual(got, [{ type: 'two' }]);
  tap.close();
  const lease = await layer.lease!('job', 1000);
  assert.ok(lease !== null);
  assert.equal(await inner.lease('job', 1000), null, 'the lease is the inner layer\'s');
  await layer.groupDiscard('g', channel);
  await layer.flush();
  await layer.close();
});

test('withGroupLimit(new InMemoryChannelLayer()) keeps the tap lane: consumers never call receive()', async () => {
  const inner = new CountingLayer();
  const layer = withGroupLimit(inner, 2);
  assert.equal(isTappable(layer), true);
  assert.equal(isLeasable(layer), true);
  configureChannelLayers({ default: layer });
  class Member extends WebsocketConsumer {
    static override groups = ['room'];
    static override renders = { note: (e: LayerMessage & { text: string }) => e.text };
  }
  const client = new WebsocketCommunicator(Member.asApp(), '/ws/');
  await client.connect();
  await layer.groupSend('room', { type: 'note', text: 'via the tap' });
  assert.deepEqual(await client.receiveOutput(), { type: 'websocket.send', text: 'via the tap' });
  assert.equal(inner.receives, 0);
  await client.disconnect();
  // The limit still holds.
  const channel = await layer.newChannel();
  await layer.groupAdd('a', channel);
  await layer.groupAdd('b', channel);
  await assert.rejects(layer.groupAdd('c', channel), TooManyGroups);
});

test('a layer without taps is read with receive(), through the same wrappers', async () => {
  const inner = new CountingLayer();
  configureChannelLayers({ default: withGroupLimit(bareLayer(inner)) });
  class Member extends WebsocketConsumer {
    static override groups = ['room'];
    async note(event: LayerMessage & { text: string }) { await this.send(event.text); }
  }
  const client = new WebsocketCommunicator(Member.asApp(), '/ws/');
  await client.connect();
  await inner.groupSend('room', { type: 'note', text: 'via receive' });
  assert.deepEqual(await client.receiveOutput(), { type: 'websocket.send', text: 'via receive' });
  assert.ok(inner.receives >= 1);
  await client.disconnect();
});

test('runOnce({ layer: this.channelLayer }) works inside a consumer (its wrapper keeps lease)', async () => {
  configureChannelLayers({ default: new InMemoryChannelLayer() });
  const generations: number[] = [];
  class Leader extends WebsocketConsumer {
    override async connect() {
      await this.accept();
      const stop = new AbortController();
      await runOnce('consumer-job', (leader) => { generations.push(leader.generation); stop.abort(); }, { layer: this.channelLayer!, signal: stop.signal });
      await this.send('led');
    }
  }
  const client = new WebsocketCommunicator(Leader.asApp(), '/ws/');
  await client.connect();
  assert.deepEqual(await client.receiveOutput(), { type: 'websocket.send', text: 'led' });
  assert.deepEqual(generations, [1]);
  await client.disconnect();
});
