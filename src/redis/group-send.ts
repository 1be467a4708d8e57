/**
 * The core layer's `groupSend`, less the message checks and the history
 * append: reading the members (and judging dead processes, see
 * `liveness.ts`), then delivering.
 *
 * How delivery works, as channels_redis (spec §2.8): members are grouped by
 * receiving key (`prefix + nonLocalName`, one per process for
 * process-specific channels); each key gets one stored copy naming all its
 * members in `__asgi_channel__`, on the key's shard. A Django process reads
 * its key and hands each channel named its copy, so it interoperates
 * unchanged.
 *
 * Three ways, fastest first:
 * - One Redis (the usual case), msgpack, no encryption, no per-channel
 *   capacities: {@link deliverInOneScript}, one `GROUP_DELIVER` script per
 *   `groupSend` whatever the group's size. Redis reads the members and packs
 *   each key's member list itself, so no member list crosses the network and
 *   this process does no work per member.
 * - Otherwise {@link readMembers} then {@link deliverToMembers}: each shard's
 *   copies in one `GROUP_SEND` script per 500 keys, all shards at once.
 * - On a Redis Cluster, the same two steps, one `GROUP_SEND` per receiving
 *   key (each key has its own slot), and dead processes judged per process
 *   (`CLUSTER_JUDGE`, a verdict kept a few seconds) since the registry cannot
 *   be read from the group's slot.
 *
 * Capacity: a general channel's key takes its channel's capacity. A process
 * key is shared by every channel of its process, and one copy serves all the
 * channels it names, so a group send lets it hold the channel's capacity
 * times the number of channels the copy names, up to `processCapacity`
 * (default 1000): a copy for one channel is refused when 100 wait, as in
 * channels_redis, but a copy for 250 members of a fan-out is refused only
 * when 1,000 wait (about 19 MB at that size; five seconds at 200 group
 * messages a second). With channels_redis's flat 100, a process busy for
 * half a second at that rate lost whole messages for all its members. The
 * bound per channel is then the receiving process's (`receiveBufferSize`).
 */
import { sleep } from '../backoff.js';
import { DeliveryIncompleteError, LayerUnavailableError } from '../errors.js';
import { nonLocalName } from '../layers/base.js';
import type { MessagePosition } from '../layers/history.js';
import { type Shard, backoffDelay } from './connection.js';
import type { KeyNames } from './keys.js';
import type { LayerLogger } from './log.js';
import { CLUSTER_JUDGE, CLUSTER_MEMBERS, GROUP_DELIVER, GROUP_MEMBERS, GROUP_SEND } from './scripts.js';
import { microsToScore } from './wire.js';

/** Keys per `GROUP_SEND` script. */
const KEYS_PER_SCRIPT = 500;

/** Ms a cluster verdict "this process is alive" is trusted before it is checked again. */
const ALIVE_VERDICT_MS = 5000;

/** What {@link readMembers} needs of the layer. */
export interface MemberRead {
  shards: readonly Shard[];
  keys: KeyNames;
  /** This process's client prefix: its own members are never judged. */
  clientPrefix: string;
  shardFor: (name: string) => number;
  logger: LayerLogger;
  /** Cluster only: client prefix → until when (ms) it is known alive. */
  alive: Map<string, number>;
}

/**
 * The live members of a group (memberships older than `cutoffMicros`
 * dropped, dead Switchyard processes' members removed). On one Redis the
 * `GROUP_MEMBERS` script deletes the dead processes' keys on the group's
 * shard; a key whose home is another shard is deleted there (rare: only with
 * several hosts, once per dead process and group).
 *
 * @example
 * ```ts
 * import { readMembers } from './group-send.js';
 * import { KeyNames } from './keys.js';
 * import { Shard } from './connection.js';
 * import { defaultLogger as logger } from './log.js';
 *
 * const shards = [new Shard({ host: '127.0.0.1', port: 6379 }, { connectTimeout: 2000, logger })];
 * await readMembers('chat_lobby', Date.now() * 1000 - 86400e6, {
 *   shards, keys: new KeyNames('asgi', false), clientPrefix: '0123456789abcdef0123456789abcdef',
 *   shardFor: () => 0, logger, alive: new Map(),
 * });
 * ```
 */
