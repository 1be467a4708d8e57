/**
 * Group history on Redis (both layers): the `groupHistory` of
 * `layers/history.ts`, kept in one Redis Stream per group, so every process
 * sharing the Redis agrees on each group's epoch and offsets.
 *
 * How it works:
 * - Keys, on the shard the layer uses for the group (Switchyard's own
 *   `<prefix>switchyard:` space, which no channels_redis key can reach; on a
 *   Redis Cluster both are tagged `{<group>}`, see `keys.ts`):
 *   `<prefix>switchyard:history:<group>`, a stream of the group's recent
 *   messages, and `<prefix>switchyard:history:<group>:meta`, a hash with the
 *   group's `epoch` and `top` offset (group names hold no `:`, so the two
 *   never meet).
 * - `groupSend` to a group that keeps history first runs `HISTORY_APPEND`
 *   (`scripts.ts`, one round trip): it increments `top` and `XADD`s the
 *   message with the explicit id `0-<offset>` (dense, ordered offsets) and
 *   the Redis time, trimmed with `MAXLEN ~ size`. The stream expires after
 *   `ttl` without sends, the meta after `max(ttl, groupExpiry)`, so an idle
 *   group keeps its epoch and top longer than its messages. The layer then
 *   delivers the message stamped with `{ group, epoch, offset }`.
 * - A missing meta means the history was lost (never written, expired,
 *   evicted, or Redis restarted empty): whichever script finds it so, append
 *   or read, starts a new epoch (a random name made here) and deletes the
 *   stream, so a reader with an old position learns `recovered: false`.
 * - `HISTORY_READ` answers as `MemoryHistory.read`: the window is the last
 *   `size` offsets from the first message younger than `ttl` on.
 * - The stored payload is the message without its stamp, serialized (and
 *   Fernet-encrypted when the layer has keys) by the layer's codec with no
 *   random prefix and no token TTL (a kept message may be older than the
 *   layer's `expiry`); a read decodes it and stamps it again.
 */
import type { LayerMessage } from '../asgi.js';
import { freezeMessage } from '../layers/base.js';
import {
  type GroupHistoryConfig, type HistoryOptions, type HistoryRead, POSITION_KEY, type StreamPosition,
  compileGroupHistory, newEpoch, stamp,
} from '../layers/history.js';
import type { LuaScript, RedisClient, Shard } from './connection.js';
import type { KeyNames } from './keys.js';
import type { LayerLogger } from './log.js';
import { HISTORY_APPEND, HISTORY_READ } from './scripts.js';
import type { MessageCodec } from './wire.js';

/**
 * The stream of a group's history: `<prefix>switchyard:history:<group>`.
 *
 * @example
 * ```ts
 * import { historyKey } from './history.js';
 *
 * historyKey('asgi', 'chat_lobby'); // 'asgiswitchyard:history:chat_lobby'
 * ```
 */
export function historyKey(prefix: string, group: string): string {
  return `${prefix}switchyard:history:${group}`;
}

/**
 * The hash holding a group history's `epoch` and `top`: `<prefix>switchyard:history:<group>:meta`.
 *
 * @example
 * ```ts
 * import { historyMetaKey } from './history.js';
 *
 * historyMetaKey('asgi', 'chat_lobby'); // 'asgiswitchyard:history:chat_lobby:meta'
 * ```
 */
export function historyMetaKey(prefix: string, group: string): string {
  return `${historyKey(prefix, group)}:meta`;
}

/** Options of {@link RedisHistory}. */
export interface RedisHistoryOptions {
  /** The layer's `groupHistory`. */
  config: GroupHistoryConfig | undefined;
  /** The layer's key names (hash-tagged on a cluster: the stream and meta share the group's slot). */
  keys: KeyNames;
  shards: readonly Shard[];
  /** The shard index the layer uses for a group. */
  shardOf: (group: string) => number;
  /** Serializes stored payloads: no random prefix, no token TTL. */
  codec: MessageCodec;
  /** Seconds an idle group's epoch and top are kept, at least (the layer's `groupExpiry`). */
  metaSeconds: number;
  logger: LayerLogger;
}

/** Runs a script asking for Buffer replies (payloads are binary). */
async function runForBuffers(script: LuaScript, client: RedisClient, keys: string[], args: (string | number | Buffer)[]): Promise<unknown> {
  try {
    return await client.callBuffer('EVALSHA', script.sha, keys.length, ...keys, ...args);
  } catch (error) {
    if (!(error instanceof Error && error.message.startsWith('NOSCRIPT'))) throw error;
    return client.callBuffer('EVAL', script.source, keys.length, ...keys, ...args);
  }
}

