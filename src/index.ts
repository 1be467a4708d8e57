/**
 * Switchyard: the Django Channels model for TypeScript on Node.js.
 *
 * This entry holds the contract (ASGI types), consumers, routers, the channel
 * layer interface with the in-memory layer and its registry, and workers.
 * The server is `switchyard/server`, the Redis layers `switchyard/redis`, the
 * test tools `switchyard/testing`, the reconnecting client `switchyard/client`,
 * middleware (sessions, auth, origin checks, limits) `switchyard/middleware`.
 * Importing this entry loads no driver (ioredis, pg, prom-client): those
 * load with the subpath that needs them.
 *
 * @example
 * ```ts
 * import { ProtocolTypeRouter, URLRouter, rePath, JsonWebsocketConsumer } from 'switchyard';
 *
 * class Echo extends JsonWebsocketConsumer {
 *   override async receiveJson(content: unknown) { await this.sendJson(content); }
 * }
 * export const application = ProtocolTypeRouter({
 *   websocket: URLRouter([rePath(/^ws\/echo\/$/, Echo.asApp())]),
 * });
 * ```
 */
export * from './asgi.js';
// The core errors; each subpath exports its own (TimeoutError from
// `switchyard/testing`, LifespanError from `switchyard/server`...), all
// defined in errors.ts.
export {
  AcceptConnection,
  ChannelAlreadyTapped,
  ChannelFull,
  DeliveryIncompleteError,
  DenyConnection,
  ImproperlyConfigured,
  InvalidChannelLayerError,
  InvalidMessageError,
  InvalidNameError,
  LayerUnavailableError,
  LeadershipLost,
  MessageTooLarge,
  NoHandlerError,
  ProtocolError,
  RouteNotFound,
  SessionUpdateError,
  StopConsumer,
  SuspiciousOperation,
  SwitchyardError,
  TooManyGroups,
} from './errors.js';
export * from './consumers/index.js';
export {
  ChannelNameRouter,
  PATH_ROUTING,
  ProtocolTypeRouter,
  URLRouter,
  inheritPathRouting,
  path,
  rePath,
  registerConverter,
} from './routing.js';
export type { PathConverter, Route, RouteOptions } from './routing.js';
/**
 * The rules a layer must enforce, for authors of third-party layers: a layer
 * of yours refuses the same names and messages as the built-in ones (and so
 * passes the shared conformance suite). Their building blocks (capacity
 * globs, freezing, the value walk) stay internal.
 */
export {
  EXCEPT_KEY,
  MAX_NAME_LENGTH,
  requireValidChannelName,
  requireValidGroupName,
  requireValidMessage,
} from './layers/base.js';
export type { BaseLayerOptions, ChannelLayer, ChannelTap, GroupSendOptions, LayerExtension, TapListener, TappableLayer } from './layers/base.js';
/** The base of a layer wrapper: it forwards the whole contract, taps and leases included. */
export { DelegatingLayer } from './layers/delegating.js';
/** Group batching (the seeds' `bulk_messages`): also the `groupBatching` option of every layer URL. */
export { GroupBatchingLayer } from './layers/batching.js';
export type { BatchingOptions, GroupBatchingConfig, GroupBatchingLayerOptions } from './layers/batching.js';
export { LocalLeases, isLeasable, requireValidLease } from './layers/lease.js';
export type { LeasableLayer, Lease } from './layers/lease.js';
export { runOnce } from './layers/run-once.js';
export type { Leader, RunOnceLogger, RunOnceOptions } from './layers/run-once.js';
export { POSITION_KEY } from './layers/history.js';
export type { GroupHistoryConfig, HistoryOptions, HistoryRead, MessagePosition, StreamPosition } from './layers/history.js';
export { SLOW_CONSUMER_CLOSE_CODE } from './layers/slow-consumers.js';
export type { SlowConsumer, SlowConsumerConfig, SlowConsumerPolicy } from './layers/slow-consumers.js';
export { InMemoryChannelLayer } from './layers/memory.js';
export type { InMemoryChannelLayerOptions } from './layers/memory.js';
export {
  buildChannelLayer,
  closeChannelLayers,
  configureChannelLayers,
  getChannelLayer,
  prepareChannelLayers,
  registerLayerBackend,
  resetChannelLayers,
  setChannelLayer,
} from './layers/registry.js';
export type { LayerConfig, LayerFactory } from './layers/registry.js';
export { runWorker } from './worker.js';
export type { WorkerOptions } from './worker.js';
export { logger, setLogger } from './log.js';