export async function readMembers(group: string, cutoffMicros: number, read: MemberRead): Promise<string[]> {
  const { shards, keys, shardFor } = read;
  const groupShard = shardFor(group);
  const cutoff = microsToScore(Math.max(0, cutoffMicros));
  if (keys.cluster) {
    const members = (await shards[groupShard]!.run((redis) => CLUSTER_MEMBERS.run(redis, [keys.group(group)], [cutoff]))) as string[];
    return judgeOnCluster(group, members, read);
  }
  const [members, dead] = (await shards[groupShard]!.run((redis) =>
    GROUP_MEMBERS.run(redis, [keys.group(group), keys.registry('')], [cutoff, keys.liveness(''), keys.prefix, read.clientPrefix]),
  )) as [string[], string[]];
  reportDead(group, groupShard, dead, read);
  return members;
}

/** Logs the dead processes a script removed, and deletes their keys homed on other shards. */
function reportDead(group: string, groupShard: number, dead: readonly string[], read: MemberRead): void {
  if (dead.length === 0) return;
  const { shards, keys, shardFor, logger } = read;
  logger.info({ group, processes: dead }, `Removed the members of ${dead.length} dead process key(s) from group ${group}`);
  for (const nonLocal of dead) {
    const home = shardFor(nonLocal);
    if (home !== groupShard) shards[home]!.run((redis) => redis.del(keys.channel(nonLocal))).catch(() => {});
  }
}

/**
 * On a cluster: judges the processes of a group's members not known alive
 * (one `CLUSTER_JUDGE` each, on its own slot), removes a dead one's members
 * from the group, and returns the others. A judge that fails keeps the members.
 */
async function judgeOnCluster(group: string, members: string[], read: MemberRead): Promise<string[]> {
  const { shards, keys, clientPrefix, alive, logger } = read;
  const now = Date.now();
  const suspects = new Map<string, Set<string>>();
  for (const member of members) {
    const match = /^[^!]*\.([^.!]+)!/.exec(member);
    if (match === null || match[1] === clientPrefix || (alive.get(match[1]!) ?? 0) > now) continue;
    let nonLocals = suspects.get(match[1]!);
    if (nonLocals === undefined) suspects.set(match[1]!, (nonLocals = new Set()));
    nonLocals.add(nonLocalName(member));
  }
  if (suspects.size === 0) return members;
  const shard = shards[0]!;
  const dead = new Set<string>();
  await Promise.all([...suspects].map(async ([process, nonLocals]) => {
    try {
      const verdict = await shard.run((redis) => CLUSTER_JUDGE.run(redis,
        [keys.registry(process), keys.liveness(process), ...[...nonLocals].map((name) => keys.channel(name))], [process]));
      if (Number(verdict) === 1) dead.add(process);
      else alive.set(process, now + ALIVE_VERDICT_MS);
    } catch {
      // Cannot judge now (a node away): keep its members, judge again next time.
    }
  }));
  if (dead.size === 0) return members;
  const gone = new Set(members.filter((member) => dead.has(/^[^!]*\.([^.!]+)!/.exec(member)?.[1] ?? '')));
  await shard.run((redis) => redis.zrem(keys.group(group), ...gone)).catch(() => {});
  logger.info({ group, processes: [...dead] }, `Removed the members of ${dead.size} dead process(es) from group ${group}`);
  return members.filter((member) => !gone.has(member));
}

/** What {@link deliverToMembers} needs of the layer. */
export interface GroupDelivery {
  shards: readonly Shard[];
  keys: KeyNames;
  capacityFor: (channel: string) => number;
  /** The most a process key holds on a group send (see the module note). */
  processCapacity: number;
  shardFor: (name: string) => number;
  /** The stored copy naming some members (see `MessageCodec.encoderFor`). */
  encode: (channels: readonly string[]) => Buffer;
  /** Score of the copies, expiry cutoff score and key TTL (ms), as `GROUP_SEND` takes them. */
  score: string;
  cutoff: string;
  ttlMs: number;
  /** The message's delivered marker, when it is in its group's history (see {@link deliverCommitted}). */
  marker?: DeliveredMarker;
}

/**
 * Stores one copy per receiving key; resolves with how many keys were full
 * and how many keys there were. Rejects (with `LayerUnavailableError`) when a
 * shard failed.
 *
 * @example
 * ```ts
 * import { deliverToMembers } from './group-send.js';
 * import { KeyNames } from './keys.js';
 * import { MessageCodec } from './wire.js';
 * import { Shard } from './connection.js';
 * import { defaultLogger as logger } from './log.js';
 *
 * const codec = new MessageCodec();
 * const { over, keys } = await deliverToMembers(['specific.abc!1', 'specific.abc!2'], {
 *   shards: [new Shard({ host: '127.0.0.1', port: 6379 }, { connectTimeout: 2000, logger })], keys: new KeyNames('asgi', false),
 *   capacityFor: () => 100, processCapacity: 1000, shardFor: () => 0, encode: codec.encoderFor({ type: 'chat.message' }),
 *   score: '1795247202.975184', cutoff: '1795247142.975184', ttlMs: 60_000,
 * });
 * ```
 */
