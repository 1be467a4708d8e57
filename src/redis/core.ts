/**
 * `RedisChannelLayer`: channels_redis's `core` layer, byte-compatible, so a
 * Switchyard process and a Django process can share channels and groups.
 *
 * How it works:
 * - A channel is a sorted set `prefix + name` of `random prefix ‖ msgpack`
 *   members, scored by a strictly increasing µs clock. Process-specific
 *   channels `specific.<process>!<local>` share one key per process,
 *   `prefix + "specific.<process>!"`, and carry their full name in
 *   `__asgi_channel__`.
 * - A group is a sorted set `prefix:group:name` of channel names scored by
 *   join time. `groupSend` stores one copy per receiving process (key), with
 *   the list of that process's members in `__asgi_channel__`.
 * - This process reads its own key with one `BZPOPMIN` loop per shard (only
 *   while someone reads; each wake-up drains a burst of up to 512), decodes
 *   each message once and hands the same frozen object to every local
 *   channel it names (`receiver.ts`, {@link Inbox}, bounded per channel).
 * - On one Redis a `groupSend` is one script whatever the group's size; a
 *   process key takes up to `processCapacity` group messages (`group-send.ts`).
 * - On a Redis Cluster (`cluster: true`, or `redis+cluster://`), keys carry
 *   hash tags so each script touches one slot (`keys.ts`): the same layer,
 *   but key names differ, so channels_redis (which has no cluster support)
 *   cannot share it.
 * - Writes go to the shard `crc32(nonLocalName) → host` where any reader,
 *   Django's included, reads; the own key is read on every shard.
 * - Groups matching `groupHistory` also keep their recent messages in a
 *   Redis Stream, and their members receive each message stamped with its
 *   position (`history.ts`).
 * - Redis away: calls fail with `LayerUnavailableError`; receive loops back off
 *   and reconnect; an undecodable member is logged and skipped.
 * - Redis losing its data (a restart, a flush, a failover): this process
 *   remembers its own channels' memberships and re-asserts them when a shard's
 *   connection comes back or its lease finds its key gone (`memberships.ts`).
 * - A process killed with SIGKILL: it held a liveness lease (`processTtl`,
 *   `liveness.ts`); once that lapses, the next `groupSend` to a group holding
 *   its members removes them and deletes its process key. Django members are
 *   never judged; the group keys stay channels_redis's.
 *
 * Deliberate differences from channels_redis (same keys and bytes, so peers
 * cannot tell): `send` and each shard's `groupSend` are one atomic Lua script
 * (exact capacity; expiry trimming on the shard that holds the key); a message
 * older than `expiry` (by its score) is dropped at receive; there is no
 * `$inflight` backup key, so nothing is delivered twice; Django's mis-sharded
 * direct sends (django/channels#1492) are still received; on a group send a
 * process key holds the capacity times the channels its copy names, up to
 * `processCapacity`, not a flat capacity (`group-send.ts`).
 */
import { randomUUID } from 'node:crypto';
import type { LayerMessage } from '../asgi.js';
import { ChannelFull, InvalidNameError, LayerUnavailableError } from '../errors.js';
import {
  type ChannelLayer, type ChannelTap, type GroupSendOptions, type LayerExtension, type TapListener,
  nonLocalName, requireValidChannelName, requireValidGroupName, withExcept, type LocalGroups,
} from '../layers/base.js';
import { normalizeHosts, shardsFor } from './config.js';
import type { Shard } from './connection.js';
import { coreSettings } from './core-settings.js';
import { deleteKeysStartingWith } from './flush.js';
import { Inbox } from './inbox.js';
import { acquireRedisLease } from './lease.js';
import { ProcessLiveness } from './liveness.js';
import { LocalMemberships } from './memberships.js';
import { type LayerLogger, LogThrottle, defaultLogger } from './log.js';
import { type DeliveredMarker, type MemberRead, deliverCommitted, deliverInOneScript, deliverToMembers, deliveredMarker, readMembers } from './group-send.js';
import { RedisHistory } from './history.js';
import { KeyNames } from './keys.js';
import { Receiver } from './receiver.js';
import { GROUP_ADD, SEND } from './scripts.js';
import { shardIndex } from './sharding.js';
import type { Lease, LeasableLayer } from '../layers/lease.js';
import type { SlowConsumer } from '../layers/slow-consumers.js';
import { type HistoryRead, type StreamPosition, groupsResynced, positionOf } from '../layers/history.js';
import type { RedisChannelLayerOptions } from './core-options.js';
import { ASGI_CHANNEL, MessageCodec, ScoreClock, microsToScore } from './wire.js';

