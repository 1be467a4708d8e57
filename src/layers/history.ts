/**
 * Group history: the bounded memory of a group's recent messages that lets a
 * connection that was away catch up (see `docs/recovery.md`).
 *
 * A layer configured with `groupHistory` keeps, for each group whose name
 * matches a pattern, the last messages sent to it. Each message gets an
 * *offset* in its group (1, 2, 3...) and the group has an *epoch*, a random
 * name that changes whenever the history is lost (the in-memory layer's
 * process restarts, Redis restarts empty or evicts the keys, `flush()`). A
 * `(epoch, offset)` pair is a {@link StreamPosition}: "I have everything of
 * this group up to here". `groupSend` stamps the message it delivers with its
 * position under {@link POSITION_KEY}, so every member knows where it stands;
 * {@link ChannelLayer.readHistory} answers what came after a position, or
 * says `recovered: false` when that cannot be known (epoch changed, or the
 * position fell out of the window).
 *
 * This module holds the shared rules (options, patterns, the stamp) and
 * {@link MemoryHistory}, the in-memory layer's ring buffers. The Redis layers
 * keep theirs in Redis Streams (`redis/history.ts`).
 */
import type { LayerMessage } from '../asgi.js';
import { globToRegExp } from './base.js';

/** The key under which a delivered group message carries its {@link MessagePosition}. */
export const POSITION_KEY = '__switchyard_position__';

/** Where a group's history stands: an epoch and an offset in it (0: before the first message). */
export interface StreamPosition {
  epoch: string;
  offset: number;
}

/** What a stamped message carries under {@link POSITION_KEY}: its group, epoch and offset. */
export interface MessagePosition extends StreamPosition {
  group: string;
}

/** How much of a group's history is kept. */
export interface HistoryOptions {
  /** Messages kept (the oldest go first). Default 100. */
  size: number;
  /** Seconds a message is kept. Default 300. */
  ttl: number;
}

/**
 * Which groups keep a history: glob patterns (fnmatch rules, anchored, as
 * `channelCapacity`) or regular expressions, first match wins. A list of
 * patterns takes the default {@link HistoryOptions}.
 *
 * @example
 * ```ts
 * import { InMemoryChannelLayer } from 'switchyard';
 *
 * new InMemoryChannelLayer({ groupHistory: ['chat_*'] });
 * new InMemoryChannelLayer({ groupHistory: { 'chat_*': { size: 500, ttl: 600 }, 'ticker.*': { size: 10 } } });
 * ```
 */
export type GroupHistoryConfig =
  | readonly string[]
  | Readonly<Record<string, Partial<HistoryOptions>>>
  | ReadonlyArray<readonly [string | RegExp, Partial<HistoryOptions>]>;

/** The answer of {@link ChannelLayer.readHistory}. */
export interface HistoryRead {
  /** The group's current epoch. */
  epoch: string;
  /** Offset of the group's newest message in this epoch (0 when there is none). */
  top: number;
  /**
   * True when `messages` are all the messages after the position asked for;
   * false when some are lost (the epoch changed, or they fell out of the window).
   */
  recovered: boolean;
  /**
   * Stamped messages after the position, oldest first, up to `limit`: when the
   * epoch changed, the whole retained window of the current epoch.
   */
  messages: LayerMessage[];
}

export const DEFAULT_HISTORY: HistoryOptions = Object.freeze({ size: 100, ttl: 300 });

/** Compiles `groupHistory` once: the options that apply to a group, or null when it keeps none. */
export function compileGroupHistory(config: GroupHistoryConfig | undefined): (group: string) => HistoryOptions | null {
  if (config === undefined) return () => null;
  let entries: Array<readonly [string | RegExp, Partial<HistoryOptions>]>;
  if (Array.isArray(config)) {
    entries = (config as ReadonlyArray<string | readonly [string | RegExp, Partial<HistoryOptions>]>)
      .map((entry) => (typeof entry === 'string' ? [entry, {}] as const : entry));
  } else entries = Object.entries(config as Record<string, Partial<HistoryOptions>>);
  const rules = entries.map(([pattern, options]) => {
    if (pattern === '') throw new TypeError('groupHistory has an empty group pattern');
    if (typeof options !== 'object' || options === null || Array.isArray(options)) {
      throw new TypeError(`groupHistory for ${String(pattern)} must be an object ({ size, ttl }), not ${JSON.stringify(options)}`);
    }
    // A misspelt option (`sise`) is an error, not a silent default.
    const unknown = Object.keys(options).filter((key) => key !== 'size' && key !== 'ttl');
    if (unknown.length > 0) throw new TypeError(`groupHistory for ${String(pattern)} has unknown option ${unknown.join(', ')} (known: size, ttl)`);
    const resolved = { ...DEFAULT_HISTORY, ...options };
    for (const key of ['size', 'ttl'] as const) {
      if (!(typeof resolved[key] === 'number' && resolved[key] > 0 && (key === 'ttl' || Number.isInteger(resolved[key])))) {
        throw new TypeError(`groupHistory ${key} for ${String(pattern)} must be a positive ${key === 'size' ? 'integer' : 'number'}, not ${String(resolved[key])}`);
      }
    }
    return [typeof pattern === 'string' ? globToRegExp(pattern) : pattern, Object.freeze(resolved)] as const;
  });
  return (group) => {
    for (const [re, options] of rules) if (re.test(group)) return options;
    return null;
  };
}

