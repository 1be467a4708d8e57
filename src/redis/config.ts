/**
 * Configuration of the Redis layers: host entries (as channels_redis accepts
 * them) and `CHANNEL_LAYER_URL` parsing.
 *
 * URL form (one layer per URL):
 *
 * ```
 * redis://[user:password@]host:port/db?prefix=asgi&capacity=100&expiry=60
 * rediss://...                          TLS
 * redis+pubsub://... / rediss+pubsub:// the pub/sub flavour
 * redis://h1:6379/0?host=h2:6380&host=redis://h3:6379/2    several hosts (shards), in this order
 * redis+cluster://h1:7000?host=h2:7001&host=h3:7002         a Redis Cluster (core flavour), from these nodes
 * redis+pubsub+cluster://… / rediss+…+cluster://…           the pub/sub flavour / TLS on a cluster
 * ```

On a cluster the `host=` values are seed nodes (any reachable one tells the
client the rest), not shards, and there is no database number.
 *
 * `host=` values are `host:port` (same db, credentials and TLS as the URL) or
 * full `redis://`/`rediss://` URLs. Other query parameters are layer options
 * (`prefix`, `expiry`, `groupExpiry`, `capacity`, `channelCapacity` as JSON,
 * `symmetricEncryptionKeys` as a JSON array, `randomPrefixLength`,
 * `serializerFormat`, `connectTimeout`, `commandTimeout`, `processTtl`, `processCapacity`, `groupHistory` as
 * `chat_*,news` or a JSON object...).
 */
import type { RedisOptions } from 'ioredis';
import { ImproperlyConfigured } from '../errors.js';
import { type QueryOptionKind, queryOptions } from '../layers/registry.js';
import { Shard, type ShardOptions } from './connection.js';

/** The query options of `redis://` / `rediss://` URLs (the core layer), with their types. */
const CORE_OPTIONS: Record<string, QueryOptionKind> = {
  prefix: 'string',
  expiry: 'positive number',
  groupExpiry: 'positive number',
  capacity: 'positive integer',
  channelCapacity: 'JSON object',
  symmetricEncryptionKeys: 'string or JSON list of strings',
  randomPrefixLength: 'non-negative integer',
  serializerFormat: 'string',
  receiveBufferSize: 'positive integer',
  blockTimeout: 'positive number',
  connectTimeout: 'non-negative integer',
  commandTimeout: 'positive integer',
  processTtl: 'positive number',
  processCapacity: 'positive integer',
  groupHistory: 'JSON object or list of patterns',
};

/** The query options of `redis+pubsub://` / `rediss+pubsub://` URLs. */
const PUBSUB_OPTIONS: Record<string, QueryOptionKind> = {
  prefix: 'string',
  expiry: 'positive number',
  capacity: 'positive integer',
  symmetricEncryptionKeys: 'string or JSON list of strings',
  serializerFormat: 'string',
  unsubscribeDelay: 'non-negative integer',
  connectTimeout: 'non-negative integer',
  commandTimeout: 'positive integer',
  groupHistory: 'JSON object or list of patterns',
};

/** A port from a URL or a `host=` parameter: 1 to 65535. */
function portOf(raw: string, where: string): number {
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port < 1 || port > 65535) {
    throw new ImproperlyConfigured(`the port of ${where} must be an integer from 1 to 65535, not ${JSON.stringify(raw)}`);
  }
  return port;
}

/**
 * One Redis host: a URL (`redis://h:6379/0`, `rediss://...`), a `[host, port]`
 * pair, or ioredis connection options (`{ host, port, db, password, tls }`),
 * optionally with `address` holding a URL.
 */
export type RedisHost = string | readonly [string, number] | (RedisOptions & { address?: string; master_name?: string; sentinel_kwargs?: { password?: string } });

/** channels_redis's Sentinel spelling (`master_name`, `sentinel_kwargs`), accepted next to ioredis's own. */
type SentinelEntry = RedisOptions & { address?: string; master_name?: string; sentinel_kwargs?: { password?: string } };

/**
 * Turns one host entry into ioredis options. Sentinel entries work as in
 * channels_redis (`{ sentinels: [['h', 26379]], master_name: 'mymaster' }`)
 * or in ioredis's spelling (`{ sentinels: [{ host, port }], name }`).
 */
export function normalizeHost(entry: RedisHost): RedisOptions {
  if (typeof entry === 'string') return optionsFromRedisUrl(entry);
  if (Array.isArray(entry)) {
    const [host, port] = entry as readonly [string, number];
    return { host, port };
  }
  const { address, master_name: masterName, sentinel_kwargs: sentinelKwargs, ...rest } = entry as SentinelEntry;
  const options: RedisOptions = address !== undefined ? { ...optionsFromRedisUrl(address), ...rest } : { ...rest };
  if (masterName !== undefined) options.name = masterName;
  if (Array.isArray(options.sentinels)) {
    options.sentinels = (options.sentinels as unknown[]).map((sentinel) =>
      Array.isArray(sentinel) ? { host: String(sentinel[0]), port: Number(sentinel[1]) } : (sentinel as { host?: string; port?: number }),
    );
  }
  if (sentinelKwargs?.password !== undefined) options.sentinelPassword = sentinelKwargs.password;
  return options;
}

