// CHANNEL_LAYER_URL with redis schemes: the backend module is loaded on demand by
// prepareChannelLayers() (this file must not import src/redis statically).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidChannelLayerError, buildChannelLayer, closeChannelLayers, configureChannelLayers, getChannelLayer, prepareChannelLayers } from 'switchyard';
import { guardRedisKeys } from '../helpers/redis-clean.js';

test('redis URLs need switchyard/redis; prepareChannelLayers() loads it for core and pub/sub flavours', async () => {
  assert.throws(() => buildChannelLayer('redis://127.0.0.1:6379/0'), InvalidChannelLayerError);
  const prefix = `sy-registry-${process.pid}-`;
  configureChannelLayers({ default: `redis+pubsub://127.0.0.1:6379/0?prefix=${prefix}`, core: `redis://127.0.0.1:6379/0?prefix=${prefix}` });
  await prepareChannelLayers();
  const pubsub = getChannelLayer()!;
  const core = getChannelLayer('core')!;
  assert.equal(pubsub.constructor.name, 'RedisPubSubChannelLayer');
  assert.equal(core.constructor.name, 'RedisChannelLayer');
  const channel = await core.newChannel();
  await core.send(channel, { type: 'via.registry' });
  assert.equal((await core.receive(channel)).type, 'via.registry');
  await core.flush();
  await closeChannelLayers();
});

guardRedisKeys(`sy-registry-${process.pid}-`);