export type { RedisChannelLayerOptions } from './core-options.js';

/** One clock per process: every send of this process, whatever the layer instance, gets a distinct, later score. */
const processClock = new ScoreClock();

/**
 * The channels_redis core layer.
 *
 * @example
 * ```ts
 * import { RedisChannelLayer } from 'switchyard/redis';
 *
 * const layer = new RedisChannelLayer({ hosts: ['redis://127.0.0.1:6379/0'], capacity: 200 });
 * const me = await layer.newChannel();
 * await layer.groupAdd('chat_lobby', me);
 * await layer.groupSend('chat_lobby', { type: 'chat.message', text: 'hi' });
 * await layer.receive(me); // { type: 'chat.message', text: 'hi' }
 * ```
 */
export class RedisChannelLayer implements ChannelLayer, LeasableLayer {
  readonly extensions: readonly LayerExtension[] = ['groups', 'flush'];
  readonly expiry: number;
  readonly groupExpiry: number;
  readonly capacity: number;
  readonly prefix: string;
  /** This process's identity: 32 hex digits in every channel it mints. */
  readonly clientPrefix: string = randomUUID().replace(/-/g, '');
  readonly #capacityFor: (channel: string) => number;
  readonly #shards: Shard[];
  readonly #codec: MessageCodec;
  /** The shared message rules (`layers/validate.ts`), run once per message whatever the serializer. */
  readonly #checkMessage: (message: LayerMessage) => void;
  readonly #clock = processClock;
  readonly #inbox: Inbox;
  readonly #logger: LayerLogger;
  readonly #throttle = new LogThrottle(5000);
  readonly #keys: KeyNames;
  readonly #receiver: Receiver;
  /** Group sends go in one script (one Redis, capacities the same for all channels, msgpack, no encryption). */
  readonly #oneScript: boolean;
  readonly #processCapacity: number;
  /** Open channel taps: the pop loops run while any is open, as while a receive waits. */
  #openTaps = 0;
  #sendCursor = 0;
  #closed = false;
  /** This process's own memberships, re-asserted when Redis loses them. */
  readonly #memberships: LocalMemberships;
  /** The liveness lease; null when `processTtl` is null. */
  readonly #liveness: ProcessLiveness | null;
  readonly #history: RedisHistory;
  readonly #memberRead: MemberRead;
  readonly #connectTimeout: number;

