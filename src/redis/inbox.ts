/**
 * Per-channel receive buffers of one process, bounded.
 *
 * How it works: the process's receive loop (core) or subscriber (pub/sub)
 * hands each decoded message to {@link Inbox.deliver}. Each channel is a
 * {@link Mailbox} (`layers/mailbox.ts`, shared with the in-memory layer): a
 * tapped consumer or a waiting `receive()` of that channel gets the message
 * at once; otherwise it is buffered. Each channel's buffer holds at most
 * `bufferSize` messages and drops the oldest when full (as channels_redis's
 * `BoundedQueue`). A buffered message also expires (`expiry` after it was
 * sent), and idle empty buffers are forgotten, so a channel nobody reads any
 * more costs nothing after `expiry`. Aborting a receive removes its waiter
 * and frees the channel's buffer when it is empty: no message is lost, since
 * a buffered message would have been returned.
 */
import type { LayerMessage } from '../asgi.js';
import type { ChannelTap, TapListener } from '../layers/base.js';
import type { SlowConsumer } from '../layers/slow-consumers.js';
import { Mailbox, type MailboxOwner } from '../layers/mailbox.js';
import { TapDispatcher } from '../layers/tap.js';

/** Counters of an {@link Inbox}, for tests and metrics. */
export interface InboxStats {
  channels: number;
  buffered: number;
  waiting: number;
  dropped: number;
}

/**
 * Bounded per-channel buffers with waiting receivers.
 *
 * @example
 * ```ts
 * import { Inbox } from './inbox.js';
 *
 * const inbox = new Inbox(100);
 * const next = inbox.take('specific.a!b');
 * inbox.deliver('specific.a!b', { type: 'hello' }, Date.now() + 60_000);
 * await next; // { type: 'hello' }
 * ```
 */
export class Inbox {
  readonly bufferSize: number;
  #boxes = new Map<string, Mailbox>();
  #waiting = 0;
  #dropped = 0;
  readonly #taps = new TapDispatcher();
  /** Called with a channel's name when a message is dropped because its buffer is full. */
  onOverflow: ((channel: string) => void) | null = null;

  constructor(bufferSize: number) {
    this.bufferSize = Math.max(1, Math.floor(bufferSize));
  }

  /** What the mailboxes report back. */
  readonly #owner: MailboxOwner = {
    expired: () => {},
    released: (box) => {
      if (box.idle && this.#boxes.get(box.channel) === box) this.#boxes.delete(box.channel);
    },
    waiting: (delta) => {
      this.#waiting += delta;
    },
  };

  /** Push delivery of one channel (see `ChannelTap`). */
  tap(channel: string, listener: TapListener, slow?: SlowConsumer): ChannelTap {
    return this.#box(channel).openTap(listener, slow);
  }

  /** Receives waiting in {@link take}. */
  get waiting(): number {
    return this.#waiting;
  }

  /** Receives waiting on one channel. */
  waitersOf(channel: string): number {
    return this.#boxes.get(channel)?.waiters ?? 0;
  }

  /** Whether a channel has a buffer or a waiter here. */
  has(channel: string): boolean {
    return this.#boxes.has(channel);
  }

  stats(): InboxStats {
    let buffered = 0;
    for (const box of this.#boxes.values()) buffered += box.messages.length;
    return { channels: this.#boxes.size, buffered, waiting: this.#waiting, dropped: this.#dropped };
  }

  /**
   * Hands a message to the channel's tap or a waiter, or buffers it (by the
   * consumer's slow-consumer policy for `group`, the group it came through
   * when known; else dropping the oldest when full).
   */
  deliver(channel: string, message: LayerMessage, expiresAt: number, group?: string): void {
    const existing = this.#boxes.get(channel);
    if (existing !== undefined && existing.offer(message)) return;
    const box = existing ?? this.#box(channel);
    if (box.place(message, expiresAt, this.bufferSize, group)) return;
    box.dropOldest();
    this.#dropped++;
    this.onOverflow?.(channel);
    box.push(message, expiresAt);
  }

  /** The next message of a channel: buffered, or the next delivered. */
  take(channel: string, signal?: AbortSignal): Promise<LayerMessage> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return this.#box(channel).receive(signal);
  }

  /** Drops expired messages and forgets idle empty buffers. */
  sweep(now = Date.now()): void {
    for (const box of this.#boxes.values()) {
      box.dropExpired(now);
      this.#owner.released(box);
    }
  }

  /** Empties every buffer (waiters keep waiting). */
  clear(): void {
    for (const box of this.#boxes.values()) box.clear();
  }

  /** Drops the buffered messages of one channel (waiters keep waiting). */
  forget(channel: string): void {
    this.#boxes.get(channel)?.clear();
  }

  /** Rejects every waiter (the layer is closing) and forgets everything. */
  close(error: unknown): void {
    const boxes = [...this.#boxes.values()];
    this.#boxes.clear();
    for (const box of boxes) box.rejectWaiters(error);
    this.#waiting = 0;
  }

  #box(channel: string): Mailbox {
    let box = this.#boxes.get(channel);
    if (box === undefined) this.#boxes.set(channel, (box = new Mailbox(channel, this.#owner, this.#taps)));
    return box;
  }
}