export async function deliverToMembers(members: readonly string[], delivery: GroupDelivery): Promise<{ over: number; keys: number }> {
  const { shards, keys: names, capacityFor, processCapacity, shardFor, encode, score, cutoff, ttlMs } = delivery;
  const byKey = new Map<string, { channels: string[]; capacity: number; shard: number }>();
  for (const channel of members) {
    const key = names.channel(channel);
    const entry = byKey.get(key);
    if (entry !== undefined) entry.channels.push(channel);
    else {
      byKey.set(key, { channels: [channel], capacity: capacityFor(channel), shard: shardFor(nonLocalName(channel)) });
    }
  }
  const perShard = new Map<number, { keys: string[]; members: Buffer[]; capacities: number[] }>();
  for (const [key, entry] of byKey) {
    let batch = perShard.get(entry.shard);
    if (batch === undefined) perShard.set(entry.shard, (batch = { keys: [], members: [], capacities: [] }));
    batch.keys.push(key);
    batch.members.push(encode(entry.channels));
    // A process key: the channel's capacity per channel named, up to processCapacity (see the module note).
    const perKey = key.endsWith('!') ? Math.max(entry.capacity, Math.min(processCapacity, entry.capacity * entry.channels.length)) : entry.capacity;
    batch.capacities.push(perKey);
  }
  // On a cluster each key has its own slot: one script per key.
  const perScript = names.cluster ? 1 : KEYS_PER_SCRIPT;
  const results = await Promise.allSettled(
    [...perShard].flatMap(([index, batch]) => {
      const runs: Promise<unknown>[] = [];
      for (let i = 0; i < batch.keys.length; i += perScript) {
        const keys = batch.keys.slice(i, i + perScript);
        const args = [...batch.members.slice(i, i + perScript), ...batch.capacities.slice(i, i + perScript), score, cutoff, ttlMs, delivery.marker?.ttlMs ?? ''];
        // Each script's marker beside its first key (its slot, on a cluster).
        if (delivery.marker !== undefined) keys.push(`${keys[0]!}${delivery.marker.suffix}`);
        runs.push(shards[index]!.run((redis) => GROUP_SEND.run(redis, keys, args)));
      }
      return runs;
    }),
  );
  let over = 0;
  for (const result of results) {
    if (result.status === 'rejected') throw result.reason;
    over += Math.max(0, Number(result.value));
  }
  return { over, keys: byKey.size };
}

/** What {@link deliverInOneScript} needs besides {@link MemberRead}. */
export interface OneScriptDelivery {
  /** The copy's head (random prefix ‖ map header counting `__asgi_channel__`) and the message's packed entries. */
  head: Buffer;
  body: Buffer;
  /** The channel left out, or '' for none. */
  except: string;
  /** Capacity of a general channel's key, and of a process key. */
  capacity: number;
  processCapacity: number;
  cutoffMicros: number;
  score: string;
  cutoff: string;
  ttlMs: number;
  /** The message's delivered marker, when it is in its group's history (see {@link deliverCommitted}). */
  marker?: DeliveredMarker;
}

/**
 * A whole group send on one Redis in one `GROUP_DELIVER` script (see the
 * module note); resolves as {@link deliverToMembers}.
 *
 * @example
 * ```ts
 * import { deliverInOneScript } from './group-send.js';
 * import { KeyNames } from './keys.js';
 * import { Shard } from './connection.js';
 * import { defaultLogger as logger } from './log.js';
 *
 * const shards = [new Shard({ host: '127.0.0.1', port: 6379 }, { connectTimeout: 2000, logger })];
 * const read = { shards, keys: new KeyNames('asgi', false), clientPrefix: '0123456789abcdef0123456789abcdef', shardFor: () => 0, logger, alive: new Map() };
 * await deliverInOneScript('chat_lobby', read, {
 *   head: Buffer.from([0x82]), body: Buffer.from('a474797065a478', 'hex'), except: '', capacity: 100, processCapacity: 1000,
 *   cutoffMicros: Date.now() * 1000 - 86400e6, score: '1795247202.975184', cutoff: '1795247142.975184', ttlMs: 60_000,
 * });
 * ```
 */
