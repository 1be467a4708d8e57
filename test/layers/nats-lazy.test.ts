// The nats package is an optional peer dependency: importing 'switchyard' (and
// building the default layer) never loads it; a nats:// layer URL does, through
// the registry's lazy import. This file imports nothing else that could load it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const loaded = (): boolean => Object.keys(require.cache).some((path) => path.includes('/node_modules/nats/'));

test('importing switchyard loads no nats client; preparing a nats:// CHANNEL_LAYER_URL does', async () => {
  const switchyard = await import('../../src/index.js');
  switchyard.configureChannelLayers({ default: 'memory://' });
  await switchyard.prepareChannelLayers();
  assert.equal(loaded(), false, 'the root does not load nats');
  assert.throws(() => switchyard.buildChannelLayer('nats://127.0.0.1:4222'), /not loaded: import 'switchyard\/nats' or await prepareChannelLayers\(\) first/);
  switchyard.configureChannelLayers({ default: 'nats://127.0.0.1:4222?prefix=sy-lazy' });
  try {
    await switchyard.prepareChannelLayers();
    assert.equal(loaded(), true);
    assert.equal(switchyard.getChannelLayer()!.constructor.name, 'NatsChannelLayer');
  } finally {
    await switchyard.closeChannelLayers();
    switchyard.resetChannelLayers();
  }
});
