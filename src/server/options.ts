/**
 * Server options: one interface, one block of defaults.
 *
 * Times are in seconds (as Daphne's and Uvicorn's flags), sizes in bytes.
 * The CLI reads each option from a flag, then from a `SWITCHYARD_*`
 * environment variable (see `cli.ts`), then from these defaults.
 */
import type { Logger } from 'pino';
import { resolveFallbackOptions, type FallbackOptions } from './fallback-options.js';

/**
 * What `serve()` accepts. Every field is optional; see {@link DEFAULT_OPTIONS}.
 *
 * @example
 * ```ts
 * import { type ServerOptions } from 'switchyard/server';
 *
 * const options: ServerOptions = { host: '0.0.0.0', port: 8000, wsMaxSize: 64 * 1024 };
 * ```
 */
export interface ServerOptions {
  /** Interface to bind. Default `127.0.0.1`. */
  host?: string;
  /** TCP port; `0` picks a free one. Default `8000`. */
  port?: number;
  /** Listen on this Unix socket path instead of host/port. Default none. */
  unixSocket?: string | null;
  /** `scope.root_path`, the prefix the app is mounted under behind a proxy. Default `''`. */
  rootPath?: string;
  /** Trust `X-Forwarded-For`/`X-Forwarded-Proto` from {@link forwardedAllowIps}. Default `false`. */
  proxyHeaders?: boolean;
  /** Peers whose forwarded headers are trusted: addresses, CIDR blocks, or `*`. Default `['127.0.0.1', '::1']`. */
  forwardedAllowIps?: string[];
  /** Largest incoming WebSocket message; bigger closes with 1009. Default 1 MiB. */
  wsMaxSize?: number;
  /** Seconds between pings to each WebSocket peer; `0` turns heartbeats off. Default 20 (Daphne). */
  wsPingInterval?: number;
  /** Seconds a peer has to answer a ping before it is dropped (disconnect code 1006). Default 30 (Daphne). */
  wsPingTimeout?: number;
  /** Negotiate permessage-deflate. Default `false` (CPU and memory cost, as `ws` warns). */
  wsPerMessageDeflate?: boolean;
  /** Bytes a connection may have queued for a peer that does not read; over it the socket closes with 1008. Default 4 MiB. */
  wsMaxSendBuffer?: number;
  /**
   * Bytes queued for a peer above which the app's `websocket.send` waits
   * until the socket drains (backpressure: a consumer that cannot keep up
   * stops taking its channel's messages, and its slow-consumer policy
   * applies there). Default 64 KiB.
   */
  wsSendHighWaterMark?: number;
  /** Seconds an app has to accept or refuse a handshake before it is refused (403). Default 20 (Daphne). */
  wsConnectTimeout?: number;
  /** Seconds to wait for the peer's close frame before dropping the TCP connection. Default 5. */
  wsCloseTimeout?: number;
  /** Seconds an idle keep-alive HTTP connection is kept. Default 5. */
  keepAliveTimeout?: number;
  /** Log one line per HTTP request and per WebSocket connection. Default `true`. */
  accessLog?: boolean;
  /** pino level. Default `info`. */
  logLevel?: string;
  /** A ready pino logger (overrides `logLevel`). Default: one built by `createLogger()`. */
  logger?: Logger;
  /** PEM private key file: serve https:// and wss://. Default none. */
  sslKeyfile?: string | null;
  /** PEM certificate (chain) file, with {@link sslKeyfile}. Default none. */
  sslCertfile?: string | null;
  /** Seconds `close()` waits for disconnect handlers and in-flight responses. Default 10 (Daphne's application close timeout). */
  shutdownTimeout?: number;
  /** Serve Prometheus metrics at this path (e.g. `/metrics`). Default none (off). */
  metricsPath?: string | null;
  /** Liveness endpoint: 200 while the process answers (see `health.ts`); answered before the app. `null`: off. Default `/livez`. */
  livenessPath?: string | null;
  /** Readiness endpoint: 503 until the channel layer answers, and while draining; answered before the app. `null`: off. Default `/readyz`. */
  readinessPath?: string | null;
  /** `auto`: run lifespan if the app supports it; `on`: require it; `off`: never. Default `auto`. */
  lifespan?: 'auto' | 'on' | 'off';
  /** Close gracefully on SIGTERM/SIGINT and exit the process with 0. Default `false` (the CLI sets it). */
  handleSignals?: boolean;
  /**
   * The HTTP fallback for clients that cannot open a WebSocket: the same
   * consumers over server-sent events or long polls, and POSTs
   * (`docs/guide.md`, "Without WebSockets"). Off by default: it lets plain
   * HTTP requests start WebSocket consumers, a door to open on purpose.
   * `true` for the defaults, or {@link FallbackOptions}.
   */
  fallback?: boolean | FallbackOptions;
}