export async function deliverInOneScript(group: string, read: MemberRead, delivery: OneScriptDelivery): Promise<{ over: number; keys: number }> {
  const { keys } = read;
  const [over, count, dead] = (await read.shards[0]!.run((redis) =>
    GROUP_DELIVER.run(redis, delivery.marker === undefined
      ? [keys.group(group), keys.registry('')]
      : [keys.group(group), keys.registry(''), `${keys.history(group)}${delivery.marker.suffix}`], [
      microsToScore(Math.max(0, delivery.cutoffMicros)), keys.liveness(''), keys.prefix, read.clientPrefix,
      delivery.score, delivery.cutoff, delivery.ttlMs, delivery.head, delivery.body, delivery.except,
      delivery.capacity, delivery.processCapacity, delivery.marker?.ttlMs ?? '',
    ]),
  )) as [number, number, string[]];
  reportDead(group, 0, dead, read);
  return { over: Number(over), keys: Math.max(0, Number(count)) };
}

/**
 * Marks a delivery as done, in Redis, by the script that does it: a key
 * named by the message's position (its `suffix` follows a key of the
 * delivery's slot), set once and kept `ttlMs`, so that a delivery run again
 * finds it and stores nothing.
 */
export interface DeliveredMarker {
  suffix: string;
  ttlMs: number;
}

/** The marker of a message stamped with `position`, kept long enough to outlive every retry of a `windowMs` window. */
export function deliveredMarker(position: MessagePosition, windowMs: number): DeliveredMarker {
  return { suffix: `:delivered:${position.group}:${position.epoch}:${position.offset}`, ttlMs: windowMs + 10_000 };
}

/** What {@link deliverCommitted} needs to retry and, failing, to say what was lost. */
export interface CommittedDelivery {
  position: MessagePosition;
  /** Ms a failed delivery is retried (the core layer's `connectTimeout`; 0 for none). */
  windowMs: number;
  logger: LayerLogger;
}

/**
 * Delivers a group message its history already holds. The history append is
 * the commit point: members that recover read the message from there, so a
 * delivery must not be given up at the first lost connection, or the sender
 * would be told "not sent" of a message some members then receive. A
 * delivery cut off by a lost connection (`LayerUnavailableError`) is retried
 * with backoff for `windowMs`; its {@link DeliveredMarker} makes a retry of a
 * delivery that had run (only its reply was lost) store nothing, so each
 * member gets the message once. Still failing, the loss is loud: a warning
 * that the members without recovery missed it, and an error saying so.
 *
 * @example
 * ```ts
 * import { deliverCommitted, deliveredMarker, deliverInOneScript } from './group-send.js';
 * import { KeyNames } from './keys.js';
 * import { Shard } from './connection.js';
 * import { defaultLogger as logger } from './log.js';
 *
 * const shards = [new Shard({ host: '127.0.0.1', port: 6379 }, { connectTimeout: 2000, logger })];
 * const read = { shards, keys: new KeyNames('asgi', false), clientPrefix: '0123456789abcdef0123456789abcdef', shardFor: () => 0, logger, alive: new Map() };
 * const position = { group: 'chat_lobby', epoch: 'Hq3kP0aZr8Tm', offset: 42 };
 * const marker = deliveredMarker(position, 2000);
 * await deliverCommitted(() => deliverInOneScript('chat_lobby', read, {
 *   head: Buffer.from([0x82]), body: Buffer.from('a474797065a478', 'hex'), except: '', capacity: 100, processCapacity: 1000,
 *   cutoffMicros: Date.now() * 1000 - 86400e6, score: '1795247202.975184', cutoff: '1795247142.975184', ttlMs: 60_000, marker,
 * }), { position, windowMs: 2000, logger });
 * ```
 */
export async function deliverCommitted<T>(deliver: () => Promise<T>, { position, windowMs, logger }: CommittedDelivery): Promise<T> {
  const deadline = Date.now() + windowMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await deliver();
    } catch (error) {
      const unavailable = error instanceof LayerUnavailableError;
      if (unavailable && Date.now() < deadline) {
        await sleep(Math.min(backoffDelay(attempt), deadline - Date.now()));
        continue;
      }
      const what = `A message to group ${position.group} is in its history (offset ${position.offset}) but was not delivered live`;
      logger.warn({ err: error, ...position }, `${what}: members that recover read it from the history; members without recovery missed it`);
      if (!unavailable) throw error;
      throw new DeliveryIncompleteError(`${what} (${(error as Error).message}): members without recovery missed it`, { cause: error });
    }
  }
}
