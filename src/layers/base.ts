/**
 * The channel layer contract, and the rules every layer shares.
 *
 * A channel layer carries {@link LayerMessage}s between consumers, processes
 * and machines. Channels are FIFO and at-most-once with one reader per
 * message; *groups* are named sets of channels. Names follow Django's rules
 * (ASCII letters, digits, `-`, `_`, `.`, one optional `!`, under 100
 * characters), so a Switchyard process and a Django process can share names.
 *
 * Every layer passes the same conformance suite (`test/layers/conformance.ts`).
 */
import type { LayerMessage } from '../asgi.js';
import { InvalidNameError } from '../errors.js';
import type { HistoryRead, StreamPosition } from './history.js';
import type { Lease } from './lease.js';
import type { SlowConsumer } from './slow-consumers.js';

// The message rules live in validate.ts; re-exported here, where layers import the shared rules from.
export { checkMessageValues, requireMessageShape, requireValidMessage } from './validate.js';

/** What a layer can do besides `send`/`receive`/`newChannel`. */
export type LayerExtension = 'groups' | 'flush';

/** The interface every channel layer implements. */
export interface ChannelLayer {
  /** `"groups"` and/or `"flush"`. */
  readonly extensions: readonly LayerExtension[];
  /** Seconds an unread message lives. */
  readonly expiry: number;
  /**
   * Puts a message on a channel. Never blocks; raises `ChannelFull` when the
   * channel is at capacity. The message must not be changed afterwards.
   */
  send(channel: string, message: LayerMessage): Promise<void>;
  /**
   * Resolves with the next message of the channel. Pass an `AbortSignal` to give
   * up waiting; the promise then rejects with the signal's reason and no message is lost.
   */
  receive(channel: string, signal?: AbortSignal): Promise<LayerMessage>;
  /** A new unique channel name that this process (and only it) can receive on. */
  newChannel(prefix?: string): Promise<string>;
  /** Adds a channel to a group (refreshing its membership if already there). */
  groupAdd(group: string, channel: string): Promise<void>;
  /** Removes a channel from a group; a no-op when it is not a member. */
  groupDiscard(group: string, channel: string): Promise<void>;
  /**
   * Sends a message to every member; full members are skipped, never an
   * error. With `{ except: channel }`, that member is left out (the sender,
   * typically), on every Switchyard process.
   */
  groupSend(group: string, message: LayerMessage, options?: GroupSendOptions): Promise<void>;
  /** Forgets every channel, message and group. */
  flush(): Promise<void>;
  /** Releases connections and timers. */
  close(): Promise<void>;
  /**
   * Optional: push delivery of a channel's messages to the one consumer that
   * owns it (see {@link ChannelTap}), queued by its slow-consumer policies
   * (`slow-consumers.ts`) when it falls behind. A layer without it is read
   * with `receive()`.
   */
  tap?(channel: string, listener: TapListener, slow?: SlowConsumer): ChannelTap;
  /** Optional: leases a name across every process sharing the layer (see `runOnce`). */
  lease?(name: string, ttlMs: number): Promise<Lease | null>;
  /**
   * Optional: what a group's history holds after `since` (at most `limit`
   * messages, default 1000), or null when the group keeps none (see
   * `history.ts`). With `since` null, only the group's epoch and top offset.
   * A layer that keeps history stamps each message `groupSend` delivers to
   * such a group with its position (`POSITION_KEY`).
   */
  readHistory?(group: string, since: StreamPosition | null, limit?: number): Promise<HistoryRead | null>;
  /**
   * Optional, read-only: the groups this process's own channels are in, each
   * with those channels (what the admin dashboard samples). A live view of
   * the layer's own records: read it at once, copy what you keep.
   */
  localGroups?(): LocalGroups;
}

/** What {@link ChannelLayer.localGroups} answers: group → this process's member channels. */
export type LocalGroups = ReadonlyMap<string, { readonly size: number; keys(): IterableIterator<string> }>;

