/**
 * The options of the core Redis layer (`RedisChannelLayer`), apart so the
 * layer's file holds its behaviour only. Defaults are channels_redis's,
 * except where Switchyard adds an option of its own (`cluster`,
 * `processCapacity`, `processTtl`, `groupHistory`).
 */
import type { BaseLayerOptions } from '../layers/base.js';
import type { GroupHistoryConfig } from '../layers/history.js';
import type { RedisHost } from './config.js';
import type { LayerLogger } from './log.js';

/**
 * Options of `RedisChannelLayer`; defaults are channels_redis's.
 *
 * @example
 * ```ts
 * import { RedisChannelLayer, type RedisChannelLayerOptions } from 'switchyard/redis';
 *
 * const options: RedisChannelLayerOptions = { hosts: ['redis://127.0.0.1:6379/0'], capacity: 200, groupHistory: ['chat_*'] };
 * new RedisChannelLayer(options);
 * ```
 */
export interface RedisChannelLayerOptions extends BaseLayerOptions {
  /** Redis hosts (shards), in the same order in every process; with `cluster`, nodes of the cluster. Default `[redis://127.0.0.1:6379]`. */
  hosts?: readonly RedisHost[];
  /** The hosts are nodes of one Redis Cluster (any reachable one will do; see `keys.ts`). Default false. */
  cluster?: boolean;
  /**
   * The most group messages a process key holds (one key holds every channel
   * of a process: a group send lets it hold the capacity times the channels
   * its copy names, up to this; see `group-send.ts`). Default 1000.
   */
  processCapacity?: number;
  /** Key prefix. Default `"asgi"`. */
  prefix?: string;
  /** Fernet keys: the first encrypts, all decrypt. Default none. */
  symmetricEncryptionKeys?: readonly string[] | null;
  /** Random bytes before each stored message. Default 12. */
  randomPrefixLength?: number;
  /** `"msgpack"` (default), `"json"`, or a format registered with `registerSerializer`. */
  serializerFormat?: string;
  /** Messages buffered per local channel before the oldest is dropped. Default `capacity`. */
  receiveBufferSize?: number;
  /** Seconds each `BZPOPMIN` blocks. Default 1. */
  blockTimeout?: number;
  /** Ms to wait for the first connection before calls fail. Default 2000. */
  connectTimeout?: number;
  /**
   * Ms a command may go unanswered (a Redis that froze, a cluster that lost
   * its topology) before it fails with `LayerUnavailableError`. Default 10000.
   */
  commandTimeout?: number;
  /** Where warnings go (pino-compatible). Default Switchyard's logger. */
  logger?: LayerLogger;
  /**
   * Seconds this process's liveness lease lives without renewal (renewed every
   * third of it, once it has group members): when it lapses (the process was
   * killed), other processes remove its group members. `null`: no lease, as
   * channels_redis (members of a dead process stay until `groupExpiry`). Default 30.
   */
  processTtl?: number | null;
  /**
   * Groups that keep a bounded history of their messages in a Redis Stream,
   * for connections that come back (see `redis/history.ts` and
   * `docs/recovery.md`); URL: `?groupHistory=chat_*` or a JSON object. Default none.
   */
  groupHistory?: GroupHistoryConfig;
}
