/**
 * `RedisPubSubChannelLayer`: channels_redis's `pubsub` layer, wire-compatible
 * (plain `PUBLISH` of msgpack, no random prefix, optional Fernet without TTL).
 *
 * How it works: `send` publishes to the channel name and `groupSend` to
 * `prefix + "__group__" + group`, on the shard `crc32(name) → host`, once per
 * call whatever the number of members. Each shard has one subscriber
 * connection; channels minted by {@link RedisPubSubChannelLayer.newChannel} or
 * received on are subscribed, and group membership is local: `groupAdd`
 * subscribes the group's pub/sub channel and a message on it is decoded once
 * and the same frozen object handed to every local member (bounded buffers,
 * see `inbox.ts`). Nothing is stored in Redis: a message published while a
 * subscriber is away is lost, except in the groups that keep a history
 * (`groupHistory`, a Redis Stream per group, see `history.ts`), where it can
 * be read back. Unlike channels_redis 4, the `onDisconnect` /
 * `onReconnect` hooks do fire, subscriptions are restored after a reconnect,
 * and `send`/`groupSend` fail with `LayerUnavailableError` while Redis is away;
 * a group or channel left while Redis was away is not resubscribed (ioredis
 * restores its own subscription list; the layer unsubscribes what it left).
 * An aborted `receive` keeps its subscription for `unsubscribeDelay` ms (a new
 * receive in that window loses nothing), then unsubscribes and forgets the
 * channel and its local group memberships, as channels_redis does on
 * cancellation (which assumes a cancelled receive means the consumer ended).
 *
 * On a Redis Cluster (`cluster: true`, or `redis+pubsub+cluster://`) the same
 * is done with sharded pub/sub (`SPUBLISH`/`SSUBSCRIBE`, Redis 7): a message
 * goes only to the node owning its channel's slot, instead of every node of
 * the cluster. ioredis keeps one subscriber per master and moves the
 * subscriptions when a replica takes over; what was published to a failed
 * node meanwhile is lost (groups with a history are re-read: `groupsResynced`).
 *
 * The subscriber connections themselves (creation, reconnection and
 * failover events, names left while a connection was down) are in
 * `pubsub-subscribers.ts`; this file holds what is subscribed and why.
 */
import { randomUUID } from 'node:crypto';
import type { LayerMessage } from '../asgi.js';
import { InvalidChannelLayerError, LayerUnavailableError } from '../errors.js';
import {
  type ChannelLayer, type GroupSendOptions, type LayerExtension, exceptOf, freezeMessage, requireValidChannelName,
  requireValidGroupName, requireValidMessage, withExcept,
} from '../layers/base.js';
import { normalizeHosts, shardsFor } from './config.js';
import type { RedisPubSubChannelLayerOptions } from './pubsub-options.js';
import type { Shard } from './connection.js';
import { KeyNames } from './keys.js';
import { MultiFernet } from './fernet.js';
import { Inbox } from './inbox.js';
import type { ChannelTap, LocalGroups, TapListener } from '../layers/base.js';
import type { SlowConsumer } from '../layers/slow-consumers.js';
import { type LayerLogger, LogThrottle, defaultLogger } from './log.js';
import { getSerializer } from './serializers.js';
import { shardIndex } from './sharding.js';
import { MessageCodec, pubsubGroupChannel } from './wire.js';
import type { Lease } from '../layers/lease.js';
import { acquireRedisLease } from './lease.js';
import { type HistoryRead, type StreamPosition, positionOf } from '../layers/history.js';
import { RedisHistory } from './history.js';
import { deleteKeysStartingWith } from './flush.js';
import { Subscribers } from './pubsub-subscribers.js';
import { deliverCommitted } from './group-send.js';

export type { RedisPubSubChannelLayerOptions } from './pubsub-options.js';

