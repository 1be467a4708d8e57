// Ports django/channels tests/test_layers.py and the in-memory specifics of tests/test_inmemorychannel.py
// (the behaviour every layer shares runs in test/layers/conformance.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ChannelAlreadyTapped,
  ChannelFull,
  ImproperlyConfigured,
  InMemoryChannelLayer,
  InvalidChannelLayerError,
  InvalidMessageError,
  InvalidNameError,
  buildChannelLayer,
  configureChannelLayers,
  getChannelLayer,
  requireValidChannelName,
  requireValidGroupName,
  resetChannelLayers,
  setChannelLayer,
} from 'switchyard';
// An internal helper (the channelCapacity globs), not part of the public surface.
import { globToRegExp } from '../../src/layers/base.js';
import { abortAfter, delay } from '../helpers/time.js';

test('test_channel_and_group_name_validation', () => {
  for (const check of [requireValidChannelName, requireValidGroupName]) {
    assert.throws(() => check('¯\\_(ツ)_/¯'), InvalidNameError);
    assert.doesNotThrow(() => check('chat'));
    assert.throws(() => check('chat'.repeat(100)), InvalidNameError);
    assert.throws(() => check(''), InvalidNameError);
    assert.throws(() => check(42), InvalidNameError);
  }
  assert.doesNotThrow(() => requireValidChannelName('specific.abc!def'));
  assert.throws(() => requireValidGroupName('specific.abc!def'), InvalidNameError);
  assert.throws(() => requireValidChannelName('a!b!c'), InvalidNameError);
  assert.throws(() => requireValidChannelName('has space'), InvalidNameError);
  assert.throws(() => requireValidChannelName('with:colon'), InvalidNameError);
  // A Django peer may mint Unicode local parts; they are accepted.
  assert.doesNotThrow(() => requireValidChannelName('spec.x!ü'));
  assert.throws(() => requireValidChannelName('specific.abc!def', true), /must end at the !/);
  assert.doesNotThrow(() => requireValidChannelName('specific.abc!', true));
});

test('test_group_name_length_error_message / test_channel_name_length_error_message', () => {
  assert.throws(() => requireValidGroupName('a'.repeat(101)), /^InvalidNameError: Group name must be a valid unicode string with length < 100 containing only ASCII alphanumerics, hyphens, underscores, or periods/);
  assert.throws(() => requireValidChannelName('a'.repeat(101)), /Channel name must be a valid unicode string with length < 100/);
  assert.doesNotThrow(() => requireValidChannelName('a'.repeat(99)));
  assert.throws(() => requireValidChannelName('a'.repeat(100)), InvalidNameError);
});

test('TestChannelLayerManager.test_config_instance: options reach the layer; the cache is cleared on reconfiguration', () => {
  configureChannelLayers({ default: 'memory://?expiry=100500&capacity=7' });
  const first = getChannelLayer() as InMemoryChannelLayer;
  assert.equal(first.expiry, 100500);
  assert.equal(first.capacity, 7);
  assert.equal(getChannelLayer(), first, 'cached per alias');
  configureChannelLayers({ default: 'memory://' });
  assert.notEqual(getChannelLayer(), first, 'test_override_settings: new configuration, new layer');
  assert.equal(getChannelLayer('unconfigured'), null);
});

test('CHANNEL_LAYER_URL picks the default layer; memory:// when unset', () => {
  const saved = process.env.CHANNEL_LAYER_URL;
  try {
    configureChannelLayers({});
    assert.equal(getChannelLayer(), null, 'explicit empty configuration has no default');
    process.env.CHANNEL_LAYER_URL = 'memory://?capacity=3';
    resetChannelLayers();
    assert.equal((getChannelLayer() as InMemoryChannelLayer).capacity, 3);
    delete process.env.CHANNEL_LAYER_URL;
    resetChannelLayers();
    assert.equal((getChannelLayer() as InMemoryChannelLayer).capacity, 100);
    process.env.CHANNEL_LAYER_URL = 'redis+nothing://x';
    resetChannelLayers();
    assert.throws(() => getChannelLayer(), InvalidChannelLayerError);
  } finally {
    if (saved === undefined) delete process.env.CHANNEL_LAYER_URL;
    else process.env.CHANNEL_LAYER_URL = saved;
    resetChannelLayers();
  }
});

test('test_backend_import_error_not_hidden / bad configuration is a clear error', () => {
  assert.throws(() => buildChannelLayer('nonsense'), ImproperlyConfigured);
  assert.throws(() => buildChannelLayer('nats://127.0.0.1'), (error: unknown) => error instanceof InvalidChannelLayerError && /No channel layer backend for nats:/.test((error as Error).message));
  assert.throws(() => buildChannelLayer('memory://?capacity=-1'), /'capacity' must be a positive number/);
  assert.throws(() => buildChannelLayer(() => { throw new Error('constructor failed'); }), /constructor failed/);
});

test('setChannelLayer swaps a layer in and returns the old one', () => {
  const a = new InMemoryChannelLayer();
  const b = new InMemoryChannelLayer();
  configureChannelLayers({ default: a });
  assert.equal(getChannelLayer(), a);
  assert.equal(setChannelLayer('default', b), a);
  assert.equal(getChannelLayer(), b);
});

