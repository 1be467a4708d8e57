/**
 * `CHANNEL_LAYER_URL` for the NATS layer:
 *
 * ```
 * nats://[user:password@]host:port?prefix=switchyard&capacity=100&expiry=60
 * nats://token@host:port                 a token instead of a user and password
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
import type { NatsChannelLayerOptions } from './layer.js';

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
  const auth = user === '' ? {} : pass === '' ? { token: user } : { user, pass };
  return { ...options, servers, ...auth, ...(url.protocol === 'nats:' ? {} : { tls: true }) };
}
