/**
 * The pub/sub layer's subscriber connections: one per shard (one for a whole
 * Redis Cluster, where ioredis keeps one per master), created on first use.
 * They subscribe and unsubscribe names, hand every published message to the
 * layer, and tell when a shard's subscriptions went down and came back.
 *
 * Two things make this more than a call to `SUBSCRIBE`. A name left while
 * its connection was down is still in ioredis's own list and would be
 * resubscribed on reconnect: it is kept as *stale* and unsubscribed once the
 * connection is back, if the layer still does not want it. And Redis keeps
 * nothing for a subscriber that is away, so a reconnection is said out loud
 * (a warning, `onReconnect`) and the groups that keep a history are told to
 * resync (`groupsResynced`), never losing messages silently.
 *
 * @internal
 */
import { LayerUnavailableError } from '../errors.js';
import { groupsResynced } from '../layers/history.js';
import type { RedisClient, Shard } from './connection.js';
import type { LayerLogger } from './log.js';

/** What the subscribers need of their layer. */
export interface SubscribersOptions {
  shards: readonly Shard[];
  /** Sharded pub/sub (`SSUBSCRIBE`) on a Redis Cluster. */
  cluster: boolean;
  /** Ms to wait for a connection before a subscribe fails. */
  connectTimeout: number;
  logger: LayerLogger;
  shardOf: (name: string) => number;
  /** A message published on a subscribed name. */
  onMessage: (name: string, body: Buffer) => void;
  /** Whether the layer still wants `name` (a local channel or a group's pub/sub channel). */
  wanted: (name: string) => boolean;
  /** The groups subscribed on a shard, told to resync when its subscriptions come back. */
  groupsOn: (index: number) => string[];
  /** A shard's subscriptions went down (the layer's `onDisconnect` hook). */
  onDisconnect: (host: string) => void;
  /** They came back (the layer's `onReconnect` hook). */
  onReconnect: (host: string) => void;
}

export class Subscribers {
  readonly #options: SubscribersOptions;
  readonly #connections: (RedisClient | null)[];
  /** Names left while their connection was down: ioredis resubscribes them on reconnect, so they are unsubscribed then. */
  readonly #stale = new Set<string>();
  #closed = false;

  constructor(options: SubscribersOptions) {
    this.#options = options;
    this.#connections = options.shards.map(() => null);
  }

  /** Subscribes `name` on its shard; fails with `LayerUnavailableError` when Redis is away. */
  async subscribe(name: string): Promise<void> {
    const index = this.#options.shardOf(name);
    const shard = this.#options.shards[index]!;
    const sub = this.#connection(index);
    try {
      await shard.waitReady(sub, this.#options.connectTimeout, true);
      await (this.#options.cluster ? sub.ssubscribe(name) : sub.subscribe(name));
    } catch (error) {
      throw error instanceof LayerUnavailableError ? error : new LayerUnavailableError(`Redis at ${shard.label} is unavailable: ${String(error)}`, { cause: error });
    }
  }

  /** Unsubscribes `name`; when its connection is down, it is unsubscribed once the connection is back. */
  async unsubscribe(name: string): Promise<void> {
    const sub = this.#connections[this.#options.shardOf(name)];
    if (sub === null || sub === undefined) return;
    try {
      if (sub.status === 'ready') {
        await (this.#options.cluster ? sub.sunsubscribe(name) : sub.unsubscribe(name));
        return;
      }
    } catch {
      // The connection died under the command (Redis just went away): as when it was down already.
    }
    this.#stale.add(name);
  }

  /** Drops every subscription (`names`: what is subscribed, left by name on a cluster, where subscriptions are per slot). */
  async unsubscribeAll(names: readonly string[]): Promise<void> {
    if (this.#options.cluster) {
      const sub = this.#connections[0];
      if (sub != null && sub.status === 'ready') await Promise.allSettled(names.map(async (name) => sub.sunsubscribe(name)));
    } else {
      await Promise.allSettled(this.#connections.map((sub) => (sub !== null && sub.status === 'ready' ? sub.unsubscribe() : undefined)));
    }
  }

  /** Disconnects every subscriber connection. */
  close(): void {
    this.#closed = true;
    for (const sub of this.#connections) sub?.disconnect();
  }

  /** The subscriber connection of a shard, created on first use. */
  #connection(index: number): RedisClient {
    const existing = this.#connections[index];
    if (existing !== null && existing !== undefined) return existing;
    const shard = this.#options.shards[index]!;
    const sub = shard.createConnection('subscriber', {
      onDown: () => this.#options.onDisconnect(shard.label),
      onUp: () => {
        // ioredis resubscribes right after 'ready', in the same tick: unsubscribe after it.
        queueMicrotask(() => this.#dropStale(index));
        // Redis pub/sub keeps nothing for a subscriber that is away: say so, never lose silently.
        this.#options.logger.warn(
          { host: shard.label },
          'Pub/sub subscriber reconnected: messages published to its channels and groups while it was away are lost (this layer keeps no history)',
        );
        // Groups that keep a history: their recovery sessions read what went by.
        groupsResynced(this.#options.groupsOn(index));
        this.#options.onReconnect(shard.label);
      },
    });
    sub.on('messageBuffer', (channel: Buffer, body: Buffer) => this.#options.onMessage(channel.toString(), body));
    if (this.#options.cluster) this.#followCluster(sub, shard);
    this.#connections[index] = sub;
    return sub;
  }

  /**
   * On a cluster the connection stays up when one node fails: a dropped
   * sharded subscriber says its subscriptions are down; they are back once
   * ioredis has subscribed again and no subscriber was dropped for a second
   * (while the failed node is still listed, ioredis retries it every few ms:
   * one down and one up are told per failover, not one per retry).
   */
  #followCluster(sub: RedisClient, shard: Shard): void {
    sub.on('smessageBuffer', (channel: Buffer, body: Buffer) => this.#options.onMessage(channel.toString(), body));
    let lost = false;
    let settling: NodeJS.Timeout | null = null;
    sub.on('-subscriber', () => {
      if (settling !== null) clearTimeout(settling);
      settling = null;
      if (lost || this.#closed) return;
      lost = true;
      this.#options.onDisconnect(shard.label);
    });
    sub.on('subscribersReady', () => {
      if (!lost || this.#closed) return;
      if (settling !== null) clearTimeout(settling);
      settling = setTimeout(() => {
        settling = null;
        if (!lost || this.#closed) return;
        lost = false;
        this.#options.logger.warn({ host: shard.label }, 'Pub/sub subscribers moved to the new cluster topology: messages published to a failed node meanwhile are lost (this layer keeps no history)');
        groupsResynced(this.#options.groupsOn(0));
        this.#options.onReconnect(shard.label);
      }, 1000);
      settling.unref();
    });
  }

  /** Unsubscribes what was left while a shard's connection was down and is still not wanted. */
  #dropStale(index: number): void {
    const sub = this.#connections[index];
    for (const name of this.#stale) {
      if (this.#options.shardOf(name) !== index) continue;
      this.#stale.delete(name);
      if (this.#options.wanted(name) || sub === null || sub === undefined) continue;
      (this.#options.cluster ? sub.sunsubscribe(name) : sub.unsubscribe(name)).catch(() => {});
    }
  }
}
