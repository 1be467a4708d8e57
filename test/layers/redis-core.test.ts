// The shared conformance suite and the channels_redis core-layer specifics
// (test_core.py, test_serializers.py, test_utils.py) on a real Redis.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RedisChannelLayer } from '../../src/redis/index.js';
import { layerConformance } from './conformance.js';

const REDIS = 'redis://127.0.0.1:6379/0';

layerConformance('RedisChannelLayer', (options, namespace) => new RedisChannelLayer({ ...options, hosts: [REDIS], prefix: namespace }), {
  capacity: true,
  persistent: true,
  groupExpiry: true,
  shared: true,
});
