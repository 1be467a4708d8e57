/**
 * The core layer's receiving side: the loops that pop this process's key,
 * and receives on general channels.
 *
 * How it works: this process's key (`prefix + "specific.<process>!"`, one
 * for all its channels) is read by one loop per shard, only while some
 * `receive()` waits or a tap is open. Each round trip is a `BZPOPMIN` (block
 * until something comes) followed, when it returned, by one `ZPOPMIN` of up
 * to {@link POP_BATCH} more: a burst of group messages is drained a few
 * hundred per round trip, so at fan-out the key is emptied as fast as the
 * process can hand the messages on, and its capacity is only reached when
 * the process itself falls seconds behind. Each member is decoded once,
 * frozen, and the same object handed to every local channel it names (the
 * `Inbox`, bounded per channel). A receive on a general channel
 * (`worker-tasks`) blocks on a pooled connection of the next shard in turn;
 * one aborted mid-pop puts its message back. A message older than `expiry`
 * (by its score) is dropped; an undecodable one is logged and skipped.
 */
import type { LayerMessage } from '../asgi.js';
import { sleep } from '../backoff.js';
import { LayerUnavailableError } from '../errors.js';
import { freezeMessage } from '../layers/base.js';
import { type PoppedMember, type Shard, backoffDelay } from './connection.js';
import type { Inbox } from './inbox.js';
import type { KeyNames } from './keys.js';
import type { LayerLogger, LogThrottle } from './log.js';
import { ASGI_CHANNEL, type MessageCodec } from './wire.js';

/** Members popped at once after a blocking pop returns (a burst of group sends). */
export const POP_BATCH = 512;

/** What a {@link Receiver} needs of its layer. */
export interface ReceiverOptions {
  shards: readonly Shard[];
  keys: KeyNames;
  codec: MessageCodec;
  inbox: Inbox;
  logger: LayerLogger;
  throttle: LogThrottle;
  /** Seconds a message lives (the layer's `expiry`). */
  expiry: number;
  /** Seconds each blocking pop blocks. */
  blockTimeout: number;
  /** True while someone reads this process's channels (a waiting receive or an open tap). */
  hasReaders: () => boolean;
  /**
   * A shard's pop failed, and its connection is back: what the failed pop had
   * popped, if anything, was lost (the layer has recovering members catch up,
   * now that the history can be read).
   */
  onPopFailed?: (shardIndex: number) => void;
}

/**
 * The pop loops of one core layer.
 *
 * @example
 * ```ts
 * import { Receiver } from './receiver.js';
 * import { Inbox } from './inbox.js';
 * import { KeyNames } from './keys.js';
 * import { MessageCodec } from './wire.js';
 * import { Shard } from './connection.js';
 * import { LogThrottle, defaultLogger as logger } from './log.js';
 *
 * const inbox = new Inbox(100);
 * const receiver = new Receiver({
 *   shards: [new Shard({ host: '127.0.0.1', port: 6379 }, { connectTimeout: 2000, logger })], keys: new KeyNames('asgi', false),
 *   codec: new MessageCodec(), inbox, logger, throttle: new LogThrottle(5000), expiry: 60, blockTimeout: 1, hasReaders: () => inbox.waiting > 0,
 * });
 * const next = inbox.take('specific.0123456789abcdef0123456789abcdef!a');
 * receiver.ensureLoops('asgispecific.0123456789abcdef0123456789abcdef!');
 * ```
 */
export class Receiver {
  readonly #options: ReceiverOptions;
  /** Running pop loops, by `shard index + " " + process key`. */
  readonly #loops = new Map<string, Promise<void>>();
  #receiveCursor = 0;
  #nextSweep = 0;
  #closed = false;

  constructor(options: ReceiverOptions) {
    this.#options = options;
  }