test('fnmatch globs for channelCapacity, anchored, as Python', () => {
  assert.ok(globToRegExp('http.response!*').test('http.response!abc'));
  assert.ok(!globToRegExp('http.response!*').test('xhttp.response!abc'));
  assert.ok(globToRegExp('tiny').test('tiny'));
  assert.ok(!globToRegExp('tiny').test('tiny2'));
  assert.ok(globToRegExp('a?c').test('abc'));
  assert.ok(globToRegExp('[!x]bc').test('abc'));
  assert.ok(!globToRegExp('[!x]bc').test('xbc'));
});

test('per-channel capacities work from a dict (Django crashes here: §1.8 bug)', async () => {
  const layer = new InMemoryChannelLayer({ capacity: 3, channelCapacity: { tiny: 1, 'big-*': 5 } });
  await layer.send('tiny', { type: 'm' });
  await assert.rejects(layer.send('tiny', { type: 'm' }), ChannelFull);
  for (let i = 0; i < 5; i++) await layer.send('big-one', { type: 'm' });
  await assert.rejects(layer.send('big-one', { type: 'm' }), ChannelFull);
  for (let i = 0; i < 3; i++) await layer.send('other', { type: 'm' });
  await assert.rejects(layer.send('other', { type: 'm' }), (e: unknown) => e instanceof ChannelFull && e.channel === 'other');
});

test('test_race_empty: a waiting receive gets a message sent later', async () => {
  const layer = new InMemoryChannelLayer();
  const waiting = layer.receive('test-channel-1');
  await delay(5);
  await layer.send('test-channel-1', { type: 'test.message', text: 'Ahoy-hoy!' });
  assert.deepEqual(await waiting, { type: 'test.message', text: 'Ahoy-hoy!' });
});

test('test_expiry_single / test_expiry_multi: expired messages are dropped, later ones delivered', async () => {
  const layer = new InMemoryChannelLayer({ expiry: 0.05 });
  await layer.send('test-channel-1', { type: 'message.1' });
  await delay(80);
  await layer.send('test-channel-1', { type: 'message.2' });
  assert.equal((await layer.receive('test-channel-1')).type, 'message.2');
  await assert.rejects(layer.receive('test-channel-1', abortAfter(30)), /timed out/);
});

test('test_expiry_unread: a channel that lets a message expire leaves its groups (Django rule)', async () => {
  const layer = new InMemoryChannelLayer({ expiry: 0.05 });
  await layer.groupAdd('g', 'unread-channel');
  await layer.groupAdd('g', 'live-channel');
  await layer.groupSend('g', { type: 'first' });
  await layer.receive('live-channel');
  await delay(80);
  // The sweep on another channel's receive notices the expired message.
  await layer.receive('live-channel', abortAfter(10)).catch(() => {});
  await layer.groupSend('g', { type: 'second' });
  await assert.rejects(layer.receive('unread-channel', abortAfter(30)), /timed out/);
  assert.equal((await layer.receive('live-channel')).type, 'second');
});

test('group membership expires after groupExpiry seconds', async () => {
  const layer = new InMemoryChannelLayer({ groupExpiry: 0.03 });
  await layer.groupAdd('g', 'c1');
  await delay(50);
  await layer.groupSend('g', { type: 'late' });
  await assert.rejects(layer.receive('c1', abortAfter(20)), /timed out/);
});

test('a group message is one frozen object for every member, not a copy per member', async () => {
  const layer = new InMemoryChannelLayer();
  for (const c of ['a', 'b', 'c']) await layer.groupAdd('room', c);
  const message = { type: 'chat.message', nested: { list: [1, 2] } };
  await layer.groupSend('room', message);
  const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((ch) => layer.receive(ch)));
  assert.equal(a, b);
  assert.equal(b, c);
  assert.ok(Object.isFrozen(a) && Object.isFrozen(a!.nested));
  assert.throws(() => { (a as { type: string }).type = 'changed'; }, TypeError);
});

test('messages must be plain objects with a string type and no reserved key', async () => {
  const layer = new InMemoryChannelLayer();
  await assert.rejects(layer.send('c', 'text' as never), InvalidMessageError);
  await assert.rejects(layer.send('c', [] as never), InvalidMessageError);
  await assert.rejects(layer.send('c', { text: 'no type' } as never), /string 'type'/);
  await assert.rejects(layer.send('c', new (class X { type = 'x'; })() as never), /not a class instance/);
  await assert.rejects(layer.send('c', { type: 'x', __asgi_channel__: 'c' }), /reserved/);
  await assert.rejects(layer.send('bad name', { type: 'x' }), InvalidNameError);
});

test('a channel has one tap at a time: a second one is refused (ChannelAlreadyTapped) until the first closes', async () => {
  const layer = new InMemoryChannelLayer();
  const channel = await layer.newChannel();
  const first = layer.tap(channel, () => {});
  assert.throws(() => layer.tap(channel, () => {}), (error: unknown) => {
    assert.ok(error instanceof ChannelAlreadyTapped);
    assert.equal(error.code, 'SY_CHANNEL_ALREADY_TAPPED');
    assert.equal(error.channel, channel);
    return true;
  });
  first.close();
  layer.tap(channel, () => {}).close();
});
