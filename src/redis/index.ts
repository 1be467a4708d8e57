/**
 * `switchyard/redis`: channel layers on Redis, byte-compatible with Django's
 * channels_redis, so Switchyard and Django Channels processes can share one
 * layer (channels, groups, encryption, sharding).
 *
 * - {@link RedisChannelLayer}: channels_redis's `core` layer (sorted sets,
 *   capacity, expiry, one copy per process for group sends).
 * - {@link RedisPubSubChannelLayer}: channels_redis's `pubsub` layer
 *   (PUBLISH/SUBSCRIBE, no persistence).
 *
 * Switchyard's own keys live under `<prefix>switchyard:` (a `:` no channel
 * name holds, so they never meet channels_redis's): leases (`runOnce`), and
 * on the core layer each process's liveness lease and the registry of
 * Switchyard processes, with which a dead process's group members are
 * removed (see {@link processLivenessKey}).
 *
 * Importing this module registers the URL schemes `redis:`, `rediss:`,
 * `redis+pubsub:` and `rediss+pubsub:`, and their Redis Cluster forms
 * (`redis+cluster:`, `redis+pubsub+cluster:`, `rediss+…`), with the layer registry, so
 * `CHANNEL_LAYER_URL=redis://127.0.0.1:6379/0?prefix=asgi` works. Several
 * hosts (shards) are given with repeated `host=` parameters:
 * `redis://h1:6379/0?host=h2:6380&host=redis://h3:6379/1` (see `config.ts`).
 *
 * @example
 * ```ts
 * import { configureChannelLayers } from 'switchyard';
 * import { RedisChannelLayer } from 'switchyard/redis';
 * configureChannelLayers({ default: new RedisChannelLayer({ hosts: ['redis://127.0.0.1:6379/0'] }) });
 * // or: CHANNEL_LAYER_URL=redis+pubsub://127.0.0.1:6379/0
 * ```
 */
import { registerLayerBackend } from '../layers/registry.js';
import { layerOptionsFromUrl } from './config.js';
import { RedisChannelLayer, type RedisChannelLayerOptions } from './core.js';
import { RedisPubSubChannelLayer, type RedisPubSubChannelLayerOptions } from './pubsub.js';

export { RedisChannelLayer, type RedisChannelLayerOptions } from './core.js';
export { RedisPubSubChannelLayer, type RedisPubSubChannelLayerOptions } from './pubsub.js';
export { type RedisHost, layerOptionsFromUrl, normalizeHosts } from './config.js';
export { Fernet, InvalidToken, MultiFernet, deriveFernetKey } from './fernet.js';
export { type MessageSerializer, SerializerDoesNotExist, getSerializer, jsonSerializer, msgpackSerializer, registerSerializer } from './serializers.js';
export { crc32, shardIndex } from './sharding.js';
export { leaseGenerationKey, leaseKey } from './lease.js';
export { processLivenessKey, processRegistryKey } from './liveness.js';
export { ASGI_CHANNEL, MessageCodec, ScoreClock, channelKey, groupKey, pubsubGroupChannel } from './wire.js';
export type { LayerLogger } from './log.js';

for (const scheme of ['redis:', 'rediss:', 'redis+cluster:', 'rediss+cluster:']) {
  registerLayerBackend(scheme, (url) => new RedisChannelLayer(layerOptionsFromUrl(url) as RedisChannelLayerOptions));
  registerLayerBackend(scheme.replace(/^(rediss?)/, '$1+pubsub'), (url) =>
    new RedisPubSubChannelLayer(layerOptionsFromUrl(url) as RedisPubSubChannelLayerOptions),
  );
}
