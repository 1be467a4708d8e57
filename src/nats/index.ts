/**
 * `switchyard/nats`: a channel layer on NATS (the `nats` package, an
 * optional peer dependency: install it to use this subpath; `switchyard`
 * itself never loads it).
 *
 * - {@link NatsChannelLayer}: channels, groups (one publish per group send),
 *   capacity and expiry on core NATS; group history on JetStream; leases
 *   (`runOnce`) on JetStream KV.
 *
 * Importing this module registers the URL schemes `nats:`, `nats+tls:` and
 * `tls:` with the layer registry, so `CHANNEL_LAYER_URL=nats://127.0.0.1:4222`
 * works (the registry imports it when the URL needs it; see `config.ts` for
 * the query options). Not compatible with Django Channels: channels_redis
 * speaks Redis only.
 *
 * @example
 * ```ts
 * import { configureChannelLayers } from 'switchyard';
 * import { NatsChannelLayer } from 'switchyard/nats';
 * configureChannelLayers({ default: new NatsChannelLayer({ servers: ['127.0.0.1:4222'], groupHistory: ['chat_*'] }) });
 * // or: CHANNEL_LAYER_URL=nats://127.0.0.1:4222?groupHistory=chat_*
 * ```
 */
import { registerLayerBackend } from '../layers/registry.js';
import { NATS_SCHEMES, natsOptionsFromUrl } from './config.js';
import { NatsChannelLayer } from './layer.js';

export { NatsChannelLayer } from './layer.js';
export { NATS_SCHEMES, type NatsChannelLayerOptions, type NatsLayerStats, natsOptionsFromUrl } from './config.js';
export { QUEUE_GROUP, channelSubject, groupSubject, historyStreamName, historySubject, leaseBucketName } from './subjects.js';
export type { LayerLogger } from '../redis/log.js';

for (const scheme of NATS_SCHEMES) registerLayerBackend(scheme, (url) => new NatsChannelLayer(natsOptionsFromUrl(url)));
