// The shared conformance suite and the channels_redis pub/sub specifics
// (test_pubsub.py) on a real Redis.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RedisPubSubChannelLayer } from '../../src/redis/index.js';
import { layerConformance } from './conformance.js';

const REDIS = 'redis://127.0.0.1:6379/0';

layerConformance('RedisPubSubChannelLayer', (options, namespace) =>
  new RedisPubSubChannelLayer({ hosts: [REDIS], prefix: namespace, capacity: options.capacity, expiry: options.expiry }), {
  capacity: false,
  persistent: false,
  groupExpiry: false,
  shared: true,
});