  constructor(options: RedisChannelLayerOptions = {}) {
    const { serializer, crypter, processTtlMs, ...settings } = coreSettings(options);
    this.expiry = settings.expiry;
    this.groupExpiry = settings.groupExpiry;
    this.capacity = settings.capacity;
    this.prefix = settings.prefix;
    this.#capacityFor = settings.capacityFor;
    this.#processCapacity = settings.processCapacity;
    this.#checkMessage = settings.checkMessage;
    this.#logger = options.logger ?? defaultLogger;
    this.#keys = new KeyNames(this.prefix, options.cluster === true);
    this.#codec = new MessageCodec({ serializer, randomPrefixLength: options.randomPrefixLength ?? 12, crypter, ttl: this.expiry + 10 });
    const connectTimeout = (this.#connectTimeout = options.connectTimeout ?? 2000);
    this.#shards = shardsFor(normalizeHosts(options.hosts), options.cluster === true, (index) => ({
      connectTimeout, commandTimeout: options.commandTimeout, logger: this.#logger, onUp: () => void this.#recover(index, true),
    }));
    this.#oneScript = settings.uniformCapacity && this.#shards.length === 1 && !this.#keys.cluster && this.#codec.completesInRedis;
    this.#memberships = new LocalMemberships({
      shards: this.#shards, keys: this.#keys, groupExpiry: this.groupExpiry, shardOf: (group) => this.shardFor(group), logger: this.#logger,
    });
    this.#liveness = processTtlMs === null ? null : new ProcessLiveness({
      shards: this.#shards, keys: this.#keys, clientPrefix: this.clientPrefix, ttlMs: processTtlMs,
      registryKeepMs: this.groupExpiry * 1000, logger: this.#logger, onLost: (index) => void this.#recover(index, false),
    });
    this.#memberRead = {
      shards: this.#shards, keys: this.#keys, clientPrefix: this.clientPrefix, shardFor: (name) => this.shardFor(name), logger: this.#logger,
      alive: new Map(),
    };
    this.#history = new RedisHistory({
      config: options.groupHistory, keys: this.#keys, shards: this.#shards, shardOf: (group) => this.shardFor(group),
      codec: new MessageCodec({ serializer, randomPrefixLength: 0, crypter }), metaSeconds: this.groupExpiry, logger: this.#logger,
    });
    this.#inbox = new Inbox(options.receiveBufferSize ?? this.capacity);
    this.#inbox.onOverflow = (channel) => {
      if (this.#throttle.allow(`overflow:${channel}`)) {
        this.#logger.warn({ channel }, 'Receive buffer full: dropped the oldest message of a channel nobody reads fast enough');
      }
    };
    this.#receiver = new Receiver({
      shards: this.#shards, keys: this.#keys, codec: this.#codec, inbox: this.#inbox, logger: this.#logger, throttle: this.#throttle,
      expiry: this.expiry, blockTimeout: options.blockTimeout ?? 1, hasReaders: () => this.#hasReaders(),
      onPopFailed: (index) => groupsResynced(this.#memberships.groupsOn(index)),
    });
  }

  /** The capacity that applies to a channel. */
  capacityFor(channel: string): number {
    return this.#capacityFor(channel);
  }

  /** Counters of the local receive buffers. */
  bufferStats(): ReturnType<Inbox['stats']> {
    return this.#inbox.stats();
  }

  /** The hosts (shards) in order, as `host:port/db` (one `cluster:…` entry on a cluster). */
  get hosts(): readonly string[] {
    return this.#shards.map((shard) => shard.label);
  }

  /** The shard index a channel's or group's writes go to. */
  shardFor(name: string): number {
    return shardIndex(name, this.#shards.length);
  }

  async send(channel: string, message: LayerMessage): Promise<void> {
    this.#checkMessage(message);
    requireValidChannelName(channel);
    const specific = channel.includes('!');
    const member = this.#codec.encode(specific ? { ...message, [ASGI_CHANNEL]: channel } : message);
    const shard = specific ? this.#shards[this.shardFor(nonLocalName(channel))]! : this.#nextShard();
    const micros = this.#clock.nextMicros();
    const added = await shard.run((redis) =>
      SEND.run(redis, [this.#keys.channel(channel)], [
        this.#cutoff(micros), this.#capacityFor(channel), microsToScore(micros), member, this.#ttlMs(this.expiry),
      ]),
    );
    if (added === 0) throw new ChannelFull(channel);
  }

  async receive(channel: string, signal?: AbortSignal): Promise<LayerMessage> {
    requireValidChannelName(channel);
    signal?.throwIfAborted();
    if (this.#closed) throw new LayerUnavailableError('The Redis channel layer is closed');
    if (!channel.includes('!')) return this.#receiver.receiveNormal(channel, signal);
    const key = this.#keys.channel(channel);
    if (!nonLocalName(channel).endsWith(`.${this.clientPrefix}!`)) {
      throw new InvalidNameError(`Wrong client prefix: ${channel} was not minted by this layer (${this.clientPrefix})`);
    }
    const next = this.#inbox.take(channel, signal);
    this.#receiver.ensureLoops(key);
    return next;
  }

  /**
   * Push delivery of a channel of this process (see `ChannelTap`): what a
   * consumer uses instead of one `receive()` per message.
   */
  tap(channel: string, listener: TapListener, slow?: SlowConsumer): ChannelTap {
    requireValidChannelName(channel);
    if (this.#closed) throw new LayerUnavailableError('The Redis channel layer is closed');
    if (!channel.includes('!') || !nonLocalName(channel).endsWith(`.${this.clientPrefix}!`)) {
      throw new InvalidNameError(`Only channels minted by this layer can be tapped, not ${channel}`);
    }
    const tap = this.#inbox.tap(channel, listener, slow);
    this.#openTaps++;
    this.#receiver.ensureLoops(this.#keys.channel(channel));
    let open = true;
    return {
      take: () => tap.take(),
      arm: () => tap.arm(),
      close: () => {
        if (!open) return;
        open = false;
        this.#openTaps--;
        tap.close();
      },
    };
  }

  /** True while someone reads this process's channels: a waiting receive or an open tap. */
  #hasReaders(): boolean {
    return this.#inbox.waiting > 0 || this.#openTaps > 0;
  }

  async newChannel(prefix = 'specific'): Promise<string> {
    const name = `${prefix}.${this.clientPrefix}!${randomUUID().replace(/-/g, '')}`;
    requireValidChannelName(name);
    return name;
  }

  async groupAdd(group: string, channel: string): Promise<void> {
    requireValidGroupName(group);
    requireValidChannelName(channel);
    const own = this.#isOwn(channel);
    // Register before joining, so a member of this process is never judged before its lease exists.
    if (own) await this.#liveness?.ensure(this.shardFor(group));
    const micros = this.#clock.nextMicros();
    await this.#groupShard(group).run((redis) =>
      GROUP_ADD.run(redis, [this.#keys.group(group)], [microsToScore(micros), channel, this.#ttlMs(this.groupExpiry)]),
    );
    if (own) this.#memberships.joined(group, channel, micros);
  }

  async groupDiscard(group: string, channel: string): Promise<void> {
    requireValidGroupName(group);
    requireValidChannelName(channel);
    const own = this.#isOwn(channel);
    if (own) this.#memberships.left(group, channel);
    try {
      await this.#groupShard(group).run((redis) => redis.zrem(this.#keys.group(group), channel));
    } catch (error) {
      // Redis away: the membership is removed once it is back, never re-asserted.
      if (own) this.#memberships.discardFailed(group, channel);
      throw error;
    }
  }

  /** The groups this process's channels are in, each with those channels (see `ChannelLayer.localGroups`). */
  localGroups(): LocalGroups {
    return this.#memberships.groups;
  }

  /** Whether a channel was minted by this layer (its memberships are this process's to keep). */
  #isOwn(channel: string): boolean {
    return channel.includes('!') && nonLocalName(channel).endsWith(`.${this.clientPrefix}!`);
  }

  /**
   * A shard's connection came back (`reconnected`), or this process's lease
   * was found gone: renew the lease, then re-assert the memberships of the
   * groups on that shard.
   */
  async #recover(index: number, reconnected: boolean): Promise<void> {
    if (this.#closed) return;
    if (reconnected && this.#liveness?.wanted(index) === true) await this.#liveness.renew(index).catch(() => {});
    await this.#memberships.rejoin(index);
    // Messages sent while the memberships were gone went by: recovery sessions catch up from the history.
    groupsResynced(this.#memberships.groupsOn(index));
  }

  /**
   * Sends to every member of a group. A group that keeps history (see
   * {@link RedisChannelLayerOptions.groupHistory}) first gets the message
   * appended to its stream, in the same round trip as the members read, and
   * its members receive it stamped with its position.
   */
  async groupSend(group: string, message: LayerMessage, options?: GroupSendOptions): Promise<void> {
    requireValidGroupName(group);
    message = withExcept(message, options);
    this.#checkMessage(message);
    const history = this.#history.optionsFor(group);
    const appended = history === null ? null : this.#history.append(group, history, message);
    appended?.catch(() => {}); // awaited below
    const micros = this.#clock.nextMicros();
    const cutoffMicros = micros - this.groupExpiry * 1e6;
    const score = microsToScore(micros);
    const ttlMs = this.#ttlMs(this.expiry);
    let result: { over: number; keys: number };
    if (this.#oneScript) {
      // One Redis: the member read and the delivery are one script (after the history append, which stamps the message).
      const stamped = appended === null ? message : await appended;
      const except = options?.except === undefined || history !== null ? '' : options.except;
      const parts = this.#codec.partsForRedis(stamped)!;
      result = await this.#deliver(appended === null ? null : stamped, (marker) => deliverInOneScript(group, this.#memberRead, {
        ...parts, except, capacity: this.capacity, processCapacity: this.#processCapacity, cutoffMicros, score, cutoff: this.#cutoff(micros), ttlMs, marker,
      }));
    } else {
      const read = await readMembers(group, cutoffMicros, this.#memberRead);
      // In a group with history the member left out still gets the message, marked, so that its position moves.
      const members = options?.except === undefined || history !== null ? read : read.filter((channel) => channel !== options.except);
      const stamped = appended === null ? message : await appended;
      if (members.length === 0) return;
      const encode = this.#codec.encoderFor(stamped);
      result = await this.#deliver(appended === null ? null : stamped, (marker) => deliverToMembers(members, {
        shards: this.#shards, keys: this.#keys, capacityFor: this.#capacityFor, processCapacity: this.#processCapacity,
        shardFor: (name) => this.shardFor(name), encode, score, cutoff: this.#cutoff(micros), ttlMs, marker,
      }));
    }
    const { over, keys } = result;
    if (over > 0) this.#logger.info({ group, over, keys }, `${over} of ${keys} channels over capacity in group ${group}`);
  }

  /** Delivers; a message its group's history holds (`committed`) as `deliverCommitted` does: retried, once, or its loss told. */
  #deliver<T>(committed: LayerMessage | null, deliver: (marker?: DeliveredMarker) => Promise<T>): Promise<T> {
    const position = committed === null ? null : positionOf(committed);
    if (position === null) return deliver();
    const windowMs = this.#connectTimeout;
    return deliverCommitted(() => deliver(deliveredMarker(position, windowMs)), { position, windowMs, logger: this.#logger });
  }

  /** What the group's history holds after `since` (see `ChannelLayer.readHistory`); null when it keeps none. */
  async readHistory(group: string, since: StreamPosition | null, limit = 1000): Promise<HistoryRead | null> {
    requireValidGroupName(group);
    return this.#history.read(group, since, limit);
  }

  /**
   * Leases `name` across every process sharing this Redis (see `runOnce`):
   * the lease, or null while another holder has it. Keys:
   * `<prefix>switchyard:lease:<name>` (see `redis/lease.ts`).
   */
  lease(name: string, ttlMs: number): Promise<Lease | null> {
    if (this.#closed) return Promise.reject(new LayerUnavailableError('The Redis channel layer is closed'));
    return acquireRedisLease(this.#shards[this.shardFor(name)]!, this.#keys, name, ttlMs);
  }

  /** Deletes every key of this prefix (channels, groups, leases, histories: each group's history starts a new epoch). */
  async flush(): Promise<void> {
    this.#memberships.clear();
    await deleteKeysStartingWith(this.#shards, this.#keys.cluster, this.prefix);
    this.#inbox.clear();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#memberships.close();
    // Memberships still here are left to the other processes to remove once the lease is gone.
    await this.#liveness?.close(this.#memberships.size > 0);
    this.#inbox.close(new LayerUnavailableError('The Redis channel layer was closed'));
    for (const shard of this.#shards) shard.close();
    await this.#receiver.close();
  }

  #nextShard(): Shard {
    return this.#shards[this.#sendCursor++ % this.#shards.length]!;
  }

  #groupShard(group: string): Shard {
    return this.#shards[this.shardFor(group)]!;
  }

  /** Scores at or below this are expired. */
  #cutoff(micros: number): string {
    return microsToScore(Math.max(0, micros - Math.round(this.expiry * 1e6)));
  }

  #ttlMs(seconds: number): number {
    return Math.max(1, Math.ceil(seconds * 1000));
  }
}
