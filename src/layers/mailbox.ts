/**
 * One channel's mailbox: its queued messages (each with the time it
 * expires), the `receive()` calls waiting on it, and its tap. The in-memory
 * layer keeps one per channel, and so does the Redis layers' inbox for the
 * channels of its process; what differs between them stays with them: what
 * happens when a mailbox is full (`ChannelFull`, or the oldest dropped) and
 * what an expired message means (the in-memory layer then removes the
 * channel from its groups, as Django does).
 *
 * A message offered to a mailbox goes to its armed tap (through the layer's
 * {@link TapDispatcher}, in one microtask for a whole broadcast), else to the
 * oldest waiting `receive()`, else the layer queues it. A mailbox is also the
 * channel's {@link ChannelTap} once tapped: a consumer's tap costs no object
 * of its own.
 */
import type { LayerMessage } from '../asgi.js';
import { ChannelAlreadyTapped } from '../errors.js';
import type { ChannelTap, TapListener } from './base.js';
import { type SlowConsumer, countSlowConsumerAction } from './slow-consumers.js';
import type { TapDispatcher } from './tap.js';

/** What a mailbox tells the layer that keeps it. */
export interface MailboxOwner {
  /** Expired messages were dropped from `box`. */
  expired(box: Mailbox): void;
  /** `box` may have become idle (see {@link Mailbox.idle}): the owner forgets it if so. */
  released(box: Mailbox): void;
  /** A `receive()` started (+1) or stopped (-1) waiting. */
  waiting(delta: 1 | -1): void;
}

interface Waiter {
  resolve: (message: LayerMessage) => void;
  reject: (error: unknown) => void;
}

/** The queue of every mailbox that has never queued a message (see {@link Mailbox.messages}). */
const NONE_QUEUED: never[] = Object.freeze([]) as never[];

/** A channel's queue, waiters and tap. */
export class Mailbox implements ChannelTap {
  readonly channel: string;
  /**
   * Parallel arrays: cheaper than an object per message. Until a message is
   * queued both are one shared, frozen, empty array (most channels are
   * tapped and never queue: an idle connection's mailbox holds no array of
   * its own). Read them; only this class changes them.
   */
  messages: LayerMessage[] = NONE_QUEUED;
  expiresAt: number[] = NONE_QUEUED;
  /** Pending `receive()` calls (null until one waits: a tapped channel never has any). */
  #waiters: Waiter[] | null = null;
  /** The tap's listener, while a tap is open. */
  #listener: TapListener | null = null;
  /** The tap is armed: the next message goes to the listener. */
  #armed = false;
  /** The tapping consumer's slow-consumer policies, if it has any. */
  #slow: SlowConsumer | null = null;
  readonly #owner: MailboxOwner;
  readonly #taps: TapDispatcher;

  constructor(channel: string, owner: MailboxOwner, taps: TapDispatcher) {
    this.channel = channel;
    this.#owner = owner;
    this.#taps = taps;
  }

