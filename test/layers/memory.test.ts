// Runs the shared layer conformance suite on the in-memory layer.
import { InMemoryChannelLayer } from '../../src/layers/memory.js';
import { layerConformance } from './conformance.js';

layerConformance('InMemoryChannelLayer', (options) => new InMemoryChannelLayer(options), {
  capacity: true,
  persistent: true,
  groupExpiry: true,
  shared: false,
});
