// Layer metrics wrap the layer (TimedLayer, a DelegatingLayer) instead of
// patching its methods: the four operations are timed, the layer itself is
// left untouched, and its optional capabilities (taps, leases) still work
// through the wrapper.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { LayerMessage } from 'switchyard';
import { isTappable, type ChannelLayer } from '../../src/layers/base.js';
import { DelegatingLayer } from '../../src/layers/delegating.js';
import { InMemoryChannelLayer } from '../../src/layers/memory.js';
import { getChannelLayer, setChannelLayer } from '../../src/layers/registry.js';
import { ServerMetrics } from '../../src/server/metrics.js';
import { TimedLayer } from '../../src/server/timed-layer.js';
import { serverPool } from './helpers.js';

const counts = async (metrics: ServerMetrics): Promise<Record<string, number>> => {
  const text = await metrics.registry.metrics();
  const found: Record<string, number> = {};
  for (const [, op, n] of text.matchAll(/switchyard_layer_operation_seconds_count\{op="(\w+)"\} (\d+)/g)) found[op!] = Number(n);
  return found;
};

describe('layer metrics', () => {
  const { serve } = serverPool();

  test('send, groupSend, groupAdd and groupDiscard are timed; the layer itself is not patched', async () => {
    const metrics = new ServerMetrics();
    const inner = new InMemoryChannelLayer();
    const ownSend = inner.send;
    const timed = metrics.timeLayer(inner);
    const channel = await timed.newChannel();
    await timed.groupAdd('g', channel);
    await timed.groupSend('g', { type: 'a' });
    await timed.send(channel, { type: 'b' });
    await timed.send(channel, { type: 'c' });
    await timed.groupDiscard('g', channel);
    assert.deepEqual((await timed.receive(channel)).type, 'a');
    assert.deepEqual(await counts(metrics), { send: 2, groupSend: 1, groupAdd: 1, groupDiscard: 1 });
    assert.equal(inner.send, ownSend);
    assert.ok(!Object.hasOwn(inner, 'send'));
    // A failing operation is timed too, and fails the same way.
    await assert.rejects(timed.send('not a valid name!!', { type: 'x' }));
    assert.equal((await counts(metrics)).send, 3);
    assert.match(await metrics.registry.metrics(), /switchyard_layer_errors_total\{op="send",error="InvalidNameError"\} 1/, 'and counted as a failure');
    assert.equal(metrics.timeLayer(timed), timed, 'a timed layer is not wrapped twice');
  });

  test('taps and leases of the inner layer work through the wrapper; a layer without them gets none', async () => {
    const metrics = new ServerMetrics();
    const timed = metrics.timeLayer(new InMemoryChannelLayer());
    assert.ok(timed instanceof DelegatingLayer);
    assert.ok(isTappable(timed));
    const channel = await timed.newChannel();
    const got: LayerMessage[] = [];
    const tap = timed.tap!(channel, (message) => got.push(message));
    await timed.send(channel, { type: 'queued' });
    assert.deepEqual(tap.take(), { type: 'queued' });
    assert.equal(tap.take(), undefined);
    tap.arm();
    await timed.send(channel, { type: 'pushed' });
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(got, [{ type: 'pushed' }]);
    tap.close();
    const lease = await timed.lease!('nightly', 10_000);
    assert.ok(lease !== null);
    assert.equal(await timed.lease!('nightly', 10_000), null, 'held: the inner layer’s leases are the ones asked');
    await lease.release();

    // A layer with neither capability: the wrapper does not pretend to have them.
    const m = new InMemoryChannelLayer();
    const bare: ChannelLayer = {
      extensions: m.extensions, expiry: m.expiry,
      send: (c, msg) => m.send(c, msg), receive: (c, signal) => m.receive(c, signal), newChannel: (p) => m.newChannel(p),
      groupAdd: (g, c) => m.groupAdd(g, c), groupDiscard: (g, c) => m.groupDiscard(g, c), groupSend: (g, msg) => m.groupSend(g, msg),
      flush: () => m.flush(), close: () => m.close(),
    };
    const timedBare = metrics.timeLayer(bare);
    assert.equal(timedBare.tap, undefined);
    assert.equal(timedBare.lease, undefined);
    assert.ok(!isTappable(timedBare));
  });

  test('serve() with metricsPath puts the timed wrapper in the registry for the default layer, once', async () => {
    const layer = new InMemoryChannelLayer();
    setChannelLayer('default', layer);
    const app = async (): Promise<void> => {};
    const server = await serve(app, { metricsPath: '/metrics' });
    const registered = getChannelLayer()!;
    assert.ok(registered instanceof TimedLayer);
    assert.equal(registered.inner, layer);
    assert.ok(isTappable(registered), 'the consumers’ push lane is kept');
    await registered.groupSend('room', { type: 'noop' });
    assert.equal((await counts(server.metrics!)).groupSend, 1);
    await serve(app, { metricsPath: '/metrics' });
    assert.equal(getChannelLayer(), registered, 'a second server does not wrap the wrapper');
  });
});
