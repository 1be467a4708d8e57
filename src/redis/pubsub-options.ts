/**
 * The options of the pub/sub Redis layer (`RedisPubSubChannelLayer`), apart
 * so the layer's file holds its behaviour only.
 */
import type { GroupHistoryConfig } from '../layers/history.js';
import type { LayerLogger } from './log.js';
import type { RedisHost } from './config.js';

/**
 * Options of `RedisPubSubChannelLayer`.
 *
 * @example
 * ```ts
 * import { RedisPubSubChannelLayer, type RedisPubSubChannelLayerOptions } from 'switchyard/redis';
 *
 * const options: RedisPubSubChannelLayerOptions = { hosts: ['redis://127.0.0.1:6379/0'], groupHistory: ['chat_*'] };
 * new RedisPubSubChannelLayer(options);
 * ```
 */
export interface RedisPubSubChannelLayerOptions {
  /** Redis hosts (shards), in the same order in every process; with `cluster`, nodes of the cluster. Default `[redis://127.0.0.1:6379]`. */
  hosts?: readonly RedisHost[];
  /** The hosts are nodes of one Redis Cluster: sharded pub/sub (Redis 7). Default false. */
  cluster?: boolean;
  /** Prefix of minted channel names and group pub/sub channels. Default `"asgi"`. */
  prefix?: string;
  /** Fernet keys (first encrypts, all decrypt; no TTL). Default none. */
  symmetricEncryptionKeys?: readonly string[] | null;
  /** `"msgpack"` (default), `"json"` or a registered format. */
  serializerFormat?: string;
  /** Messages buffered per local channel before the oldest is dropped. Default 100. */
  capacity?: number;
  /** Seconds a buffered message is kept unread. Default 60. */
  expiry?: number;
  /** Ms an aborted receive keeps its channel subscribed. Default 5000. */
  unsubscribeDelay?: number;
  /** Ms to wait for the first connection before calls fail. Default 2000. */
  connectTimeout?: number;
  /**
   * Ms a command may go unanswered (a Redis that froze, a cluster that lost
   * its topology) before it fails with `LayerUnavailableError`. Default 10000.
   */
  commandTimeout?: number;
  /** Called when a shard's subscriber connection is lost (messages published meanwhile are lost). */
  onDisconnect?: (host: string) => void;
  /** Called when a shard's subscriber connection is back and its subscriptions restored. */
  onReconnect?: (host: string) => void;
  /** Where warnings go (pino-compatible). */
  logger?: LayerLogger;
  /**
   * Groups that keep a bounded history of their messages in a Redis Stream,
   * for connections that come back (see `redis/history.ts` and
   * `docs/recovery.md`): what a subscriber that was away missed can be read
   * back. URL: `?groupHistory=chat_*` or a JSON object. Default none.
   */
  groupHistory?: GroupHistoryConfig;
}
