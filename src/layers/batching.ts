/**
 * Group message batching: the seeds' `bulk_messages`, done right.
 *
 * `003_*.txt` queues chat messages and sends them as one `bulk_messages`
 * group event every 10 messages. As written, the queue is a class attribute
 * (every connection of the process shares it) and a quiet room holds a
 * message until nine more come. {@link GroupBatchingLayer} does the same job
 * as a layer wrapper, as a group commit: a `groupSend` to an idle batched
 * group goes at once; while one is under way, the group's next messages
 * gather and go as one `{ type: 'bulk_messages', messages: [...] }` event
 * when it returns, when `maxMessages` have gathered, or `maxDelayMs` after
 * the first, whichever comes first. So a quiet room adds no latency, no
 * message waits longer than the limit, and a group's order is kept. On the receiving side the wrapper unpacks every
 * `bulk_messages` event, so each message reaches its handler as if sent
 * alone: consumers are written as without batching, and a Django consumer
 * with the seeds' `bulk_messages` handler reads the same event.
 *
 * What it buys: one layer operation (a Redis script call, a publish) per
 * batch instead of per message. What it costs: up to `maxDelayMs` of latency,
 * and a sender's `groupSend` resolves (or fails) with its batch. Groups that
 * keep a history are never batched (each message needs its own offset).
 * Every process sharing the layer needs the wrapper to unpack, which a layer
 * URL's `groupBatching` option gives all of them at once.
 */
import type { LayerMessage } from '../asgi.js';
import { EXCEPT_KEY, type ChannelLayer, type ChannelTap, type GroupSendOptions, type TapListener, exceptOf, globToRegExp, requireValidGroupName, requireValidMessage, withExcept } from './base.js';
import { DelegatingLayer } from './delegating.js';
import type { SlowConsumer } from './slow-consumers.js';

/** The type of a batch's event (the seeds' name; Django calls its handler `bulk_messages`). */
export const BULK_MESSAGES = 'bulk_messages';

/** How a batched group's messages are grouped. */
export interface BatchingOptions {
  /** Messages in one batch; a full batch is sent at once. Default 10 (the seeds' figure). */
  maxMessages?: number;
  /** Ms the first message of a batch waits at most while an earlier send is under way. Default 5. */
  maxDelayMs?: number;
}

/**
 * Which groups are batched: glob patterns (fnmatch rules, anchored, as
 * `groupHistory`), with the defaults, or pattern → options.
 */
export type GroupBatchingConfig = readonly string[] | Readonly<Record<string, BatchingOptions>>;

/** Options of {@link GroupBatchingLayer}. */
export interface GroupBatchingLayerOptions {
  /** The batched groups. */
  groups: GroupBatchingConfig;
  /** Groups that keep a history (never batched); the layer's own `groupHistory` rule. */
  keepsHistory?: (group: string) => boolean;
}

const DEFAULTS: Required<BatchingOptions> = { maxMessages: 10, maxDelayMs: 5 };

/** One group's open batch. */
interface Batch {
  readonly messages: LayerMessage[];
  readonly settle: Array<[(value: void) => void, (error: unknown) => void]>;
  timer: NodeJS.Timeout | null;
}

function compileGroups(config: GroupBatchingConfig): (group: string) => Required<BatchingOptions> | null {
  if (typeof config !== 'object' || config === null) {
    throw new TypeError(`groupBatching must be a list of group patterns or an object of pattern → options, not ${JSON.stringify(config)}`);
  }
  const entries: Array<[string, BatchingOptions]> = Array.isArray(config)
    ? (config as readonly string[]).map((pattern) => [pattern, {}])
    : Object.entries(config as Record<string, BatchingOptions>);
  const rules = entries.map(([pattern, options]) => {
    if (typeof pattern !== 'string' || pattern === '') throw new TypeError('groupBatching has an empty group pattern');
    if (typeof options !== 'object' || options === null) throw new TypeError(`groupBatching for ${pattern} must be an object ({ maxMessages, maxDelayMs })`);
    const unknown = Object.keys(options).filter((key) => !(key in DEFAULTS));
    if (unknown.length > 0) throw new TypeError(`groupBatching for ${pattern} has unknown option ${unknown.join(', ')} (known: maxMessages, maxDelayMs)`);
    const resolved = { ...DEFAULTS, ...options };
    if (!(Number.isInteger(resolved.maxMessages) && resolved.maxMessages >= 2)) {
      throw new TypeError(`groupBatching maxMessages for ${pattern} must be an integer of at least 2, not ${String(resolved.maxMessages)}`);
    }
    if (!(typeof resolved.maxDelayMs === 'number' && resolved.maxDelayMs >= 0 && resolved.maxDelayMs <= 1000)) {
      throw new TypeError(`groupBatching maxDelayMs for ${pattern} must be a number from 0 to 1000, not ${String(resolved.maxDelayMs)}`);
    }
    return [globToRegExp(pattern), Object.freeze(resolved)] as const;
  });
  return (group) => {
    for (const [re, options] of rules) if (re.test(group)) return options;
    return null;
  };
}