/**
 * The channels_redis pub/sub layer.
 *
 * @example
 * ```ts
 * import { RedisPubSubChannelLayer } from 'switchyard/redis';
 *
 * declare function resync(): void; // e.g. re-announce presence: messages sent while disconnected are lost
 * const layer = new RedisPubSubChannelLayer({ hosts: ['redis://127.0.0.1:6379/0'], onReconnect: () => resync() });
 * const me = await layer.newChannel();
 * await layer.groupAdd('room1', me);
 * await layer.groupSend('room1', { type: 'chat.message', text: 'hi' });
 * ```
 */
export class RedisPubSubChannelLayer implements ChannelLayer {
  readonly extensions: readonly LayerExtension[] = ['groups', 'flush'];
  readonly expiry: number;
  readonly prefix: string;
  readonly #shards: Shard[];
  readonly #subscribers: Subscribers;
  readonly #keys: KeyNames;
  readonly #codec: MessageCodec;
  readonly #inbox: Inbox;
  readonly #logger: LayerLogger;
  readonly #throttle = new LogThrottle(5000);
  readonly #options: RedisPubSubChannelLayerOptions;
  /** Local channels (subscribed), with a pending unsubscribe timer after an aborted receive. */
  readonly #channels = new Map<string, NodeJS.Timeout | null>();
  /** Group pub/sub channel → local member channels. */
  readonly #groups = new Map<string, Set<string>>();
  readonly #history: RedisHistory;
  #closed = false;

