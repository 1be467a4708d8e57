/**
 * The general channels a process receives (names without `!`, such as a
 * worker's `thumbnails`): each is a subject this process subscribes to in
 * a NATS queue group, so one receiving process gets each message.
 *
 * Unlike a process's own channels (one subscription for all of them, for
 * the process's life), a general channel is subscribed while something
 * receives it. After an aborted receive or a closed tap it stays subscribed
 * `unsubscribeDelay` ms, so a receive that follows at once loses nothing;
 * then, if nobody waits on it, it is forgotten: unsubscribed, its mailbox
 * dropped and its group memberships left.
 *
 * @internal
 */
import type { Msg } from 'nats';
import type { LocalGroups } from './groups.js';
import type { LocalChannels } from './mailboxes.js';
import { QUEUE_GROUP, channelSubject } from './subjects.js';
import type { NatsSubscriptions } from './subscriptions.js';

/** What the general channels need of their layer. */
export interface GeneralChannelsOptions {
  prefix: string;
  subscriptions: NatsSubscriptions;
  channels: LocalChannels;
  groups: LocalGroups;
  /** A message published to a general channel received here. */
  onMessage: (message: Msg) => void;
  /** Ms a channel stays subscribed after its last receive was aborted or its tap closed. */
  unsubscribeDelay: number;
}

export class GeneralChannels {
  readonly #options: GeneralChannelsOptions;
  /** The channels received here, each with its pending unsubscribe timer (null when none). */
  readonly #received = new Map<string, NodeJS.Timeout | null>();

  constructor(options: GeneralChannelsOptions) {
    this.#options = options;
  }

  /** Whether `channel` is received here. */
  has(channel: string): boolean {
    return this.#received.has(channel);
  }

  /** Subscribes `channel` (in the queue group) unless it is already; cancels a pending unsubscribe. */
  async receiveHere(channel: string): Promise<void> {
    const pending = this.#received.get(channel);
    if (pending === undefined) {
      const { subscriptions, prefix, onMessage } = this.#options;
      await subscriptions.subscribe(channelSubject(prefix, channel), onMessage, QUEUE_GROUP);
      if (!this.#received.has(channel)) this.#received.set(channel, null);
    } else {
      this.keep(channel);
    }
  }

  /** Cancels a pending unsubscribe of `channel` (a receive or a tap uses it again). */
  keep(channel: string): void {
    const pending = this.#received.get(channel);
    if (pending === undefined || pending === null) return;
    clearTimeout(pending);
    this.#received.set(channel, null);
  }

  /** After an aborted receive or a closed tap: `channel` stays subscribed `unsubscribeDelay` ms, then goes if nobody waits. */
  scheduleUnsubscribe(channel: string): void {
    if (channel.includes('!') || this.#received.get(channel) !== null) return;
    const timer = setTimeout(() => {
      if (this.#received.get(channel) !== timer) return;
      if (this.#options.channels.waitersOf(channel) > 0) this.#received.set(channel, null);
      else this.#forget(channel);
    }, this.#options.unsubscribeDelay);
    timer.unref();
    this.#received.set(channel, timer);
  }

  /** The layer's `flush()`: pending unsubscribes are cancelled, and the channels nobody waits on are forgotten at once. */
  flush(): void {
    for (const [channel, timer] of this.#received) {
      if (timer !== null) clearTimeout(timer);
      if (this.#options.channels.waitersOf(channel) === 0) this.#forget(channel);
    }
  }

  /** The layer closes: no timer may outlive it. */
  close(): void {
    for (const timer of this.#received.values()) if (timer !== null) clearTimeout(timer);
  }

  #forget(channel: string): void {
    const { channels, subscriptions, prefix, groups } = this.#options;
    this.#received.delete(channel);
    channels.forget(channel);
    subscriptions.unsubscribe(channelSubject(prefix, channel));
    groups.leave(channel);
  }
}
