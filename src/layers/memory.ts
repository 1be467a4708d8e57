/**
 * The in-memory channel layer: the embedded default, for one process.
 *
 * How it works: each channel is a {@link Mailbox} (`mailbox.ts`, shared with
 * the Redis layers' inbox): a FIFO of `(expiresAt, message)` plus the
 * receivers waiting; a send hands the message straight to the channel's tap
 * or oldest waiter when there is one. Messages are frozen once on send
 * instead of being deep-copied per receiver, so a `groupSend` to 500 members
 * delivers one object 500 times (which also lets consumers render it once:
 * see `consumers/broadcast.ts`).
 *
 * Consumers read their channel through a {@link ChannelTap} rather than a
 * `receive()` per message: an idle consumer *arms* the tap with a listener,
 * and a send or groupSend hands the message to that listener, so a broadcast
 * to 500 idle consumers costs 500 function calls instead of 500 promises,
 * abort listeners and channel-state objects made and dropped per message.
 * Listeners are called in one microtask after the send returns (as a
 * resolved receive() would run), in delivery order: a handler that sends in
 * turn cannot overtake the message that caused it.
 * A consumer that is busy leaves the tap unarmed: messages then queue on the
 * channel as usual (capacity, expiry), and it `take()`s them when it is done.
 *
 * Expired messages are dropped when their channel is read, and a sweep (at
 * most a few times per `expiry`) drops them everywhere else; as in Django, a
 * channel that lets a message expire is removed from all its groups, and
 * memberships older than `groupExpiry` are dropped.
 */
import type { LayerMessage } from '../asgi.js';
import { ChannelFull } from '../errors.js';
import { Mailbox, type MailboxOwner } from './mailbox.js';
import { TapDispatcher } from './tap.js';
import {
  type BaseLayerOptions,
  type ChannelTap,
  type TapListener,
  type TappableLayer,
  type ChannelLayer,
  type GroupSendOptions,
  type LayerExtension,
  baseDefaults,
  compileCapacities,
  freezeMessage,
  requireValidChannelName,
  requireValidGroupName,
  withExcept,
  type LocalGroups,
} from './base.js';
import { checkMessageValues, requireMessageShape } from './validate.js';
import { type LeasableLayer, type Lease, LocalLeases } from './lease.js';
import { type SlowConsumer, countSlowConsumerAction } from './slow-consumers.js';
import { type GroupHistoryConfig, type HistoryRead, MemoryHistory, type StreamPosition } from './history.js';

const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

function randomLetters(count: number): string {
  let out = '';
  for (let i = 0; i < count; i++) out += LETTERS[Math.floor(Math.random() * LETTERS.length)];
  return out;
}

/** Options of {@link InMemoryChannelLayer}: Django's defaults (expiry 60 s, group expiry 86400 s, capacity 100). */
export interface InMemoryChannelLayerOptions extends BaseLayerOptions {
  /**
   * Check every message with the rules of the Redis layers (`validate.ts`:
   * no `undefined`, `Date`, `Map`, class instances, `bigint`, `NaN`...), so
   * what works here works on Redis. Default `true`; `false` (or
   * `memory://?validateMessages=false`) checks only the top level (a plain
   * object with a string `type`), for a process that never uses Redis and
   * wants to pass such values between its own consumers.
   */
  validateMessages?: boolean;
  /**
   * Groups that keep a bounded history of their messages, for connections
   * that come back (see `history.ts` and `docs/recovery.md`). The epoch is
   * this instance's: a new process starts a new one.
   */
  groupHistory?: GroupHistoryConfig;
}

/**
 * A channel layer that lives in this process's memory. It refuses the
 * messages a Redis layer would refuse or change (`validateMessages`).
 *
 * @example
 * ```ts
 * import { InMemoryChannelLayer } from 'switchyard';
 *
 * const layer = new InMemoryChannelLayer({ capacity: 1000, channelCapacity: { 'thumbnails-*': 10 } });
 * await layer.groupAdd('chat_lobby', await layer.newChannel());
 * ```
 */
export class InMemoryChannelLayer implements ChannelLayer, TappableLayer, LeasableLayer {
  readonly extensions: readonly LayerExtension[] = ['groups', 'flush'];
  readonly expiry: number;
  readonly groupExpiry: number;
  readonly capacity: number;
  /** Whether messages are checked with the Redis layers' rules (see {@link InMemoryChannelLayerOptions.validateMessages}). */
  readonly validateMessages: boolean;
  readonly #capacityFor: (channel: string) => number;
  #channels = new Map<string, Mailbox>();
  /** group → (channel → time of the last groupAdd, in ms). */
  #groups = new Map<string, Map<string, number>>();
  readonly #taps = new TapDispatcher();
  readonly #leases = new LocalLeases();
  readonly #history: MemoryHistory;
  #nextSweepAt = 0;
  readonly #sweepEvery: number;

  constructor(options: InMemoryChannelLayerOptions = {}) {
    const resolved = baseDefaults(options);
    this.expiry = resolved.expiry;
    this.groupExpiry = resolved.groupExpiry;
    this.capacity = resolved.capacity;
    if (options.validateMessages !== undefined && typeof options.validateMessages !== 'boolean') {
      throw new TypeError(`Channel layer option 'validateMessages' must be true or false, not ${String(options.validateMessages)}`);
    }
    this.validateMessages = options.validateMessages ?? true;
    this.#capacityFor = compileCapacities(this.capacity, options.channelCapacity);
    this.#history = new MemoryHistory(options.groupHistory);
    this.#sweepEvery = Math.min(1000, (this.expiry * 1000) / 4);
  }

  /** The capacity that applies to a channel. */
  capacityFor(channel: string): number {
    return this.#capacityFor(channel);
  }

