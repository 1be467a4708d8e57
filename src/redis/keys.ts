/**
 * The Redis key names of a layer, on one Redis (or shards, or Sentinel) and
 * on a Redis Cluster.
 *
 * How it works: on one Redis the names are channels_redis's (`wire.ts`) and
 * Switchyard's own `<prefix>switchyard:` keys, byte for byte. On a Redis
 * Cluster every Lua script must touch keys of one hash slot, so each name
 * carries a hash tag (`{...}`, the part Redis hashes) chosen so that the keys
 * a script touches together share it:
 * - a process's key `<prefix>specific.{<client prefix>}!` with its liveness
 *   key `<prefix>switchyard:process:{<client prefix>}` and its registry entry
 *   `<prefix>switchyard:processes:{<client prefix>}` (one per process: there
 *   is no cross-slot registry);
 * - a general channel `<prefix>{<name>}`;
 * - a group `<prefix>:group:{<group>}` with its history stream
 *   `<prefix>switchyard:history:{<group>}` and meta hash `…:{<group>}:meta`;
 * - a lease `<prefix>switchyard:lease:{<name>}` with its generation counter.
 *
 * Channel and group names cannot hold `{` or `}`, so a tag always ends where
 * intended; a prefix holding either is refused on a cluster.
 */
import { ImproperlyConfigured } from '../errors.js';
import { nonLocalName } from '../layers/base.js';
import { historyKey, historyMetaKey } from './history.js';
import { leaseGenerationKey, leaseKey } from './lease.js';
import { processLivenessKey, processRegistryKey } from './liveness.js';
import { channelKey, groupKey } from './wire.js';

/**
 * Key names of one layer (see the module note).
 *
 * @example
 * ```ts
 * import { KeyNames } from './keys.js';
 *
 * new KeyNames('asgi', false).channel('specific.abc!def'); // 'asgispecific.abc!'
 * new KeyNames('asgi', true).channel('specific.abc!def'); // 'asgispecific.{abc}!'
 * new KeyNames('asgi', true).group('room'); // 'asgi:group:{room}'
 * ```
 */
export class KeyNames {
  readonly prefix: string;
  /** Hash-tagged names for a Redis Cluster. */
  readonly cluster: boolean;

  constructor(prefix: string, cluster: boolean) {
    if (cluster && /[{}]/.test(prefix)) {
      throw new ImproperlyConfigured(`On a Redis Cluster the key prefix must not hold { or } (it would change the hash tags), not ${JSON.stringify(prefix)}`);
    }
    this.prefix = prefix;
    this.cluster = cluster;
  }

  /** The key a channel's messages live in (one per process for process-specific channels). */
  channel(channel: string): string {
    if (!this.cluster) return channelKey(this.prefix, channel);
    return this.prefix + tagNonLocal(nonLocalName(channel));
  }

  /** The sorted set of a group's members. */
  group(group: string): string {
    return this.cluster ? `${this.prefix}:group:{${group}}` : groupKey(this.prefix, group);
  }

  /** The stream of a group's history. */
  history(group: string): string {
    return this.cluster ? `${this.prefix}switchyard:history:{${group}}` : historyKey(this.prefix, group);
  }

  /** The meta hash (epoch, top) of a group's history. */
  historyMeta(group: string): string {
    return this.cluster ? `${this.history(group)}:meta` : historyMetaKey(this.prefix, group);
  }

  /** A process's liveness lease. */
  liveness(clientPrefix: string): string {
    return this.cluster ? `${this.prefix}switchyard:process:{${clientPrefix}}` : processLivenessKey(this.prefix, clientPrefix);
  }

  /** The registry of Switchyard processes: one shared set, or one per process on a cluster. */
  registry(clientPrefix: string): string {
    return this.cluster ? `${this.prefix}switchyard:processes:{${clientPrefix}}` : processRegistryKey(this.prefix);
  }

  /** A lease of `runOnce`. */
  lease(name: string): string {
    return this.cluster ? `${this.prefix}switchyard:lease:{${name}}` : leaseKey(this.prefix, name);
  }

  /** The generation counter of a lease. */
  leaseGeneration(name: string): string {
    return this.cluster ? `${this.prefix}switchyard:lease-generation:{${name}}` : leaseGenerationKey(this.prefix, name);
  }
}

/**
 * The tagged form of a non-local name: `specific.{<client prefix>}!` for a
 * process-specific one (so a process's keys share its client prefix's slot),
 * `{<name>}` otherwise.
 */
function tagNonLocal(nonLocal: string): string {
  if (!nonLocal.endsWith('!')) return `{${nonLocal}}`;
  const dot = nonLocal.lastIndexOf('.');
  if (dot === -1 || dot === nonLocal.length - 2) return `{${nonLocal}}`;
  return `${nonLocal.slice(0, dot + 1)}{${nonLocal.slice(dot + 1, -1)}}!`;
}
