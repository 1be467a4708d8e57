/**
 * One conformance suite for every channel layer (as Hono runs all its routers
 * through one suite): the behaviours of django/channels' `test_layers.py` /
 * `test_inmemorychannel.py` and channels_redis's `test_core.py` /
 * `test_pubsub.py` (spec §1.8, §3.1, §3.2), named after the test they port.
 *
 * Each test builds a fresh layer with `makeLayer(options)` and closes (and,
 * where the layer has it, flushes) it at the end, so a factory must give every
 * layer its own namespace (e.g. a unique Redis key prefix per call).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LayerMessage } from 'switchyard';
import { ChannelFull, InvalidMessageError, InvalidNameError } from 'switchyard';
import type { BaseLayerOptions, ChannelLayer } from '../../src/layers/base.js';
import { type LeasableLayer, isLeasable } from '../../src/layers/lease.js';
import { delay } from '../helpers/time.js';

/** What a layer under test supports. */
export interface ConformanceOptions {
  /** `send` raises `ChannelFull` at `capacity` and honours `channelCapacity`. */
  capacity: boolean;
  /** A message sent to a general channel waits there for a later `receive`. */
  persistent: boolean;
  /** Memberships older than `groupExpiry` stop receiving. */
  groupExpiry: boolean;
  /** Layers from two `makeLayer` calls share state (one backend, two processes). */
  shared: boolean;
}

/**
 * Builds a layer for one test. `namespace` is unique per test (e.g. a Redis key
 * prefix); two calls with the same namespace must share state when `shared`.
 */
export type MakeLayer = (options: BaseLayerOptions, namespace: string) => ChannelLayer | Promise<ChannelLayer>;

let namespaces = 0;

/** What {@link receiveWithin} returns when no message comes. */
export const NOTHING = Symbol('nothing');

/** The next message of a channel; fails (rather than hanging the suite) when none comes within `ms`. */
async function expectMessage(layer: ChannelLayer, channel: string, ms = 5000): Promise<LayerMessage> {
  const message = await receiveWithin(layer, channel, ms);
  if (message === NOTHING) assert.fail(`no message on ${channel} within ${ms} ms`);
  return message;
}