/**
 * The group histories of a Redis layer.
 *
 * @example
 * ```ts
 * import { RedisHistory } from './history.js';
 * import { KeyNames } from './keys.js';
 * import { Shard } from './connection.js';
 * import { MessageCodec } from './wire.js';
 * import { defaultLogger as logger } from './log.js';
 *
 * const shards = [new Shard({ host: '127.0.0.1', port: 6379 }, { connectTimeout: 2000, logger })];
 * const history = new RedisHistory({
 *   config: ['chat_*'], keys: new KeyNames('asgi', false), shards, shardOf: () => 0,
 *   codec: new MessageCodec({ randomPrefixLength: 0 }), metaSeconds: 86400, logger,
 * });
 * const options = history.optionsFor('chat_lobby')!;
 * const stamped = await history.append('chat_lobby', options, { type: 'chat.message', text: 'hi' });
 * await history.read('chat_lobby', { epoch: 'Hq3kP0aZr8Tm', offset: 41 }, 1000);
 * ```
 */
export class RedisHistory {
  readonly #optionsFor: (group: string) => HistoryOptions | null;
  readonly #options: RedisHistoryOptions;

  constructor(options: RedisHistoryOptions) {
    this.#optionsFor = compileGroupHistory(options.config);
    this.#options = options;
  }

  /** Whether any group keeps history (the layer has a `groupHistory`). */
  get enabled(): boolean {
    return this.#options.config !== undefined;
  }

  /** The history options of a group, or null when it keeps none. */
  optionsFor(group: string): HistoryOptions | null {
    return this.#optionsFor(group);
  }

  /**
   * Appends a message (already checked) to a group's history; resolves with
   * the message stamped with its position, to deliver. Rejects with
   * `LayerUnavailableError` while Redis is away.
   */
  async append(group: string, options: HistoryOptions, message: LayerMessage): Promise<LayerMessage> {
    let stored: LayerMessage = message;
    if (POSITION_KEY in message) {
      // A forwarded message: its old stamp is not kept (a read stamps afresh).
      const { [POSITION_KEY]: _old, ...rest } = message as Record<string, unknown>;
      stored = rest as LayerMessage;
    }
    const payload = this.#options.codec.encode(stored);
    const [epoch, offset] = (await this.#run(group, HISTORY_APPEND, [
      newEpoch(), this.#metaTtlMs(options), options.size, payload, ttlMs(options.ttl),
    ])) as [Buffer, number];
    return stamp(message, { group, epoch: epoch.toString(), offset });
  }

  /** What came after `since` (see `HistoryRead`); null when the group keeps no history. */
  async read(group: string, since: StreamPosition | null, limit: number): Promise<HistoryRead | null> {
    const options = this.#optionsFor(group);
    if (options === null) return null;
    const args: (string | number)[] = [newEpoch(), this.#metaTtlMs(options), options.size, ttlMs(options.ttl)];
    // A position that is not an offset (NaN, negative) is before everything: not recovered.
    if (since !== null) args.push(String(since.epoch), Number.isSafeInteger(since.offset) && since.offset >= 0 ? since.offset : -1, limit);
    const [rawEpoch, top, recovered, entries] = (await this.#run(group, HISTORY_READ, args)) as [Buffer, number, number, Buffer[]];
    const epoch = rawEpoch.toString();
    const messages: LayerMessage[] = [];
    let lost = false;
    for (let i = 0; i + 1 < entries.length; i += 2) {
      const offset = Number(entries[i]!.toString());
      try {
        const message = freezeMessage(this.#options.codec.decode(entries[i + 1]!)) as LayerMessage;
        messages.push(Object.freeze(stamp(message, Object.freeze({ group, epoch, offset }))));
      } catch (error) {
        // Undecodable (a retired encryption key?): skipped, and the read says something is lost.
        lost = true;
        this.#options.logger.warn({ err: error, group, offset }, 'Skipped a group history message that cannot be decoded');
      }
    }
    return { epoch, top, recovered: recovered === 1 && !lost, messages };
  }

  #run(group: string, script: LuaScript, args: (string | number | Buffer)[]): Promise<unknown> {
    const { keys: names, shards, shardOf } = this.#options;
    const keys = [names.history(group), names.historyMeta(group)];
    return shards[shardOf(group)]!.run((redis) => runForBuffers(script, redis, keys, args));
  }

  #metaTtlMs(options: HistoryOptions): number {
    return ttlMs(Math.max(options.ttl, this.#options.metaSeconds));
  }
}

function ttlMs(seconds: number): number {
  return Math.max(1, Math.ceil(seconds * 1000));
}