  /** Nothing queued, nobody waiting, no tap: the owner may forget it. */
  get idle(): boolean {
    return this.messages.length === 0 && (this.#waiters?.length ?? 0) === 0 && this.#listener === null;
  }

  /** Receives waiting on this channel. */
  get waiters(): number {
    return this.#waiters?.length ?? 0;
  }

  /** Hands `message` to the armed tap or the oldest waiting receive; false when neither takes it. */
  offer(message: LayerMessage): boolean {
    if (this.#armed) {
      this.#armed = false;
      this.#taps.deliver(this.#listener!, message);
      return true;
    }
    const waiter = this.#waiters?.shift();
    if (waiter === undefined) return false;
    this.#owner.waiting(-1);
    waiter.resolve(message);
    this.#owner.released(this);
    return true;
  }

  /** Queues a message (the owner checked the room for it). */
  push(message: LayerMessage, expiresAt: number): void {
    if (this.messages === NONE_QUEUED) {
      this.messages = [];
      this.expiresAt = [];
    }
    this.messages.push(message);
    this.expiresAt.push(expiresAt);
  }

  /**
   * Queues a message the tap did not take, by the tapping consumer's
   * slow-consumer policy when it has one (`slow-consumers.ts`): coalesced
   * with a queued one of the same key, or past `capacity` making room by
   * dropping the oldest, or refused with the consumer told (`disconnect`).
   * Returns false when the mailbox is full and the layer's own rule applies.
   * `group` is the group the message came through, when the layer knows it.
   */
  place(message: LayerMessage, expiresAt: number, capacity: number, group?: string): boolean {
    const policy = this.#slow?.policyFor(message, group) ?? null;
    if (policy !== null && this.messages.length > 0) {
      if (policy.key !== null) {
        const key = policy.key(message);
        const queued = this.messages;
        for (let i = queued.length - 1; key !== undefined && i >= 0; i--) {
          if (policy.key(queued[i]!) !== key) continue;
          queued[i] = message;
          this.expiresAt[i] = expiresAt;
          countSlowConsumerAction('coalesce');
          return true;
        }
      }
      if (this.messages.length >= capacity) {
        if (policy.kind === 'drop-newest') return false;
        countSlowConsumerAction(policy.kind === 'disconnect' ? 'disconnect' : 'drop-oldest');
        if (policy.kind === 'disconnect') {
          this.#slow!.tooSlow();
          return true;
        }
        this.dropOldest();
      }
    }
    if (this.messages.length >= capacity) return false;
    this.push(message, expiresAt);
    return true;
  }

  /** Drops the oldest queued message. */
  dropOldest(): void {
    if (this.messages.length === 0) return;
    this.messages.shift();
    this.expiresAt.shift();
  }

  /** Drops the expired messages at the head of the queue. */
  dropExpired(now: number): void {
    let expired = 0;
    while (expired < this.expiresAt.length && this.expiresAt[expired]! <= now) expired++;
    if (expired === 0) return;
    this.messages.splice(0, expired);
    this.expiresAt.splice(0, expired);
    this.#owner.expired(this);
  }

  /** Empties the queue (waiters and the tap stay). */
  clear(): void {
    if (this.messages.length > 0) {
      this.messages.length = 0;
      this.expiresAt.length = 0;
    }
    this.#owner.released(this);
  }

  /** The next message: a queued one at once, else the next one offered. Aborting loses nothing. */
  receive(signal?: AbortSignal): Promise<LayerMessage> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    this.dropExpired(Date.now());
    if (this.messages.length > 0) {
      const message = this.#shift()!;
      this.#owner.released(this);
      return Promise.resolve(message);
    }
    return new Promise<LayerMessage>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject };
      (this.#waiters ??= []).push(waiter);
      this.#owner.waiting(1);
      if (signal === undefined) return;
      const onAbort = () => {
        const index = this.#waiters?.indexOf(waiter) ?? -1;
        if (index === -1) return;
        this.#waiters!.splice(index, 1);
        this.#owner.waiting(-1);
        this.#owner.released(this);
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      waiter.resolve = (message) => {
        signal.removeEventListener('abort', onAbort);
        resolve(message);
      };
    });
  }

  /** Rejects every waiting receive (the layer is closing). */
  rejectWaiters(error: unknown): void {
    const waiters = this.#waiters ?? [];
    this.#waiters = null;
    for (const waiter of waiters) {
      this.#owner.waiting(-1);
      waiter.reject(error);
    }
  }

  /** Opens the channel's tap (one at a time), with the tapping consumer's slow-consumer policies. */
  openTap(listener: TapListener, slow?: SlowConsumer): ChannelTap {
    if (this.#listener !== null) throw new ChannelAlreadyTapped(this.channel);
    this.#listener = listener;
    this.#slow = slow ?? null;
    return this;
  }

  // ---- ChannelTap ----

  take(): LayerMessage | undefined {
    if (this.messages.length === 0) return undefined;
    this.dropExpired(Date.now());
    return this.#shift();
  }

  arm(): void {
    if (this.#listener !== null) this.#armed = true;
  }

  close(): void {
    if (this.#listener === null) return;
    this.#listener = null;
    this.#slow = null;
    this.#armed = false;
    this.#owner.released(this);
  }

  #shift(): LayerMessage | undefined {
    this.expiresAt.shift();
    return this.messages.shift();
  }
}
