// Runs the shared layer conformance suite on the in-memory layer, and its own lease rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InMemoryChannelLayer } from '../../src/layers/memory.js';
import { layerConformance } from './conformance.js';

layerConformance('InMemoryChannelLayer', (options) => new InMemoryChannelLayer(options), {
  capacity: true,
  persistent: true,
  groupExpiry: true,
  shared: false,
});

test('in-memory flush ends leases: the holder cannot renew, a new holder gets a larger generation', async () => {
  const layer = new InMemoryChannelLayer();
  const first = await layer.lease('job', 5000);
  assert.ok(first !== null);
  await layer.flush();
  assert.equal(await first.renew(5000), false);
  const second = await layer.lease('job', 5000);
  assert.ok(second !== null && second.generation > first.generation);
});