  async send(channel: string, message: LayerMessage): Promise<void> {
    const frozen = this.#checkAndFreeze(message);
    requireValidChannelName(channel);
    this.#deliver(channel, frozen, Date.now(), true);
  }

  async receive(channel: string, signal?: AbortSignal): Promise<LayerMessage> {
    requireValidChannelName(channel);
    signal?.throwIfAborted();
    this.#maybeSweep(Date.now());
    return this.#mailbox(channel).receive(signal);
  }

  /** Opens the push delivery of a channel (one tap per channel at a time), with its consumer's slow-consumer policies. */
  tap(channel: string, listener: TapListener, slow?: SlowConsumer): ChannelTap {
    requireValidChannelName(channel);
    return this.#mailbox(channel).openTap(listener, slow);
  }

  async newChannel(prefix = 'specific'): Promise<string> {
    const name = `${prefix}.inmemory!${randomLetters(12)}`;
    requireValidChannelName(name);
    return name;
  }

  async groupAdd(group: string, channel: string): Promise<void> {
    requireValidGroupName(group);
    requireValidChannelName(channel);
    let members = this.#groups.get(group);
    if (members === undefined) this.#groups.set(group, (members = new Map()));
    members.set(channel, Date.now());
  }

  async groupDiscard(group: string, channel: string): Promise<void> {
    requireValidGroupName(group);
    requireValidChannelName(channel);
    const members = this.#groups.get(group);
    if (members === undefined) return;
    members.delete(channel);
    if (members.size === 0) this.#groups.delete(group);
  }

  async groupSend(group: string, message: LayerMessage, options?: GroupSendOptions): Promise<void> {
    requireValidGroupName(group);
    const now = Date.now();
    const frozen = this.#history.append(group, this.#checkAndFreeze(withExcept(message, options)), now);
    this.#maybeSweep(now);
    const members = this.#groups.get(group);
    if (members === undefined) return;
    const oldest = now - this.groupExpiry * 1000;
    // In a group with history the member left out still gets the message, marked, so that its position moves.
    const except = this.#history.keeps(group) ? undefined : options?.except;
    // forEach, not for...of: no entry array per member (a broadcast to 500 is 500 of them).
    members.forEach((addedAt, channel) => {
      if (addedAt < oldest) members.delete(channel);
      else if (channel !== except) this.#deliver(channel, frozen, now, false, group);
    });
  }

  /** Every group and its members (all of them are this process's): see `ChannelLayer.localGroups`. */
  localGroups(): LocalGroups {
    return this.#groups;
  }

  /** What the group's history holds after `since` (see `ChannelLayer.readHistory`). */
  async readHistory(group: string, since: StreamPosition | null, limit = 1000): Promise<HistoryRead | null> {
    requireValidGroupName(group);
    return this.#history.read(group, since, limit, Date.now());
  }

  /** Leases `name` within this process (one holder per name; see `runOnce`): the lease, or null while it is held. */
  lease(name: string, ttlMs: number): Promise<Lease | null> {
    return this.#leases.lease(name, ttlMs);
  }

  async flush(): Promise<void> {
    // As the Redis core layer's flush deletes its lease keys, leases end too.
    this.#leases.clear();
    // Waiting receivers stay: they keep waiting for new messages on their channel.
    for (const box of this.#channels.values()) box.clear();
    this.#groups.clear();
    this.#history.clear();
  }

  async close(): Promise<void> {}

  /** Checks a message (one walk that also freezes it) or, unchecked, only its shape before freezing it. */
  #checkAndFreeze(message: LayerMessage): LayerMessage {
    requireMessageShape(message);
    if (this.validateMessages) checkMessageValues(message, { freeze: true });
    else freezeMessage(message);
    return message;
  }

  /** Hands a message to the channel's tap or a waiting receiver, or queues it; over capacity it throws or (for groups) skips. */
  #deliver(channel: string, message: LayerMessage, now: number, throwWhenFull: boolean, group?: string): void {
    const existing = this.#channels.get(channel);
    // One microtask per send/groupSend for the taps, not one per member.
    if (existing !== undefined && existing.offer(message)) return;
    const box = existing ?? this.#mailbox(channel);
    if (box.messages.length > 0) box.dropExpired(now);
    if (box.place(message, now + this.expiry * 1000, this.#capacityFor(channel), group)) return;
    this.#owner.released(box);
    if (throwWhenFull) throw new ChannelFull(channel);
    countSlowConsumerAction('drop-newest');
  }

  #mailbox(channel: string): Mailbox {
    let box = this.#channels.get(channel);
    if (box === undefined) this.#channels.set(channel, (box = new Mailbox(channel, this.#owner, this.#taps)));
    return box;
  }

  /** What the mailboxes report back. */
  readonly #owner: MailboxOwner = {
    // A channel that let a message expire leaves all its groups (Django's rule).
    expired: (box) => {
      for (const [group, members] of this.#groups) {
        if (members.delete(box.channel) && members.size === 0) this.#groups.delete(group);
      }
    },
    released: (box) => {
      if (box.idle && this.#channels.get(box.channel) === box) this.#channels.delete(box.channel);
    },
    waiting: () => {},
  };

  #maybeSweep(now: number): void {
    if (now < this.#nextSweepAt) return;
    this.#nextSweepAt = now + this.#sweepEvery;
    for (const box of this.#channels.values()) {
      box.dropExpired(now);
      this.#owner.released(box);
    }
    const oldest = now - this.groupExpiry * 1000;
    for (const [group, members] of this.#groups) {
      for (const [channel, addedAt] of members) if (addedAt < oldest) members.delete(channel);
      if (members.size === 0) this.#groups.delete(group);
    }
  }
}