/**
 * Normalizes the `hosts` option; the default is one local Redis.
 *
 * @example
 * ```ts
 * import { normalizeHosts } from 'switchyard/redis';
 *
 * normalizeHosts([['redis-a', 6379], 'redis://redis-b:6379/1']); // [{ host: 'redis-a', port: 6379 }, { host: 'redis-b', port: 6379, db: 1 }]
 * ```
 */
export function normalizeHosts(hosts: readonly RedisHost[] | undefined): RedisOptions[] {
  if (hosts === undefined) return [{ host: '127.0.0.1', port: 6379 }];
  if (typeof hosts === 'string' || !Array.isArray(hosts)) {
    throw new ImproperlyConfigured('Redis layer `hosts` must be a list of hosts, not a single string');
  }
  if (hosts.length === 0) throw new ImproperlyConfigured('Redis layer `hosts` must not be empty');
  return hosts.map(normalizeHost);
}

/** ioredis options from a `redis://` / `rediss://` URL (the `+pubsub` and `+cluster` suffixes are ignored). */
export function optionsFromRedisUrl(raw: string): RedisOptions {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ImproperlyConfigured(`Redis host ${JSON.stringify(raw.replace(/:[^:@/]*@/, ':***@'))} is not a redis:// URL (a bad port or host?)`);
  }
  const shown = url.password !== '' ? raw.replace(`:${url.password}@`, ':***@') : raw;
  const scheme = url.protocol.replace('+pubsub', '').replace('+cluster', '');
  if (scheme !== 'redis:' && scheme !== 'rediss:') {
    throw new ImproperlyConfigured(`Redis host ${JSON.stringify(shown)} must use redis:// or rediss://`);
  }
  const options: RedisOptions = { host: url.hostname || '127.0.0.1', port: url.port ? portOf(url.port, shown) : 6379 };
  const db = url.pathname.replace(/^\//, '');
  if (db !== '') {
    if (!/^\d+$/.test(db)) throw new ImproperlyConfigured(`the Redis database must be an integer (redis://host:port/DB), not ${JSON.stringify(decodeURIComponent(db))}`);
    options.db = Number(db);
  }
  if (url.username) options.username = decodeURIComponent(url.username);
  if (url.password) options.password = decodeURIComponent(url.password);
  if (scheme === 'rediss:') options.tls = {};
  return options;
}

/**
 * The layer options a `CHANNEL_LAYER_URL` describes: `hosts` (the URL's own
 * host first, then each `host=` parameter) plus the other query parameters.
 *
 * @example
 * ```ts
 * import { layerOptionsFromUrl } from 'switchyard/redis';
 *
 * layerOptionsFromUrl(new URL('redis://a:6379/0?host=b:6380&prefix=chat'));
 * // { hosts: [{ host: 'a', port: 6379, db: 0 }, { host: 'b', port: 6380, db: 0 }], prefix: 'chat' }
 * ```
 */
export function layerOptionsFromUrl(url: URL): { hosts: RedisOptions[] } & Record<string, unknown> {
  const base = new URL(url.href);
  const extra = base.searchParams.getAll('host');
  base.search = '';
  const first = optionsFromRedisUrl(base.href);
  const hosts = [first];
  for (const entry of extra) {
    if (/^rediss?:\/\//.test(entry)) hosts.push(optionsFromRedisUrl(entry));
    else {
      const match = /^\[([^\]]+)\](?::(.*))?$/.exec(entry) ?? /^([^:/[\]]+)(?::(.*))?$/.exec(entry);
      if (match === null) throw new ImproperlyConfigured(`the host parameter ${JSON.stringify(entry)} is not host:port or a redis:// URL`);
      hosts.push({ ...first, host: match[1]!, port: match[2] !== undefined ? portOf(match[2], `host=${entry}`) : 6379 });
    }
  }
  // Every other parameter must be an option of this flavour, of the right type.
  const known = url.protocol.includes('+pubsub') ? PUBSUB_OPTIONS : CORE_OPTIONS;
  const options = { ...queryOptions(url, known, ['host']), hosts };
  return url.protocol.includes('+cluster') ? { ...options, cluster: true } : options;
}

/**
 * The shards of a layer: one per host, or, with `cluster`, one for the whole
 * Redis Cluster the hosts are nodes of (credentials and TLS from the first).
 *
 * @example
 * ```ts
 * import { shardsFor } from './config.js';
 * import { defaultLogger as logger } from './log.js';
 *
 * const [cluster] = shardsFor([{ host: '10.0.0.1', port: 7000 }, { host: '10.0.0.2', port: 7000 }], true, () => ({ connectTimeout: 2000, logger }));
 * cluster!.label; // 'cluster:10.0.0.1:7000,10.0.0.2:7000'
 * ```
 */
export function shardsFor(hosts: readonly RedisOptions[], cluster: boolean, shardOptions: (index: number) => ShardOptions): Shard[] {
  if (!cluster) return hosts.map((host, index) => new Shard(host, shardOptions(index)));
  for (const host of hosts) {
    if (host.sentinels !== undefined) throw new ImproperlyConfigured('A Redis Cluster is given by its nodes, not by Sentinels');
    if (host.db !== undefined && host.db !== 0) throw new ImproperlyConfigured(`A Redis Cluster has only database 0, not ${host.db}`);
  }
  const nodes = hosts.map((host) => ({ host: host.host ?? '127.0.0.1', port: host.port ?? 6379 }));
  return [new Shard(hosts[0]!, { ...shardOptions(0), cluster: nodes })];
}
