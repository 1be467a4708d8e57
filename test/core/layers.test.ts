// Ports django/channels tests/test_layers.py, and the in-memory layer's own rules (configuration,
// capacities from a dict, message shape, taps). The behaviour every layer shares runs in
// test/layers/conformance.ts; tests/test_inmemorychannel.py is ported in test/ports/inmemorychannel.test.ts.
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
  assert.throws(() => buildChannelLayer('amqp://127.0.0.1'), (error: unknown) => error instanceof InvalidChannelLayerError && /No channel layer backend for amqp:/.test((error as Error).message));
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