  constructor(options: RedisPubSubChannelLayerOptions = {}) {
    this.#options = options;
    this.expiry = options.expiry ?? 60;
    this.prefix = options.prefix ?? 'asgi';
    this.#logger = options.logger ?? defaultLogger;
    const keys = options.symmetricEncryptionKeys;
    this.#codec = new MessageCodec({
      serializer: getSerializer(options.serializerFormat ?? 'msgpack'),
      randomPrefixLength: 0,
      crypter: keys !== undefined && keys !== null && keys.length > 0 ? MultiFernet.fromSecrets(keys) : null,
    });
    const connectTimeout = options.connectTimeout ?? 2000;
    this.#keys = new KeyNames(this.prefix, options.cluster === true);
    this.#shards = shardsFor(normalizeHosts(options.hosts), this.#keys.cluster, () => ({ connectTimeout, commandTimeout: options.commandTimeout, logger: this.#logger }));
    this.#subscribers = new Subscribers({
      shards: this.#shards, cluster: this.#keys.cluster, connectTimeout, logger: this.#logger, shardOf: (name) => this.#shardOf(name),
      onMessage: (name, body) => this.#onMessage(name, body), wanted: (name) => this.#channels.has(name) || this.#groups.has(name),
      groupsOn: (index) => this.#groupsOn(index),
      onDisconnect: (host) => options.onDisconnect?.(host), onReconnect: (host) => options.onReconnect?.(host),
    });
    this.#inbox = new Inbox(options.capacity ?? 100);
    // The codec has no random prefix and no token TTL: stored payloads are framed as published ones.
    this.#history = new RedisHistory({
      config: options.groupHistory, keys: this.#keys, shards: this.#shards, codec: this.#codec, logger: this.#logger,
      // An idle group's epoch is kept a day, channels_redis's default group_expiry (this layer has none).
      shardOf: (group) => this.#shardOf(pubsubGroupChannel(this.prefix, group)), metaSeconds: 86400,
    });
  }

  async send(channel: string, message: LayerMessage): Promise<void> {
    requireValidChannelName(channel);
    requireValidMessage(message);
    await this.#publish(channel, this.#codec.encode(message));
  }

  async receive(channel: string, signal?: AbortSignal): Promise<LayerMessage> {
    requireValidChannelName(channel);
    signal?.throwIfAborted();
    if (this.#closed) throw new LayerUnavailableError('The Redis channel layer is closed');
    const pending = this.#channels.get(channel);
    if (pending === undefined) await this.#subscribe(channel);
    else if (pending !== null) {
      clearTimeout(pending);
      this.#channels.set(channel, null);
    }
    try {
      return await this.#inbox.take(channel, signal);
    } catch (error) {
      if (signal?.aborted) this.#scheduleUnsubscribe(channel);
      throw error;
    }
  }

  /** Push delivery for a channel of this process (minted by newChannel, so subscribed). */
  tap(channel: string, listener: TapListener, slow?: SlowConsumer): ChannelTap {
    requireValidChannelName(channel);
    const pending = this.#channels.get(channel);
    if (pending === undefined) throw new InvalidChannelLayerError(`Channel ${channel} is not subscribed here`);
    if (pending !== null) {
      clearTimeout(pending);
      this.#channels.set(channel, null);
    }
    const tap = this.#inbox.tap(channel, listener, slow);
    return { take: () => tap.take(), arm: () => tap.arm(), close: () => { tap.close(); this.#scheduleUnsubscribe(channel); } };
  }

  async newChannel(prefix = 'specific.'): Promise<string> {
    const name = `${this.prefix}${prefix}${randomUUID().replace(/-/g, '')}`;
    requireValidChannelName(name);
    await this.#subscribe(name);
    return name;
  }

  async groupAdd(group: string, channel: string): Promise<void> {
    requireValidGroupName(group);
    requireValidChannelName(channel);
    if (!this.#channels.has(channel)) {
      throw new InvalidChannelLayerError(
        `You can only call groupAdd() on channels that exist in this process (${channel} does not): ` +
          'use the consumer\'s own channelName with the pub/sub layer',
      );
    }
    const groupChannel = pubsubGroupChannel(this.prefix, group);
    let members = this.#groups.get(groupChannel);
    if (members === undefined) {
      await this.#subscribers.subscribe(groupChannel);
      this.#groups.set(groupChannel, (members = this.#groups.get(groupChannel) ?? new Set()));
    }
    members.add(channel);
  }

  async groupDiscard(group: string, channel: string): Promise<void> {
    requireValidGroupName(group);
    requireValidChannelName(channel);
    const groupChannel = pubsubGroupChannel(this.prefix, group);
    const members = this.#groups.get(groupChannel);
    if (members === undefined || !members.delete(channel) || members.size > 0) return;
    this.#groups.delete(groupChannel);
    await this.#subscribers.unsubscribe(groupChannel);
  }

  /** The groups this process's channels are in, each with those channels (see `ChannelLayer.localGroups`). */
  localGroups(): LocalGroups {
    const skip = pubsubGroupChannel(this.prefix, '').length;
    return new Map([...this.#groups].map(([groupChannel, members]) => [groupChannel.slice(skip), members]));
  }

  /**
   * Publishes to a group. A group that keeps history (see
   * {@link RedisPubSubChannelLayerOptions.groupHistory}) first gets the
   * message appended to its stream, then published stamped with its position.
   * A publish that fails after the append is not retried (a publish that ran
   * but lost its reply would arrive twice): it fails saying that members
   * without recovery missed what the history holds, and warns so.
   */
  async groupSend(group: string, message: LayerMessage, options?: GroupSendOptions): Promise<void> {
    requireValidGroupName(group);
    message = withExcept(message, options);
    requireValidMessage(message);
    const history = this.#history.optionsFor(group);
    const channel = pubsubGroupChannel(this.prefix, group);
    if (history === null) return this.#publish(channel, this.#codec.encode(message));
    const sent = await this.#history.append(group, history, message);
    await deliverCommitted(() => this.#publish(channel, this.#codec.encode(sent)), { position: positionOf(sent)!, windowMs: 0, logger: this.#logger });
  }

  /** What the group's history holds after `since` (see `ChannelLayer.readHistory`); null when it keeps none. */
  async readHistory(group: string, since: StreamPosition | null, limit = 1000): Promise<HistoryRead | null> {
    requireValidGroupName(group);
    return this.#history.read(group, since, limit);
  }

  /**
   * Leases `name` across every process sharing this Redis (see `runOnce`):
   * the lease, or null while another holder has it. The one kind of key this
   * layer stores: `<prefix>switchyard:lease:<name>` (see `redis/lease.ts`).
   */
  lease(name: string, ttlMs: number): Promise<Lease | null> {
    if (this.#closed) return Promise.reject(new LayerUnavailableError('The Redis channel layer is closed'));
    return acquireRedisLease(this.#shards[this.#shardOf(name)]!, this.#keys, name, ttlMs);
  }

  /**
   * Forgets local channels, groups and buffers and drops the subscriptions;
   * deletes the group histories of this prefix (each starts a new epoch), the
   * only Redis keys deleted.
   */
  async flush(): Promise<void> {
    for (const timer of this.#channels.values()) if (timer !== null) clearTimeout(timer);
    const subscribed = [...this.#channels.keys(), ...this.#groups.keys()];
    this.#channels.clear();
    this.#groups.clear();
    this.#inbox.clear();
    await this.#subscribers.unsubscribeAll(subscribed);
    if (this.#history.enabled) await deleteKeysStartingWith(this.#shards, this.#keys.cluster, `${this.prefix}switchyard:history:`);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const timer of this.#channels.values()) if (timer !== null) clearTimeout(timer);
    this.#inbox.close(new LayerUnavailableError('The Redis channel layer was closed'));
    this.#subscribers.close();
    for (const shard of this.#shards) shard.close();
  }

  #shardOf(name: string): number {
    return shardIndex(name, this.#shards.length);
  }

  async #publish(channel: string, body: Buffer): Promise<void> {
    await this.#shards[this.#shardOf(channel)]!.run((redis) => this.#keys.cluster ? redis.spublish(channel, body) : redis.publish(channel, body));
  }

  async #subscribe(channel: string): Promise<void> {
    this.#channels.set(channel, null);
    try {
      await this.#subscribers.subscribe(channel);
    } catch (error) {
      this.#channels.delete(channel);
      throw error;
    }
  }

  #scheduleUnsubscribe(channel: string): void {
    if (!this.#channels.has(channel) || this.#channels.get(channel) !== null) return;
    const timer = setTimeout(() => {
      if (this.#channels.get(channel) !== timer) return;
      if (this.#inbox.waitersOf(channel) > 0) {
        this.#channels.set(channel, null); // another receive still waits on it
        return;
      }
      this.#channels.delete(channel);
      this.#inbox.forget(channel);
      this.#subscribers.unsubscribe(channel).catch(() => {});
      // A forgotten channel leaves its groups too, so an abandoned consumer costs nothing.
      for (const [groupChannel, members] of this.#groups) {
        if (!members.delete(channel) || members.size > 0) continue;
        this.#groups.delete(groupChannel);
        this.#subscribers.unsubscribe(groupChannel).catch(() => {});
      }
    }, this.#options.unsubscribeDelay ?? 5000);
    timer.unref();
    this.#channels.set(channel, timer);
  }

  /** The groups this process is subscribed to on a shard. */
  #groupsOn(index: number): string[] {
    const marker = pubsubGroupChannel(this.prefix, '');
    return [...this.#groups.keys()].filter((name) => this.#shardOf(name) === index).map((name) => name.slice(marker.length));
  }

  #onMessage(channel: string, body: Buffer): void {
    const members = this.#groups.get(channel);
    const local = this.#channels.has(channel);
    if (members === undefined && !local) return;
    let message: Record<string, unknown>;
    try {
      message = this.#codec.decode(body);
    } catch (error) {
      if (this.#throttle.allow(`poison:${channel}`)) {
        this.#logger.warn({ err: error, channel, bytes: body.length }, 'Skipped a published message that cannot be decoded');
      }
      return;
    }
    freezeMessage(message);
    const expiresAt = Date.now() + this.expiry * 1000;
    if (local) this.#inbox.deliver(channel, message as LayerMessage, expiresAt);
    if (members !== undefined) {
      const group = channel.slice(pubsubGroupChannel(this.prefix, '').length);
      // One publish for all: each process leaves that member out, unless the group keeps a history
      // (then it gets the message, marked, so that its position moves).
      const except = positionOf(message as LayerMessage) === null ? exceptOf(message as LayerMessage) : undefined;
      for (const member of members) {
        if (member !== except && this.#channels.has(member)) this.#inbox.deliver(member, message as LayerMessage, expiresAt, group);
      }
    }
  }
}