/**
 * The messages of a batch event meant for `channel` (those that leave it out
 * dropped), or null for any other message. A `bulk_messages` event whose
 * `messages` are not all events (a Django peer's own) is left whole.
 */
export function messagesOfBatch(message: LayerMessage, channel: string): LayerMessage[] | null {
  if (message.type !== BULK_MESSAGES) return null;
  const messages = (message as { messages?: unknown }).messages;
  if (!Array.isArray(messages) || messages.length === 0) return null;
  for (const each of messages) if (typeof each !== 'object' || each === null || typeof (each as { type?: unknown }).type !== 'string') return null;
  return (messages as LayerMessage[]).filter((each) => exceptOf(each) !== channel);
}

/**
 * A layer whose group messages to the configured groups travel in batches,
 * unpacked again for every receiver.
 *
 * @example
 * ```ts
 * import { GroupBatchingLayer, InMemoryChannelLayer } from 'switchyard';
 *
 * const layer = new GroupBatchingLayer(new InMemoryChannelLayer(), { groups: { 'chat_*': { maxMessages: 20, maxDelayMs: 2 } } });
 * await layer.groupSend('chat_lobby', { type: 'chat_message', message: 'hi' }); // resolves when its batch is sent
 * ```
 * On a URL: `redis://127.0.0.1:6379/0?groupBatching=chat_*`.
 */
export class GroupBatchingLayer extends DelegatingLayer {
  readonly #batchingOf: (group: string) => Required<BatchingOptions> | null;
  readonly #keepsHistory: (group: string) => boolean;
  readonly #open = new Map<string, Batch>();
  /** Sends under way per group. */
  readonly #inFlight = new Map<string, number>();
  /** Messages unpacked from a batch and not yet read, per channel read with `receive()`. */
  readonly #unpacked = new Map<string, LayerMessage[]>();

  constructor(inner: ChannelLayer, options: GroupBatchingLayerOptions) {
    super(inner);
    this.#batchingOf = compileGroups(options.groups);
    this.#keepsHistory = options.keepsHistory ?? (() => false);
    if (typeof inner.tap === 'function') this.tap = tapUnpacking;
  }