/** A message's position, when a layer with history stamped it. */
export function positionOf(message: LayerMessage): MessagePosition | null {
  const position = (message as Record<string, unknown>)[POSITION_KEY];
  if (typeof position !== 'object' || position === null) return null;
  const { group, epoch, offset } = position as Partial<MessagePosition>;
  // The stamp itself, not a copy: every member of a broadcast gets the same object.
  return typeof group === 'string' && typeof epoch === 'string' && typeof offset === 'number' ? position as MessagePosition : null;
}

/** A copy of `message` stamped with its position (the sender's object is left as it was). */
export function stamp(message: LayerMessage, position: MessagePosition): LayerMessage {
  return { ...message, [POSITION_KEY]: position };
}

const EPOCH_LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** A new random epoch name (12 letters and digits). */
export function newEpoch(): string {
  let out = '';
  for (let i = 0; i < 12; i++) out += EPOCH_LETTERS[Math.floor(Math.random() * EPOCH_LETTERS.length)];
  return out;
}

/** One group's ring: stamped messages with the time each was added. */
interface Ring {
  top: number;
  messages: LayerMessage[];
  addedAt: number[];
}

/**
 * The in-memory layer's group histories: one array per group, trimmed by
 * size on append and by age on read. The epoch is one per instance (a new
 * process, or `clear()`, starts a new one).
 */
export class MemoryHistory {
  readonly #optionsFor: (group: string) => HistoryOptions | null;
  #epoch = newEpoch();
  readonly #rings = new Map<string, Ring>();

  constructor(config: GroupHistoryConfig | undefined) {
    this.#optionsFor = compileGroupHistory(config);
  }

  /** True when the group keeps a history. */
  keeps(group: string): boolean {
    return this.#optionsFor(group) !== null;
  }

  /** Appends a message (already checked and frozen); returns it stamped, or as it was when the group keeps no history. */
  append(group: string, message: LayerMessage, now: number): LayerMessage {
    const options = this.#optionsFor(group);
    if (options === null) return message;
    let ring = this.#rings.get(group);
    if (ring === undefined) this.#rings.set(group, (ring = { top: 0, messages: [], addedAt: [] }));
    this.#trim(ring, options, now);
    const stamped = Object.freeze(stamp(message, Object.freeze({ group, epoch: this.#epoch, offset: ++ring.top })));
    ring.messages.push(stamped);
    ring.addedAt.push(now);
    if (ring.messages.length > options.size) {
      ring.messages.shift();
      ring.addedAt.shift();
    }
    return stamped;
  }

  /** What came after `since` (see {@link HistoryRead}); null when the group keeps no history. */
  read(group: string, since: StreamPosition | null, limit: number, now: number): HistoryRead | null {
    const options = this.#optionsFor(group);
    if (options === null) return null;
    const ring = this.#rings.get(group);
    const top = ring?.top ?? 0;
    if (ring !== undefined) this.#trim(ring, options, now);
    const window = ring?.messages ?? [];
    if (since === null) return { epoch: this.#epoch, top, recovered: true, messages: [] };
    const sameEpoch = since.epoch === this.#epoch;
    const after = sameEpoch ? since.offset : 0;
    const oldest = top - window.length + 1; // offset of window[0]
    const recovered = sameEpoch && after <= top && after >= oldest - 1;
    const start = Math.max(0, after - oldest + 1);
    return { epoch: this.#epoch, top, recovered, messages: window.slice(start, start + limit) };
  }

  /** Forgets every history: a new epoch begins. */
  clear(): void {
    this.#rings.clear();
    this.#epoch = newEpoch();
  }

  #trim(ring: Ring, options: HistoryOptions, now: number): void {
    const oldest = now - options.ttl * 1000;
    let drop = 0;
    while (drop < ring.addedAt.length && ring.addedAt[drop]! < oldest) drop++;
    if (drop > 0) {
      ring.messages.splice(0, drop);
      ring.addedAt.splice(0, drop);
    }
  }
}

/** What a layer's resync tells: the groups whose live delivery may have missed messages. */
type ResyncListener = (group: string) => void;
const resyncListeners = new Map<string, Set<ResyncListener>>();

/**
 * Called by a layer when live delivery to this process may have missed
 * messages of some groups (its memberships were re-asserted after Redis lost
 * them, its pub/sub subscriptions came back after a reconnection): each
 * recovery session in those groups reads the history for what it missed.
 */
export function groupsResynced(groups: Iterable<string>): void {
  for (const group of groups) {
    const listeners = resyncListeners.get(group);
    if (listeners !== undefined) for (const listener of listeners) listener(group);
  }
}

/** Listens for {@link groupsResynced} of one group; returns the function that stops listening. */
export function onGroupResync(group: string, listener: ResyncListener): () => void {
  let listeners = resyncListeners.get(group);
  if (listeners === undefined) resyncListeners.set(group, (listeners = new Set()));
  listeners.add(listener);
  return () => {
    listeners.delete(listener);
    if (listeners.size === 0 && resyncListeners.get(group) === listeners) resyncListeners.delete(group);
  };
}