/** Options of {@link ChannelLayer.groupSend}. */
export interface GroupSendOptions {
  /**
   * A member left out of this send (Socket.IO's `socket.broadcast.to(room)`).
   * The message carries it under {@link EXCEPT_KEY}, so every Switchyard
   * process leaves that channel out; a Django consumer on the same Redis is
   * never that channel. In a group that keeps a history, that member still
   * receives the message, marked, so that its position in the group moves;
   * consumers skip it (a recovering client gets a position mark).
   */
  except?: string;
}

/** The key under which a group message names the member it leaves out (see {@link GroupSendOptions}). */
export const EXCEPT_KEY = '__switchyard_except__';

/**
 * The message as a group send with `options` carries it: with the member it
 * leaves out under {@link EXCEPT_KEY} (a copy; the sender's object is left
 * as it was), and that member's name checked.
 *
 * @example
 * ```ts
 * import { withExcept } from './base.js';
 *
 * withExcept({ type: 'chat.message' }, { except: 'specific.abc!def' }); // { type: 'chat.message', __switchyard_except__: 'specific.abc!def' }
 * ```
 */
export function withExcept(message: LayerMessage, options: GroupSendOptions | undefined): LayerMessage {
  const except = options?.except;
  if (except === undefined) return message;
  requireValidChannelName(except);
  return { ...message, [EXCEPT_KEY]: except };
}

/** The member a group message leaves out, if any. */
export function exceptOf(message: LayerMessage): string | undefined {
  const except = (message as Record<string, unknown>)[EXCEPT_KEY];
  return typeof except === 'string' ? except : undefined;
}

/** What a tap calls with each message it delivers (registered once, when the tap is opened). */
export type TapListener = (message: LayerMessage) => void;

/**
 * Push delivery of one channel's messages, for the consumer that owns it
 * (see `AsyncConsumer`): an optional capability of a layer (`tap?`). The
 * in-memory and Redis layers implement it; a layer that does not is read
 * with `receive()`.
 */
export interface ChannelTap {
  /** The next queued message (expired ones dropped), or `undefined`. Synchronous. */
  take(): LayerMessage | undefined;
  /**
   * Calls the tap's listener with the next message sent to the channel,
   * once, in a microtask after that send returns. Arm only after `take()`
   * returned `undefined`.
   */
  arm(): void;
  /** Ends the tap (idempotent); queued messages stay on the channel. */
  close(): void;
}

/** A layer that offers {@link ChannelTap}s. */
export interface TappableLayer { tap(channel: string, listener: TapListener, slow?: SlowConsumer): ChannelTap }

/** True when `layer` offers {@link ChannelTap}s. */
export function isTappable(layer: object): layer is TappableLayer {
  return typeof (layer as Partial<TappableLayer>).tap === 'function';
}

/** Options shared by every layer, with Django's defaults. */
export interface BaseLayerOptions {
  /** Seconds an unread message lives. Default 60. */
  expiry?: number;
  /** Seconds a group membership lives after its last `groupAdd`. Default 86400. */
  groupExpiry?: number;
  /** Messages a channel holds before `ChannelFull`. Default 100. */
  capacity?: number;
  /**
   * Per-channel capacities: glob patterns (`"http.response!*"`, fnmatch rules,
   * anchored) or regular expressions, first match wins, matched against the
   * full channel name.
   */
  channelCapacity?: Record<string, number> | Array<[string | RegExp, number]>;
}

/** Django's limit: names must be shorter than this. */
export const MAX_NAME_LENGTH = 100;

// Django's regexes, ASCII on emit; the local part after `!` also accepts what Python's
// Unicode \w accepts, so names minted by a Django peer are never refused.
const CHANNEL_NAME = /^[a-zA-Z\d\-_.]+(![\p{L}\p{N}_\-.]*)?$/u;
const GROUP_NAME = /^[a-zA-Z\d\-_.]+$/;