  /** Queues the message in its group's batch; resolves when the batch is sent. */
  override groupSend(group: string, message: LayerMessage, options?: GroupSendOptions): Promise<void> {
    const batching = this.#batchingOf(group);
    if (batching === null || this.#keepsHistory(group)) return this.inner.groupSend(group, message, options);
    let item: LayerMessage;
    try {
      // Checked now, so that one bad message fails its sender and not its batch.
      requireValidGroupName(group);
      requireValidMessage(message);
      item = withExcept(message, options);
    } catch (error) {
      return Promise.reject(error);
    }
    let batch = this.#open.get(group);
    if (batch === undefined) this.#open.set(group, (batch = { messages: [], settle: [], timer: null }));
    batch.messages.push(item);
    const sent = new Promise<void>((resolve, reject) => batch.settle.push([resolve, reject]));
    // Group commit: a message to an idle group goes at once; while a send is in
    // flight, messages gather, and go when it returns, when full, or at the latest after maxDelayMs.
    if (batch.messages.length >= batching.maxMessages || !this.#inFlight.has(group)) this.#sendBatch(group);
    else batch.timer ??= setTimeout(() => this.#sendBatch(group), batching.maxDelayMs);
    return sent;
  }

  /** Sends a group's open batch: a lone message as itself, more as one batch event. */
  #sendBatch(group: string): void {
    const batch = this.#open.get(group);
    if (batch === undefined) return;
    this.#open.delete(group);
    if (batch.timer !== null) clearTimeout(batch.timer);
    const { messages, settle } = batch;
    // A lone message goes as itself, its except as the layer's own option.
    const lone = messages.length === 1 ? messages[0]! : null;
    const except = lone === null ? undefined : exceptOf(lone);
    const event = lone === null ? { type: BULK_MESSAGES, messages } : except === undefined ? lone : withoutExcept(lone);
    this.#inFlight.set(group, (this.#inFlight.get(group) ?? 0) + 1);
    const done = (): void => {
      const left = this.#inFlight.get(group)! - 1;
      if (left > 0) return void this.#inFlight.set(group, left);
      this.#inFlight.delete(group);
      this.#sendBatch(group);
    };
    this.inner.groupSend(group, event, except === undefined ? undefined : { except }).then(
      () => {
        for (const [resolve] of settle) resolve();
        done();
      },
      (error: unknown) => {
        for (const [, reject] of settle) reject(error);
        done();
      },
    );
  }

  override async receive(channel: string, signal?: AbortSignal): Promise<LayerMessage> {
    const waiting = this.#unpacked.get(channel);
    if (waiting !== undefined) {
      const next = waiting.shift()!;
      if (waiting.length === 0) this.#unpacked.delete(channel);
      return next;
    }
    for (;;) {
      const message = await this.inner.receive(channel, signal);
      const messages = messagesOfBatch(message, channel);
      if (messages === null) return message;
      if (messages.length === 0) continue;
      if (messages.length > 1) this.#unpacked.set(channel, messages.slice(1));
      return messages[0]!;
    }
  }

  /** Forgets open batches too (their senders' promises resolve: flushed, as sent messages are). */
  override async flush(): Promise<void> {
    for (const [group, batch] of this.#open) {
      if (batch.timer !== null) clearTimeout(batch.timer);
      for (const [resolve] of batch.settle) resolve();
      this.#open.delete(group);
    }
    this.#unpacked.clear();
    await this.inner.flush();
  }

  /** Sends what is queued, then closes the inner layer. */
  override async close(): Promise<void> {
    const sent = [...this.#open.values()].map((batch) => new Promise<void>((done) => batch.settle.push([() => done(), () => done()])));
    for (const group of [...this.#open.keys()]) this.#sendBatch(group);
    await Promise.all(sent);
    await this.inner.close();
  }
}

function withoutExcept(message: LayerMessage): LayerMessage {
  const { [EXCEPT_KEY]: _, ...rest } = message as Record<string, unknown>;
  return rest as LayerMessage;
}

/** A tap of the inner layer that hands a batch's messages out one by one. */
function tapUnpacking(this: GroupBatchingLayer, channel: string, listener: TapListener, slow?: SlowConsumer): ChannelTap {
  const unpacked: LayerMessage[] = [];
  // The first message of a batch; the rest wait in `unpacked`. Undefined for a batch with nothing for this channel.
  const unpack = (message: LayerMessage): LayerMessage | undefined => {
    const messages = messagesOfBatch(message, channel);
    if (messages === null) return message;
    for (let i = 1; i < messages.length; i++) unpacked.push(messages[i]!);
    return messages[0];
  };
  const take = (): LayerMessage | undefined => {
    if (unpacked.length > 0) return unpacked.shift();
    for (let message = inner.take(); message !== undefined; message = inner.take()) {
      const first = unpack(message);
      if (first !== undefined) return first;
    }
    return undefined;
  };
  const inner = this.inner.tap!(channel, (message) => {
    // A batch with nothing for this channel: the next queued message, or stay armed for the next send.
    const first = unpack(message) ?? take();
    if (first === undefined) inner.arm();
    else listener(first);
  }, slow);
  return { take, arm: () => inner.arm(), close: () => inner.close() };
}