/**
 * The defaults, in one place (applied as `{ ...DEFAULT_OPTIONS, ...options }`).
 *
 * @example
 * ```ts
 * import { DEFAULT_OPTIONS } from 'switchyard/server';
 *
 * DEFAULT_OPTIONS.wsPingInterval; // 20 (seconds)
 * ```
 */
export const DEFAULT_OPTIONS = {
  host: '127.0.0.1',
  port: 8000,
  unixSocket: null,
  rootPath: '',
  proxyHeaders: false,
  forwardedAllowIps: ['127.0.0.1', '::1'],
  wsMaxSize: 1024 * 1024,
  wsPingInterval: 20,
  wsPingTimeout: 30,
  wsPerMessageDeflate: false,
  wsMaxSendBuffer: 4 * 1024 * 1024,
  wsSendHighWaterMark: 64 * 1024,
  wsConnectTimeout: 20,
  wsCloseTimeout: 5,
  keepAliveTimeout: 5,
  accessLog: true,
  logLevel: 'info',
  sslKeyfile: null,
  sslCertfile: null,
  shutdownTimeout: 10,
  metricsPath: null,
  livenessPath: '/livez',
  readinessPath: '/readyz',
  lifespan: 'auto',
  handleSignals: false,
  fallback: false,
} satisfies Required<Omit<ServerOptions, 'logger'>>;

/** Options with every default applied. */
export type ResolvedOptions = Required<Omit<ServerOptions, 'logger'>> & { logger?: Logger };

/**
 * Applies the defaults and checks values, throwing a `TypeError` with an exact message.
 *
 * @example
 * ```ts
 * import { resolveOptions } from 'switchyard/server';
 *
 * resolveOptions({ port: 0 }).wsMaxSize; // 1048576
 * ```
 */
export function resolveOptions(options: ServerOptions = {}): ResolvedOptions {
  const defined = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  const resolved: ResolvedOptions = { ...DEFAULT_OPTIONS, ...defined };
  const nonNegative = ['port', 'wsMaxSize', 'wsPingInterval', 'wsPingTimeout', 'wsMaxSendBuffer', 'wsSendHighWaterMark', 'wsConnectTimeout',
    'wsCloseTimeout', 'keepAliveTimeout', 'shutdownTimeout'] as const;
  for (const key of nonNegative) {
    const value = resolved[key];
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw new TypeError(`The "${key}" option must be a non-negative number (got ${String(value)})`);
    }
  }
  if (!Number.isInteger(resolved.port) || resolved.port > 65535) {
    throw new TypeError(`The "port" option must be an integer between 0 and 65535 (got ${resolved.port})`);
  }
  if ((resolved.sslKeyfile === null) !== (resolved.sslCertfile === null)) {
    throw new TypeError('The "sslKeyfile" and "sslCertfile" options must be given together');
  }
  if (!['auto', 'on', 'off'].includes(resolved.lifespan)) {
    throw new TypeError(`The "lifespan" option must be "auto", "on" or "off" (got ${String(resolved.lifespan)})`);
  }
  for (const key of ['metricsPath', 'livenessPath', 'readinessPath'] as const) {
    const path = resolved[key];
    if (path !== null && (typeof path !== 'string' || !path.startsWith('/'))) {
      throw new TypeError(`The "${key}" option must start with "/" (got ${String(path)})`);
    }
  }
  resolveFallbackOptions(resolved.fallback, resolved.wsMaxSize); // throws on a bad value, now rather than at the first request
  return resolved;
}