function nameError(kind: 'Channel' | 'Group', name: unknown): InvalidNameError {
  return new InvalidNameError(
    `${kind} name must be a valid unicode string with length < ${MAX_NAME_LENGTH} containing only ` +
      `ASCII alphanumerics, hyphens, underscores, or periods, not ${JSON.stringify(name)}.`,
  );
}

/**
 * Throws `InvalidNameError` unless `name` is a valid channel name. With
 * `receive`, a process-specific name must end at the `!` (`"specific.abc!"`).
 */
export function requireValidChannelName(name: unknown, receive = false): asserts name is string {
  if (typeof name !== 'string' || name.length >= MAX_NAME_LENGTH || !CHANNEL_NAME.test(name)) {
    throw nameError('Channel', name);
  }
  if (receive && name.includes('!') && !name.endsWith('!')) {
    throw new InvalidNameError(`Specific channel names in receive() must end at the !, not ${JSON.stringify(name)}.`);
  }
}

/** Throws `InvalidNameError` unless `name` is a valid group name. */
export function requireValidGroupName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name.length >= MAX_NAME_LENGTH || !GROUP_NAME.test(name)) {
    throw nameError('Group', name);
  }
}

/** The part of a channel name up to and including the `!`, or the whole name. */
export function nonLocalName(channel: string): string {
  const bang = channel.indexOf('!');
  return bang === -1 ? channel : channel.slice(0, bang + 1);
}

/** Turns an fnmatch glob into an anchored regular expression, as Python's `fnmatch.translate`. */
export function globToRegExp(glob: string): RegExp {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') out += '.*';
    else if (c === '?') out += '.';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end === -1) out += '\\[';
      else {
        let body = glob.slice(i + 1, end).replace(/\\/g, '\\\\');
        if (body.startsWith('!')) body = '^' + body.slice(1);
        out += `[${body}]`;
        i = end;
      }
    } else out += c.replace(/[.+^${}()|\\\]]/g, '\\$&');
  }
  return new RegExp(`^(?:${out})$`, 's');
}

/** Compiles `channelCapacity` once; `capacityFor` then finds a channel's capacity. */
export function compileCapacities(
  defaultCapacity: number,
  channelCapacity: BaseLayerOptions['channelCapacity'],
): (channel: string) => number {
  const entries = Array.isArray(channelCapacity) ? channelCapacity : Object.entries(channelCapacity ?? {});
  const rules = entries.map(([pattern, capacity]) => {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new TypeError(`channelCapacity for ${String(pattern)} must be a positive integer, not ${capacity}`);
    }
    return [typeof pattern === 'string' ? globToRegExp(pattern) : pattern, capacity] as const;
  });
  if (rules.length === 0) return () => defaultCapacity;
  return (channel) => {
    for (const [re, capacity] of rules) if (re.test(channel)) return capacity;
    return defaultCapacity;
  };
}

/** Applies Django's defaults to the shared options. */
export function baseDefaults(options: BaseLayerOptions): Required<Omit<BaseLayerOptions, 'channelCapacity'>> {
  const resolved = { expiry: 60, groupExpiry: 86400, capacity: 100, ...stripUndefined(options) };
  for (const key of ['expiry', 'groupExpiry', 'capacity'] as const) {
    const value = resolved[key];
    if (typeof value !== 'number' || !(value > 0)) {
      throw new TypeError(`Channel layer option '${key}' must be a positive number, not ${String(value)}`);
    }
  }
  return resolved;
}

function stripUndefined<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Deep-freezes a message so one object can be delivered to many receivers safely. */
export function freezeMessage<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value) && !ArrayBuffer.isView(value)) {
    Object.freeze(value);
    // Indexed loop and for...in rather than Object.keys: no array allocated per object.
    if (Array.isArray(value)) for (let i = 0; i < value.length; i++) freezeMessage(value[i]);
    else for (const key in value) freezeMessage((value as Record<string, unknown>)[key]);
  }
  return value;
}