/** The next message of a channel, or NOTHING when none comes within `ms`. */
export async function receiveWithin(layer: ChannelLayer, channel: string, ms: number): Promise<LayerMessage | typeof NOTHING> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error('timeout')), ms);
  try {
    return await layer.receive(channel, controller.signal);
  } catch (error) {
    if (controller.signal.aborted) return NOTHING;
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Messages every layer refuses (the rules of `src/layers/validate.ts`), with
 * what the error must say: the path of the offending field and its kind.
 */
export function refusedMessages(): Array<[LayerMessage, RegExp]> {
  const cyclic: Record<string, unknown> = { type: 'x' };
  cyclic.self = cyclic;
  class Point { x = 1; }
  return ([
    [{ type: 'x', user: { joined: new Date() } }, /^message\.user\.joined: Date is not allowed/],
    [{ type: 'x', nick: undefined }, /^message\.nick: undefined is not allowed/],
    [{ type: 'x', list: [1, undefined] }, /^message\.list\[1\]: undefined/],
    // eslint-disable-next-line no-sparse-arrays
    [{ type: 'x', holes: [1, , 3] }, /^message\.holes\[1\]: undefined/],
    [{ type: 'x', m: new Map([[1, 2]]) }, /^message\.m: Map is not allowed/],
    [{ type: 'x', s: new Set([1]) }, /^message\.s: Set is not allowed/],
    [{ type: 'x', f: () => 1 }, /^message\.f: a function is not allowed/],
    [{ type: 'x', id: 10n }, /^message\.id: bigint is not allowed/],
    [{ type: 'x', n: NaN }, /^message\.n: NaN is not allowed/],
    [{ type: 'x', deep: [{ n: -Infinity }] }, /^message\.deep\[0\]\.n: -Infinity is not allowed/],
    [{ type: 'x', sym: Symbol('s') }, /^message\.sym: a symbol is not allowed/],
    [{ type: 'x', p: new Point() }, /^message\.p: a Point instance is not allowed/],
    [{ type: 'x', re: /a/ }, /^message\.re: a RegExp instance is not allowed/],
    [{ type: 'x', i16: new Int16Array(2) }, /^message\.i16: Int16Array is not allowed/],
    [{ type: 'x', ab: new ArrayBuffer(2) }, /^message\.ab: ArrayBuffer is not allowed/],
    [{ type: 'x', 'odd key': { 'a.b': undefined } }, /^message\["odd key"\]\["a\.b"\]: undefined/],
    [cyclic, /nested more than 512 levels deep \(or holds a cycle\)/],
  ] as Array<[unknown, RegExp]>) as Array<[LayerMessage, RegExp]>;
}

/** Registers the suite for one layer implementation. */
export function layerConformance(name: string, makeLayer: MakeLayer, options: ConformanceOptions): void {
  const opened: ChannelLayer[] = [];
  let namespace = '';
  async function withLayer(layerOptions: BaseLayerOptions, body: (layer: ChannelLayer) => Promise<void>): Promise<void> {
    namespace = `sy-conf-${process.pid}-${++namespaces}-`;
    const layer = await makeLayer(layerOptions, namespace);
    opened.push(layer);
    try {
      await body(layer);
    } finally {
      for (const each of opened.splice(0)) {
        await each.flush().catch(() => {});
        await each.close();
      }
    }
  }
  const t = (title: string, fn: (layer: ChannelLayer) => Promise<void>, layerOptions: BaseLayerOptions = { capacity: 3, channelCapacity: { tiny: 1 } }) =>
    test(`${name} conformance: ${title}`, () => withLayer(layerOptions, fn));
  /** Sends to a general channel once a receive is pending (pub/sub only delivers to current subscribers). */
  async function sendWhileReceiving(layer: ChannelLayer, channel: string, message: LayerMessage): Promise<LayerMessage> {
    const pending = layer.receive(channel, AbortSignal.timeout(5000));
    await delay(50);
    await layer.send(channel, message);
    return pending;
  }

  t('test_send_receive: a message sent to a general channel is received', async (layer) => {
    const message = { type: 'test.message', text: 'Ahoy-hoy!', n: 42, f: 1.5, nested: { list: [1, 'two', null, true] } };
    assert.deepEqual(await sendWhileReceiving(layer, 'test-channel-1', message), message);
  });

  t('test_process_local_send_receive: newChannel round trip', async (layer) => {
    const channel = await layer.newChannel();
    await layer.send(channel, { type: 'test.message', text: 'Local only please' });
    assert.deepEqual(await layer.receive(channel), { type: 'test.message', text: 'Local only please' });
  });

  t('test_multi_send_receive: three messages come out in order (FIFO)', async (layer) => {
    const channel = await layer.newChannel();
    for (const type of ['message.1', 'message.2', 'message.3']) await layer.send(channel, { type });
    for (const type of ['message.1', 'message.2', 'message.3']) assert.equal((await layer.receive(channel)).type, type);
  }, { capacity: 100 });

  t('test_multi_send_receive: 50 quick sends keep their order', async (layer) => {
    const channel = await layer.newChannel();
    for (let i = 0; i < 50; i++) await layer.send(channel, { type: 'seq', i });
    for (let i = 0; i < 50; i++) assert.equal((await layer.receive(channel)).i, i);
  }, { capacity: 100 });

  t('test_double_receive: two channels received concurrently each get their own message', async (layer) => {
    const [one, two] = [await layer.newChannel(), await layer.newChannel()];
    assert.notEqual(one, two);
    const both = Promise.all([layer.receive(one), layer.receive(two)]);
    await layer.send(two, { type: 'to.two' });
    await layer.send(one, { type: 'to.one' });
    assert.deepEqual((await both).map((m) => m.type), ['to.one', 'to.two']);
  });

  t('test_random_reset__channel_name: newChannel names are unique', async (layer) => {
    const names = new Set<string>();
    for (let i = 0; i < 50; i++) names.add(await layer.newChannel());
    assert.equal(names.size, 50);
  });

  t('test_reject_bad_channel: invalid channel and group names raise InvalidNameError', async (layer) => {
    await assert.rejects(layer.send('=+135!', { type: 'foom' }), InvalidNameError);
    await assert.rejects(layer.receive('=+135!'), InvalidNameError);
    await assert.rejects(layer.send('a'.repeat(100), { type: 'foom' }), InvalidNameError);
    await assert.rejects(layer.send('two!bangs!', { type: 'foom' }), InvalidNameError);
    await assert.rejects(layer.groupSend('bad group', { type: 'foom' }), InvalidNameError);
    await assert.rejects(layer.groupAdd('bad:group', await layer.newChannel()), InvalidNameError);
    await assert.rejects(layer.groupDiscard('ok', 'bad channel'), InvalidNameError);
  });

  t('message validation: non-objects, a missing type and __asgi_channel__ are refused', async (layer) => {
    const channel = await layer.newChannel();
    for (const bad of [null, 'text', [1], { text: 'no type' }, { type: 1 }, { type: 'x', __asgi_channel__: 'y' }, new (class M { type = 'x' })()]) {
      await assert.rejects(layer.send(channel, bad as unknown as LayerMessage), InvalidMessageError);
      await assert.rejects(layer.groupSend('g', bad as unknown as LayerMessage), InvalidMessageError);
    }
  });

  t('message values: what Redis would refuse or change is refused on send and groupSend, naming the field', async (layer) => {
    const channel = await layer.newChannel();
    await layer.groupAdd('g', channel);
    for (const [bad, error] of refusedMessages()) {
      await assert.rejects(layer.send(channel, bad), (e) => e instanceof InvalidMessageError && error.test(e.message), `send: ${error}`);
      await assert.rejects(layer.groupSend('g', bad), (e) => e instanceof InvalidMessageError && error.test(e.message), `groupSend: ${error}`);
    }
    assert.equal(await receiveWithin(layer, channel, 100), NOTHING, 'nothing refused was delivered');
  });

  t('message values: what every layer carries unchanged round-trips (bytes, wide integers, -0 as 0, null-prototype objects)', async (layer) => {
    const channel = await layer.newChannel();
    const sent = {
      type: 'carry', n: 2 ** 40, neg: -(2 ** 40), big: 1e20, f: -1.25, zero: -0, s: 'é\u0000', t: true, nil: null,
      bytes: new Uint8Array([0, 1, 255]), list: [[], {}, [1, 'a']], bare: Object.assign(Object.create(null) as object, { k: 'v' }),
    };
    await layer.send(channel, sent);
    const got = await layer.receive(channel);
    const { zero, bytes, bare, ...rest } = got as typeof sent;
    const { zero: _z, bytes: _b, bare: _bare, ...expected } = sent;
    assert.deepEqual(rest, expected);
    assert.ok(zero === 0, '-0 arrives as a zero');
    assert.ok(bytes instanceof Uint8Array && Buffer.from(bytes).equals(Buffer.from([0, 1, 255])));
    assert.deepEqual({ ...bare }, { k: 'v' });
  }, { capacity: 10 });

  t('test_groups_basic: add 3, discard 1, groupSend reaches the 2 members only', async (layer) => {
    const [one, two, three] = [await layer.newChannel(), await layer.newChannel(), await layer.newChannel()];
    await layer.groupAdd('test-group', one);
    await layer.groupAdd('test-group', two);
    await layer.groupAdd('test-group', three);
    await layer.groupDiscard('test-group', two);
    await layer.groupSend('test-group', { type: 'message.1' });
    assert.equal((await layer.receive(one)).type, 'message.1');
    assert.equal((await layer.receive(three)).type, 'message.1');
    assert.equal(await receiveWithin(layer, two, 300), NOTHING);
  });

  t('test_groups_same_prefix: members of one process all receive one frozen message object', async (layer) => {
    const channels = [await layer.newChannel(), await layer.newChannel(), await layer.newChannel()];
    for (const channel of channels) await layer.groupAdd('test-group', channel);
    await layer.groupSend('test-group', { type: 'message.1', payload: { deep: [1] } });
    const received = await Promise.all(channels.map((channel) => layer.receive(channel)));
    for (const message of received) assert.deepEqual(message, { type: 'message.1', payload: { deep: [1] } });
    assert.equal(received[0], received[1]);
    assert.equal(received[1], received[2]);
    assert.ok(Object.isFrozen(received[0]) && Object.isFrozen(received[0]!.payload));
  });

  t('test_groups_channel_full: groupSend to a full member never throws', async (layer) => {
    const channel = await layer.newChannel();
    await layer.groupAdd('test-group', channel);
    for (let i = 0; i < 5; i++) await layer.groupSend('test-group', { type: 'message.1', i });
    const got: unknown[] = [];
    for (;;) {
      const message = await receiveWithin(layer, channel, 200);
      if (message === NOTHING) break;
      got.push(message.i);
    }
    assert.ok(got.length >= 3 && got.length <= 5, `received ${got.length}`);
  });

  t('test_discard_before_add: discarding a channel never added is a no-op', async (layer) => {
    const channel = await layer.newChannel();
    await layer.groupDiscard('test-group', channel);
    await layer.groupDiscard('never-created', 'some-channel');
    await layer.groupAdd('test-group', channel);
    await layer.groupSend('test-group', { type: 'after' });
    assert.equal((await layer.receive(channel)).type, 'after');
  });

  t('groupAdd twice keeps one membership (one message per groupSend)', async (layer) => {
    const channel = await layer.newChannel();
    await layer.groupAdd('test-group', channel);
    await layer.groupAdd('test-group', channel);
    await layer.groupSend('test-group', { type: 'once' });
    assert.equal((await layer.receive(channel)).type, 'once');
    assert.equal(await receiveWithin(layer, channel, 200), NOTHING);
  });

  t('test_receive_cancel: an aborted receive loses nothing, repeatedly', async (layer) => {
    const channel = await layer.newChannel();
    for (let i = 0; i < 10; i++) {
      const controller = new AbortController();
      const pending = layer.receive(channel, controller.signal);
      controller.abort(new Error('cancelled'));
      await assert.rejects(pending, /cancelled/);
    }
    await layer.send(channel, { type: 'after.cancel' });
    assert.equal((await layer.receive(channel)).type, 'after.cancel');
    // Sends racing aborts: every message is received exactly once.
    let received = 0;
    for (let i = 0; i < 20; i++) {
      const controller = new AbortController();
      const pending = layer.receive(channel, controller.signal).then(() => 1, () => 0);
      await layer.send(channel, { type: 'race', i });
      if (i % 2 === 0) controller.abort(new Error('cancelled'));
      else await delay(1);
      controller.abort(new Error('cancelled'));
      received += await pending;
    }
    for (;;) {
      const message = await receiveWithin(layer, channel, 300);
      if (message === NOTHING) break;
      received++;
    }
    assert.equal(received, 20);
  }, { capacity: 100 });

  t('a receive aborted before it starts rejects with the signal reason', async (layer) => {
    const reason = new Error('already');
    await assert.rejects(layer.receive(await layer.newChannel(), AbortSignal.abort(reason)), (error) => error === reason);
  });

  t('test_message_expiry__earliest_message_expires: a message older than expiry is not received', async (layer) => {
    // Margins of over a second either side of the expiry: a stalled machine must not expire Second too.
    const channel = await layer.newChannel();
    await layer.send(channel, { type: 'First' });
    await delay(1400);
    await layer.send(channel, { type: 'Second' });
    await delay(800);
    assert.equal((await expectMessage(layer, channel)).type, 'Second');
    assert.equal(await receiveWithin(layer, channel, 200), NOTHING);
  }, { expiry: 2 });

  t('test_message_expiry__all_messages_under_expiration_time: fresh messages are all received', async (layer) => {
    const channel = await layer.newChannel();
    for (const type of ['First', 'Second', 'Third']) {
      await layer.send(channel, { type });
      await delay(100);
    }
    for (const type of ['First', 'Second', 'Third']) assert.equal((await layer.receive(channel)).type, type);
  }, { expiry: 2 });

  t('test_message_expiry__group_send: group messages expire too', async (layer) => {
    const channel = await layer.newChannel();
    await layer.groupAdd('test-group', channel);
    await layer.groupSend('test-group', { type: 'First' });
    await delay(1200);
    await layer.send(channel, { type: 'Second' });
    assert.equal((await expectMessage(layer, channel)).type, 'Second');
    assert.equal(await receiveWithin(layer, channel, 200), NOTHING);
  }, { expiry: 1, groupExpiry: 100 });

  t('test_flush: flush forgets messages and groups', async (layer) => {
    const channel = await layer.newChannel();
    await layer.groupAdd('test-group', channel);
    await layer.send(channel, { type: 'before.flush' });
    await layer.flush();
    assert.equal(await receiveWithin(layer, channel, 200), NOTHING);
    const again = await layer.newChannel();
    const pending = receiveWithin(layer, again, 300);
    await delay(50);
    await layer.groupSend('test-group', { type: 'after.flush' });
    assert.equal(await pending, NOTHING);
  });

  t('layer reports groups and flush extensions and a positive expiry', async (layer) => {
    assert.deepEqual([...layer.extensions].sort(), ['flush', 'groups']);
    assert.ok(layer.expiry > 0);
  });

  /** The layer as a {@link LeasableLayer}: every layer offers leases (runOnce needs them). */
  const leasing = (layer: ChannelLayer): LeasableLayer => {
    assert.ok(isLeasable(layer), 'the layer offers leases');
    return layer;
  };

  t('tap: an armed tap gets the next message (direct and group), once; queued ones are taken in order; a second tap is refused', async (layer) => {
    assert.equal(typeof layer.tap, 'function', 'every layer here offers taps');
    const channel = await layer.newChannel();
    await layer.groupAdd('tapped', channel);
    const got: LayerMessage[] = [];
    let wake: () => void = () => {};
    const tap = layer.tap!(channel, (message) => { got.push(message); wake(); });
    const next = () => new Promise<void>((resolve) => { wake = resolve; });
    assert.throws(() => layer.tap!(channel, () => {}), /already tapped/);
    assert.equal(tap.take(), undefined);
    tap.arm();
    let arrived = next();
    await layer.send(channel, { type: 'direct' });
    await arrived;
    arrived = next();
    tap.arm();
    await layer.groupSend('tapped', { type: 'group' });
    await arrived;
    assert.deepEqual(got.map((m) => m.type), ['direct', 'group']);
    // Unarmed: messages queue on the channel and take() returns them in order.
    await layer.send(channel, { type: 'q1' });
    await layer.send(channel, { type: 'q2' });
    let first: LayerMessage | undefined;
    for (let i = 0; i < 100 && first === undefined; i++) { first = tap.take(); if (first === undefined) await delay(20); }
    assert.equal(first?.type, 'q1');
    let second: LayerMessage | undefined;
    for (let i = 0; i < 100 && second === undefined; i++) { second = tap.take(); if (second === undefined) await delay(20); }
    assert.equal(second?.type, 'q2');
    assert.equal(got.length, 2, 'the listener is called only when armed');
    tap.close();
    tap.close();
    layer.tap!(channel, () => {}).close();
  }, { capacity: 100 });

  t('lease: one holder per name; renew and release; each acquisition has a larger generation', async (layer) => {
    const leases = leasing(layer);
    const first = await leases.lease('job', 5000);
    assert.ok(first !== null);
    assert.equal(first.name, 'job');
    assert.equal(await leases.lease('job', 5000), null, 'held: nobody else gets it');
    const other = await leases.lease('other-job', 5000);
    assert.ok(other !== null, 'names are independent');
    assert.equal(await first.renew(5000), true);
    await first.release();
    const second = await leases.lease('job', 5000);
    assert.ok(second !== null && second.generation > first.generation && second.token !== first.token);
    assert.equal(await first.renew(5000), false, 'a released lease cannot be renewed');
    await first.release(); // not the holder any more: leaves the new holder's lease alone
    assert.equal(await leases.lease('job', 5000), null);
    await second.release();
    await other.release();
    await assert.rejects(leases.lease('bad name', 1000), InvalidNameError);
    await assert.rejects(leases.lease('job', 0), TypeError);
  });

  t('lease: it expires after ttl unless renewed, and the late holder cannot renew it back', async (layer) => {
    const leases = leasing(layer);
    const first = await leases.lease('ticker', 300);
    assert.ok(first !== null);
    await delay(150);
    assert.equal(await first.renew(300), true);
    await delay(200);
    assert.equal(await leases.lease('ticker', 300), null, 'renewed: still held 350 ms after it was taken');
    await delay(250);
    const second = await leases.lease('ticker', 5000);
    assert.ok(second !== null && second.generation > first.generation, 'expired: another holder takes it');
    assert.equal(await first.renew(5000), false);
    await second.release();
  });

  if (options.persistent) {
    t('test_multi_send_receive: FIFO on a general channel sent before receiving', async (layer) => {
      for (const type of ['message.1', 'message.2', 'message.3']) await layer.send('test-channel-3', { type });
      for (const type of ['message.1', 'message.2', 'message.3']) assert.equal((await layer.receive('test-channel-3')).type, type);
    });

    t('test_receive_cancel: aborted receives on a general channel lose nothing', async (layer) => {
      let received = 0;
      for (let i = 0; i < 10; i++) {
        const controller = new AbortController();
        const pending = layer.receive('worker-tasks', controller.signal).then(() => 1, () => 0);
        await delay(i % 3);
        await layer.send('worker-tasks', { type: 'task', i });
        controller.abort(new Error('cancelled'));
        received += await pending;
      }
      for (;;) {
        const message = await receiveWithin(layer, 'worker-tasks', 1500);
        if (message === NOTHING) break;
        received++;
      }
      assert.equal(received, 10);
    }, { capacity: 100 });
  }

  if (options.capacity) {
    t('test_send_capacity: the 4th send on a capacity-3 channel raises ChannelFull', async (layer) => {
      for (let i = 0; i < 3; i++) await layer.send('test-channel-cap', { type: 'message', i });
      await assert.rejects(layer.send('test-channel-cap', { type: 'message' }), (error) => error instanceof ChannelFull && error.channel === 'test-channel-cap');
      const channel = await layer.newChannel();
      for (let i = 0; i < 3; i++) await layer.send(channel, { type: 'message', i });
      await assert.rejects(layer.send(channel, { type: 'message' }), ChannelFull);
    });

    t('test_send_specific_capacity: channelCapacity patterns (exact and glob) win over capacity', async (layer) => {
      await layer.send('one', { type: 'first' });
      await assert.rejects(layer.send('one', { type: 'second' }), ChannelFull);
      for (let i = 0; i < 2; i++) await layer.send('thumbs-42', { type: 'thumb' });
      await assert.rejects(layer.send('thumbs-42', { type: 'thumb' }), ChannelFull);
      for (let i = 0; i < 5; i++) await layer.send('other', { type: 'other' });
    }, { capacity: 5, channelCapacity: { one: 1, 'thumbs-*': 2 } });

    t('test_group_send_capacity: a full member gets the first messages, later ones are dropped', async (layer) => {
      const channel = await layer.newChannel();
      await layer.groupAdd('test-group', channel);
      for (let i = 0; i < 4; i++) await layer.groupSend('test-group', { type: `message.${i}` });
      for (let i = 0; i < 3; i++) assert.equal((await layer.receive(channel)).type, `message.${i}`);
      assert.equal(await receiveWithin(layer, channel, 200), NOTHING);
    });

    t('test_group_send_capacity_multiple_channels: a pre-filled member is skipped, the other is not', async (layer) => {
      const one = await layer.newChannel('one');
      const two = await layer.newChannel('two');
      await layer.groupAdd('test-group', one);
      await layer.groupAdd('test-group', two);
      await layer.send(one, { type: 'message.0' });
      for (let i = 1; i < 4; i++) await layer.groupSend('test-group', { type: `message.${i}` });
      const got = async (channel: string) => {
        const types: string[] = [];
        for (;;) {
          const message = await receiveWithin(layer, channel, 200);
          if (message === NOTHING) return types;
          types.push(message.type);
        }
      };
      assert.deepEqual(await got(one), ['message.0', 'message.1', 'message.2']);
      assert.deepEqual(await got(two), ['message.1', 'message.2', 'message.3']);
    });
  }

  if (options.groupExpiry) {
    t('group expiry: a membership older than groupExpiry no longer receives', async (layer) => {
      const old = await layer.newChannel();
      await layer.groupAdd('test-group', old);
      await delay(1200);
      const fresh = await layer.newChannel();
      await layer.groupAdd('test-group', fresh);
      await layer.groupSend('test-group', { type: 'late' });
      assert.equal((await layer.receive(fresh)).type, 'late');
      assert.equal(await receiveWithin(layer, old, 200), NOTHING);
    }, { groupExpiry: 1 });
  }

  if (options.shared) {
    t('test_receive_on_non_owned_general_channel: another instance receives what the first sends', async (first) => {
      const second = await makeLayer({}, namespace);
      opened.push(second);
      const pending = second.receive('test-channel-shared', AbortSignal.timeout(5000));
      await delay(100);
      await first.send('test-channel-shared', { type: 'message.1' });
      assert.equal((await pending).type, 'message.1');
    });

    t('lease: two instances (processes) sharing the backend get one holder per name', async (first) => {
      const second = await makeLayer({}, namespace);
      opened.push(second);
      const [a, b] = await Promise.all([leasing(first).lease('shared-job', 5000), leasing(second).lease('shared-job', 5000)]);
      assert.equal([a, b].filter((lease) => lease !== null).length, 1);
      const held = (a ?? b)!;
      await held.release();
      const next = await leasing(a === null ? first : second).lease('shared-job', 5000);
      assert.ok(next !== null && next.generation > held.generation);
      await next.release();
    });

    t('groupSend from one instance reaches members of both instances', async (first) => {
      const second = await makeLayer({}, namespace);
      opened.push(second);
      const [a, b] = [await first.newChannel(), await second.newChannel()];
      await first.groupAdd('shared-group', a);
      await second.groupAdd('shared-group', b);
      await first.groupSend('shared-group', { type: 'both' });
      assert.equal((await first.receive(a)).type, 'both');
      assert.equal((await second.receive(b)).type, 'both');
    });
  }
}
