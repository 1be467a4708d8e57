/**
 * The NATS layer's options, and `CHANNEL_LAYER_URL` for it:
 *
 * ```
 * nats://[user:password@]host:port?prefix=switchyard&capacity=100&expiry=60
 * nats://:token@host:port                a token instead of a user and password (hidden in logs, as a password)
 * nats+tls://host:port (or tls://)       TLS
 * nats://h1:4222?server=h2:4222&server=nats://h3:4222   several servers of one cluster
 * ```
 *
 * Query options (checked: a misspelt or mistyped one stops startup):
 * `prefix`, `expiry`, `groupExpiry`, `capacity`, `channelCapacity` (JSON),
 * `symmetricEncryptionKeys`, `serializerFormat`, `connectTimeout`,
 * `requestTimeout`, `unsubscribeDelay`, `groupHistory` (`chat_*,news` or
 * JSON), `historyStorage` (`file` or `memory`).
 */
import { ImproperlyConfigured } from '../errors.js';
import { type QueryOptionKind, queryOptions } from '../layers/registry.js';
import type { BaseLayerOptions } from '../layers/base.js';
import type { GroupHistoryConfig } from '../layers/history.js';
import type { LayerLogger } from '../redis/log.js';

/** Options of `NatsChannelLayer`: Django's defaults (capacity 100, expiry 60 s, group expiry 86400 s). */
export interface NatsChannelLayerOptions extends BaseLayerOptions {
  /** NATS servers (`host:port` or `nats://host:port`), of one cluster. Default `['127.0.0.1:4222']`. */
  servers?: readonly string[];
  user?: string;
  pass?: string;
  token?: string;
  /** Connect with TLS. Default false. */
  tls?: boolean;
  /** First subject token(s) of everything this layer publishes. Default `"switchyard"`. */
  prefix?: string;
  /** Fernet keys (the first encrypts, all decrypt). Default none. */
  symmetricEncryptionKeys?: readonly string[] | null;
  /** `"msgpack"` (default), `"json"` or a registered format. */
  serializerFormat?: string;
  /** Ms a connection attempt (and a publish's confirmation) may take. Default 2000. */
  connectTimeout?: number;
  /** Ms a send waits for the receiving process's answer, and a JetStream call for the server's. Default 5000. */
  requestTimeout?: number;
  /** Ms an aborted receive on a general channel keeps its subscription. Default 5000. */
  unsubscribeDelay?: number;
  /** Groups that keep a history in JetStream, for connections that come back (see `history.ts`). Default none. */
  groupHistory?: GroupHistoryConfig;
  /** Where the history stream is stored: `file` (default; survives a server restart) or `memory`. */
  historyStorage?: 'file' | 'memory';
  /** Called when the connection is lost (the client reconnects by itself). */
  onDisconnect?: (servers: string) => void;
  /** Called when the connection is back and its subscriptions restored. */
  onReconnect?: (servers: string) => void;
  /** Where warnings go (pino-compatible). */
  logger?: LayerLogger;
}

/** Counters of a `NatsChannelLayer`, for tests and metrics. */
export interface NatsLayerStats {
  /** Messages received that could not be decoded (skipped, logged). */
  malformed: number;
  /** Sends dropped because no process receives their channel any more. */
  unclaimed: number;
}

/** The query options of `nats://` URLs, with their types. */
const NATS_OPTIONS: Record<string, QueryOptionKind> = {
  prefix: 'string',
  expiry: 'positive number',
  groupExpiry: 'positive number',
  capacity: 'positive integer',
  channelCapacity: 'JSON object',
  symmetricEncryptionKeys: 'string or JSON list of strings',
  serializerFormat: 'string',
  connectTimeout: 'positive integer',
  requestTimeout: 'positive integer',
  unsubscribeDelay: 'non-negative integer',
  groupHistory: 'JSON object or list of patterns',
  historyStorage: 'string',
};

/** The URL schemes of the NATS layer. */
export const NATS_SCHEMES = ['nats:', 'nats+tls:', 'tls:'] as const;

function hostPort(raw: string, where: string): string {
  const match = /^(?:(nats|tls|nats\+tls):\/\/)?(\[[^\]]+\]|[^:/?#@]+)(?::(\d+))?\/?$/.exec(raw);
  const port = match?.[3] === undefined ? 4222 : Number(match[3]);
  if (match === null || !(port >= 1 && port <= 65535)) {
    throw new ImproperlyConfigured(`${where} must be host:port or nats://host:port (port 1 to 65535), not ${JSON.stringify(raw)}`);
  }
  return `${match[2]}:${port}`;
}

/**
 * The layer options a `nats://` URL means.
 *
 * @example
 * ```ts
 * import { natsOptionsFromUrl } from 'switchyard/nats';
 *
 * natsOptionsFromUrl(new URL('nats://127.0.0.1:4222?prefix=chat&groupHistory=chat_*'));
 * // { servers: ['127.0.0.1:4222'], prefix: 'chat', groupHistory: ['chat_*'] }
 * ```
 * @throws ImproperlyConfigured for another scheme, a path, a bad port or an unknown or mistyped option.
 */
export function natsOptionsFromUrl(url: URL): NatsChannelLayerOptions {
  if (!(NATS_SCHEMES as readonly string[]).includes(url.protocol)) {
    throw new ImproperlyConfigured(`a NATS layer URL starts with nats://, nats+tls:// or tls://, not ${url.protocol}//`);
  }
  if (url.pathname !== '' && url.pathname !== '/') {
    throw new ImproperlyConfigured(`a NATS layer URL has no path (NATS has no databases), not ${JSON.stringify(url.pathname)}`);
  }
  const options = queryOptions(url, NATS_OPTIONS, ['server']) as NatsChannelLayerOptions & { historyStorage?: string };
  if (options.historyStorage !== undefined && options.historyStorage !== 'file' && options.historyStorage !== 'memory') {
    throw new ImproperlyConfigured(`option historyStorage must be file or memory, not ${JSON.stringify(options.historyStorage)}`);
  }
  const first = url.hostname === '' ? '127.0.0.1:4222' : hostPort(`${url.hostname}${url.port === '' ? '' : `:${url.port}`}`, 'the URL\'s host');
  const servers = [first, ...url.searchParams.getAll('server').map((raw) => hostPort(raw, 'server='))];
  const user = decodeURIComponent(url.username);
  const pass = decodeURIComponent(url.password);
  // A token goes in the password's place (`nats://:token@host`), which logs hide; `nats://token@host` (NATS's own form) works too.
  const auth = user === '' ? (pass === '' ? {} : { token: pass }) : pass === '' ? { token: user } : { user, pass };
  return { ...options, servers, ...auth, ...(url.protocol === 'nats:' ? {} : { tls: true }) };
}