  /** Starts a pop loop for a process key on every shard that has none running for it. */
  ensureLoops(key: string): void {
    const { shards } = this.#options;
    for (let i = 0; i < shards.length; i++) {
      const id = `${i} ${key}`;
      if (this.#loops.has(id) || this.#closed) continue;
      this.#loops.set(id, this.#runLoop(i, key).finally(() => {
        this.#loops.delete(id);
        if (this.#options.hasReaders() && !this.#closed) this.ensureLoops(key);
      }));
    }
  }

  /** Stops the loops (each ends after its current pop). */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled(this.#loops.values());
  }

  /** Pops a process key on one shard while someone reads, reconnecting after failures. */
  async #runLoop(index: number, key: string): Promise<void> {
    const { blockTimeout, hasReaders, logger, throttle } = this.#options;
    const shard = this.#options.shards[index]!;
    const client = shard.acquireBlocking();
    let attempt = 0;
    /** A pop failed since the last one that came back: recovery catches up once the connection is back. */
    let popFailed = false;
    try {
      while (!this.#closed && hasReaders()) {
        try {
          if (client.status !== 'ready') await shard.waitReady(client, 5000);
          if (popFailed) {
            popFailed = false;
            this.#options.onPopFailed?.(index);
          }
          const popped = (await client.bzpopminBuffer(key, blockTimeout)) as PoppedMember | null;
          attempt = 0;
          if (popped === null) continue;
          this.#dispatch(popped);
          // Drain a burst (a run of group sends) in one round trip instead of one pop per message.
          const burst = (await client.zpopminBuffer(key, POP_BATCH)) as Buffer[];
          for (let i = 0; i + 1 < burst.length; i += 2) this.#dispatch([popped[0], burst[i]!, burst[i + 1]!]);
        } catch (error) {
          if (this.#closed) break;
          // A pop's reply lost with its connection took its messages with it: say so (loud), and let recovery catch up.
          if (throttle.allow(`loop:${shard.label}`)) {
            logger.warn({ err: error, host: shard.label }, 'Redis receive loop failed; reconnecting. Messages popped as it failed are lost, except to members that recover from a group history');
          }
          popFailed = true;
          await sleep(backoffDelay(attempt++));
        }
      }
    } finally {
      shard.releaseBlocking(client);
    }
  }

  /** Decodes a popped member once and hands the same frozen message to each local channel it names. */
  #dispatch([key, member, rawScore]: [Buffer, Buffer, Buffer]): void {
    const { inbox, expiry, logger } = this.#options;
    const now = Date.now();
    if (now >= this.#nextSweep) {
      this.#nextSweep = now + Math.min(10_000, expiry * 500);
      inbox.sweep(now);
    }
    const age = this.#age(rawScore, now);
    if (age > expiry) return;
    const message = this.#decode(key, member);
    if (message === null) return;
    const target = message[ASGI_CHANNEL];
    delete message[ASGI_CHANNEL];
    const channels = typeof target === 'string' ? [target] : Array.isArray(target) ? target.filter((c) => typeof c === 'string') : [];
    if (channels.length === 0) {
      logger.warn({ key: key.toString() }, `Skipped a message without ${ASGI_CHANNEL} in a process key`);
      return;
    }
    freezeMessage(message);
    const expiresAt = now + Math.max(0, expiry - age) * 1000 + 1000;
    for (const channel of channels) inbox.deliver(channel, message as LayerMessage, expiresAt);
  }

  /**
   * Seconds since a message was sent (its score). Older than `expiry`, it is
   * dropped at receive: trimming alone (on writes, in whole seconds in Python)
   * would let it live up to twice as long. Host clocks must agree (NTP).
   */
  #age(rawScore: Buffer, now: number): number {
    return Math.max(0, now / 1000 - Number(rawScore.toString()));
  }

  /** The message of a member, or null (logged) when it cannot be decoded: a poison message is skipped. */
  #decode(key: Buffer, member: Buffer): Record<string, unknown> | null {
    try {
      return this.#options.codec.decode(member);
    } catch (error) {
      this.#options.logger.warn({ err: error, key: key.toString(), bytes: member.length }, 'Skipped a message that cannot be decoded (wrong key, serializer or prefix length?)');
      return null;
    }
  }

  /** Blocks on a general channel until a message comes, rotating over the shards; retries while Redis is away. */
  async receiveNormal(channel: string, signal?: AbortSignal): Promise<LayerMessage> {
    const { shards, keys, expiry, logger, throttle } = this.#options;
    const key = keys.channel(channel);
    let attempt = 0;
    for (;;) {
      if (this.#closed) throw new LayerUnavailableError('The Redis channel layer was closed');
      signal?.throwIfAborted();
      const shard = shards[this.#receiveCursor++ % shards.length]!;
      let popped: PoppedMember | null;
      try {
        popped = await shard.popMin(key, this.#options.blockTimeout, signal);
        attempt = 0;
      } catch (error) {
        if (signal?.aborted) throw signal.reason;
        if (this.#closed) throw new LayerUnavailableError('The Redis channel layer was closed');
        if (throttle.allow(`receive:${shard.label}`)) logger.warn({ err: error, channel }, 'Redis receive failed; retrying');
        await sleep(backoffDelay(attempt++));
        continue;
      }
      if (popped === null || this.#age(popped[2], Date.now()) > expiry) continue;
      const message = this.#decode(popped[0], popped[1]);
      if (message === null) continue;
      delete message[ASGI_CHANNEL];
      return freezeMessage(message) as LayerMessage;
    }
  }
}
