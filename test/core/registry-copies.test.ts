// Two copies of the library in one process (an app that bundles its own, or
// dist/ beside src/) share one layer registry: a backend or a configuration
// made through one copy is seen by the other.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InMemoryChannelLayer, configureChannelLayers, getChannelLayer, registerLayerBackend, resetChannelLayers } from 'switchyard';

/** A second instance of the registry module: another URL is another module to ESM. */
const secondCopy = async () =>
  (await import(`${new URL('../../src/layers/registry.ts', import.meta.url).href}?copy=2`)) as typeof import('../../src/layers/registry.js');

test('a configuration made through another copy of the registry is the one this copy sees', async (t) => {
  t.after(resetChannelLayers);
  const other = await secondCopy();
  const layer = new InMemoryChannelLayer();
  other.configureChannelLayers({ default: layer });
  assert.equal(getChannelLayer(), layer);
  configureChannelLayers({ default: 'memory://' });
  assert.notEqual(other.getChannelLayer(), layer, 'and the other way round');
});

test('a backend registered through another copy builds layers for this copy', async (t) => {
  t.after(resetChannelLayers);
  const other = await secondCopy();
  const layer = new InMemoryChannelLayer();
  other.registerLayerBackend('copytest:', () => layer);
  configureChannelLayers({ default: 'copytest://anywhere' });
  assert.equal(getChannelLayer(), layer);
  registerLayerBackend('copytest:', () => new InMemoryChannelLayer());
});
