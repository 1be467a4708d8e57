/**
 * Per-channel receive buffers of one process, bounded.
 *
 * How it works: the process's receive loop (core) or subscriber (pub/sub)
 * hands each decoded message to {@link Inbox.deliver}. A waiting `receive()` of
 * that channel gets it at once; otherwise it is buffered. Each channel's
 * buffer holds at most `bufferSize` messages and drops the oldest when full
 * (as channels_redis's `BoundedQueue`). A buffered message also expires
 * (`expiry` after it was sent), and idle empty buffers are forgotten, so a
 * channel nobody reads any more costs nothing after `expiry`. Aborting a
 * receive removes its waiter and frees the channel's buffer when it is empty:
 * no message is lost, since a buffered message would have been returned.
 */
import type { LayerMessage } from '../asgi.js';
import type { ChannelTap, TapListener } from '../layers/base.js';
import { TapDispatcher } from '../layers/tap.js';

interface Waiter {
  resolve: (message: LayerMessage) => void;
  reject: (error: unknown) => void;
}

interface Box {
  messages: LayerMessage[];
  expiresAt: number[];
  waiters: Waiter[];
  listener: TapListener | null;
  armed: boolean;
  tapped: boolean;
}
const newBox = (): Box => ({ messages: [], expiresAt: [], waiters: [], listener: null, armed: false, tapped: false });

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
  #boxes = new Map<string, Box>();
  #waiting = 0;
  #dropped = 0;
  /** Called with a channel's name when a message is dropped because its buffer is full. */
  onOverflow: ((channel: string) => void) | null = null;

  constructor(bufferSize: number) {
    this.bufferSize = Math.max(1, Math.floor(bufferSize));
  }

  readonly #taps = new TapDispatcher();

  /** Push delivery of one channel (see the in-memory layer's ChannelTap). */
  tap(channel: string, listener: TapListener): ChannelTap {
    let box = this.#boxes.get(channel);
    if (box === undefined) this.#boxes.set(channel, (box = newBox()));
    const target = box;
    target.tapped = true;
    target.listener = listener;
    return {
      take: () => {
        if (target.messages.length === 0) return undefined;
        this.#dropExpired(target, Date.now());
        target.expiresAt.shift();
        return target.messages.shift();
      },
      arm: () => { if (target.tapped) target.armed = true; },
      close: () => {
        if (!target.tapped) return;
        target.tapped = false;
        target.armed = false;
        target.listener = null;
        this.#forgetIfIdle(channel, target);
      },
    };
  }

  /** Receives waiting in {@link take}. */
  get waiting(): number {
    return this.#waiting;
  }

  /** Receives waiting on one channel. */
  waitersOf(channel: string): number {
    return this.#boxes.get(channel)?.waiters.length ?? 0;
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

  /** Hands a message to a waiter of the channel, or buffers it (dropping the oldest when full). */
  deliver(channel: string, message: LayerMessage, expiresAt: number): void {
    let box = this.#boxes.get(channel);
    if (box !== undefined && box.armed) {
      box.armed = false;
      this.#taps.deliver(box.listener!, message);
      return;
    }
    if (box !== undefined && box.waiters.length > 0) {
      this.#waiting--;
      box.waiters.shift()!.resolve(message);
      this.#forgetIfIdle(channel, box);
      return;
    }
    if (box === undefined) this.#boxes.set(channel, (box = newBox()));
    if (box.messages.length >= this.bufferSize) {
      box.messages.shift();
      box.expiresAt.shift();
      this.#dropped++;
      this.onOverflow?.(channel);
    }
    box.messages.push(message);
    box.expiresAt.push(expiresAt);
  }

  /** The next message of a channel: buffered, or the next delivered. */
  take(channel: string, signal?: AbortSignal): Promise<LayerMessage> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const now = Date.now();
    let box = this.#boxes.get(channel);
    if (box !== undefined) {
      this.#dropExpired(box, now);
      if (box.messages.length > 0) {
        const message = box.messages.shift()!;
        box.expiresAt.shift();
        this.#forgetIfIdle(channel, box);
        return Promise.resolve(message);
      }
    } else this.#boxes.set(channel, (box = newBox()));
    const target = box;
    return new Promise<LayerMessage>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject };
      target.waiters.push(waiter);
      this.#waiting++;
      if (signal === undefined) return;
      const onAbort = () => {
        const index = target.waiters.indexOf(waiter);
        if (index === -1) return;
        target.waiters.splice(index, 1);
        this.#waiting--;
        this.#forgetIfIdle(channel, target);
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      waiter.resolve = (message) => {
        signal.removeEventListener('abort', onAbort);
        resolve(message);
      };
    });
  }

  /** Drops expired messages and forgets idle empty buffers. */
  sweep(now = Date.now()): void {
    for (const [channel, box] of this.#boxes) {
      this.#dropExpired(box, now);
      this.#forgetIfIdle(channel, box);
    }
  }

  /** Empties every buffer (waiters keep waiting). */
  clear(): void {
    for (const [channel, box] of this.#boxes) {
      box.messages.length = 0;
      box.expiresAt.length = 0;
      this.#forgetIfIdle(channel, box);
    }
  }

  /** Drops the buffered messages of one channel (waiters keep waiting). */
  forget(channel: string): void {
    const box = this.#boxes.get(channel);
    if (box === undefined) return;
    box.messages.length = 0;
    box.expiresAt.length = 0;
    this.#forgetIfIdle(channel, box);
  }

  /** Rejects every waiter (the layer is closing) and forgets everything. */
  close(error: unknown): void {
    const boxes = [...this.#boxes.values()];
    this.#boxes.clear();
    this.#waiting = 0;
    for (const box of boxes) for (const waiter of box.waiters) waiter.reject(error);
  }

  #dropExpired(box: Box, now: number): void {
    let expired = 0;
    while (expired < box.expiresAt.length && box.expiresAt[expired]! <= now) expired++;
    if (expired > 0) {
      box.messages.splice(0, expired);
      box.expiresAt.splice(0, expired);
    }
  }

  #forgetIfIdle(channel: string, box: Box): void {
    if (box.messages.length === 0 && box.waiters.length === 0 && !box.tapped) this.#boxes.delete(channel);
  }
}
