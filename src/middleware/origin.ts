/**
 * Origin checks against cross-site WebSocket hijacking: `OriginValidator`
 * and `AllowedHostsOriginValidator`, with Django Channels' exact rules.
 *
 * How it works. Browsers send an `Origin` header with every WebSocket
 * handshake, and cookies ride along whatever page opened the socket; so
 * without this check any web site could open a socket as your signed-in
 * user. The validator takes the **last** `origin` header, parses it as
 * Python's `urlparse` does, and compares it with each allowed pattern:
 *
 * - `*` allows everything, even no `Origin` at all; without it, a missing
 *   header is refused, and an origin with no host (`null`, `""`, garbage)
 *   never matches.
 * - A pattern without a scheme (`example.com`, `.example.com`) compares the
 *   host only, case-insensitively; a leading dot also allows every
 *   subdomain. Scheme and port are ignored.
 * - A pattern with a scheme (`https://example.com`, `http://.example.com:8000`)
 *   needs the same scheme, the same port (80 for http/ws, 443 for
 *   https/wss when absent) and a matching host.
 * - Traps, kept on purpose for compatibility: `*.example.com` is not a
 *   wildcard (it matches nothing), and `example.com:8000` is read as a URL
 *   with the scheme `example.com`, so it matches nothing either: write
 *   `http://example.com:8000`.
 *
 * `AllowedHostsOriginValidator`'s development defaults (no hosts configured,
 * not in production) also pin the port: the origin must have the port the
 * request's `Host` names, so other local servers' pages are refused too.
 *
 * A handshake with no `Origin` but a `Sec-WebSocket-Origin` (the name in the
 * WebSocket drafts before RFC 6455) is judged by that header.
 *
 * A refused handshake is closed before accept (the server answers HTTP 403),
 * the inner application never runs, and the reason is logged at `warn`.
 */
import type { Application, Header, WebsocketScope } from '../asgi.js';
import { getHeader } from '../asgi.js';
import { logger } from '../log.js';
import { deny, headerNameIs, latin1Text, passThroughMiddleware } from './base.js';

/** What Python's `urlparse` gives for the parts the validator reads. */
export interface ParsedOrigin {
  scheme: string;
  /** Lower-cased; `null` when there is none. */
  hostname: string | null;
  /** `null` when absent; `NaN` when unreadable (Python raises). */
  port: number | null;
}

const SCHEME_CHARS = /^[A-Za-z0-9+\-.]+$/;

/**
 * Parses a URL the way Python 3.11's `urllib.parse.urlsplit` does, for scheme, hostname and port.
 *
 * @example
 * ```ts
 * import { parseOrigin } from 'switchyard/middleware';
 *
 * parseOrigin('https://Chat.Example.com:8443'); // { scheme: 'https', hostname: 'chat.example.com', port: 8443 }
 * parseOrigin('example.com:8000');              // { scheme: 'example.com', hostname: null, port: null }
 * ```
 */
export function parseOrigin(input: string): ParsedOrigin {
  // eslint-disable-next-line no-control-regex
  let url = input.replace(/^[\x00-\x20]+/, '').replace(/[\t\r\n]/g, '');
  let scheme = '';
  const colon = url.indexOf(':');
  if (colon > 0 && /^[A-Za-z]/.test(url) && SCHEME_CHARS.test(url.slice(0, colon))) {
    scheme = url.slice(0, colon).toLowerCase();
    url = url.slice(colon + 1);
  }
  let netloc = '';
  if (url.startsWith('//')) {
    const rest = url.slice(2);
    const end = rest.search(/[/?#]/);
    netloc = end === -1 ? rest : rest.slice(0, end);
  }
  if (netloc.includes('[') !== netloc.includes(']')) return { scheme, hostname: null, port: null }; // Python: "Invalid IPv6 URL"
  const hostinfo = netloc.slice(netloc.lastIndexOf('@') + 1);
  let host: string;
  let portText: string;
  const open = hostinfo.indexOf('[');
  if (open !== -1) {
    const bracketed = hostinfo.slice(open + 1);
    const close = bracketed.indexOf(']');
    host = close === -1 ? bracketed : bracketed.slice(0, close);
    const after = close === -1 ? '' : bracketed.slice(close + 1);
    const c = after.indexOf(':');
    portText = c === -1 ? '' : after.slice(c + 1);
  } else {
    const c = hostinfo.indexOf(':');
    host = c === -1 ? hostinfo : hostinfo.slice(0, c);
    portText = c === -1 ? '' : hostinfo.slice(c + 1);
  }
  let port: number | null = null;
  if (portText !== '') port = /^[0-9]+$/.test(portText) && Number(portText) <= 65535 ? Number(portText) : Number.NaN;
  const percent = host.indexOf('%');
  const hostname = host === '' ? null : percent === -1 ? host.toLowerCase() : host.slice(0, percent).toLowerCase() + host.slice(percent);
  return { scheme, hostname, port };
}

/**
 * Django's `is_same_domain`: exact match, or a `.pattern` matching the domain and its subdomains.
 *
 * @example
 * ```ts
 * import { isSameDomain } from 'switchyard/middleware';
 *
 * isSameDomain('a.example.com', '.example.com'); // true
 * isSameDomain('evilexample.com', '.example.com'); // false
 * ```
 */
export function isSameDomain(host: string, pattern: string): boolean {
  if (!pattern) return false;
  const p = pattern.toLowerCase();
  return (p[0] === '.' && (host.endsWith(p) || host === p.slice(1))) || p === host;
}

function defaultPort(origin: ParsedOrigin): number | null {
  if (origin.port !== null) return origin.port;
  if (origin.scheme === 'http' || origin.scheme === 'ws') return 80;
  if (origin.scheme === 'https' || origin.scheme === 'wss') return 443;
  return null;
}

/** An allowed-origin pattern, parsed once for every handshake it judges. */
interface AllowedPattern {
  /** With a scheme (`https://chat.example.com`): its parts. Without one (`.example.com`): null. */
  readonly url: ParsedOrigin | null;
  /** The host (or `.domain`) an origin must match. */
  readonly host: string | null;
}

function allowedPattern(pattern: string): AllowedPattern {
  const url = parseOrigin(pattern.toLowerCase());
  if (url.scheme) return { url, host: url.hostname };
  return { url: null, host: parseOrigin(`//${pattern}`).hostname ?? pattern };
}

function matchPattern(origin: ParsedOrigin, pattern: AllowedPattern): boolean {
  if (origin.hostname === null || pattern.host === null) return false;
  if (pattern.url === null) return isSameDomain(origin.hostname, pattern.host);
  const originPort = defaultPort(origin);
  const patternPort = defaultPort(pattern.url);
  if (Number.isNaN(originPort) || Number.isNaN(patternPort)) return false;
  return pattern.url.scheme === origin.scheme && originPort === patternPort && isSameDomain(origin.hostname, pattern.host);
}

/** Allowed origins, parsed once (a validator judges every handshake with the same list). */
class AllowedOrigins {
  readonly any: boolean;
  readonly #patterns: readonly AllowedPattern[];

  constructor(patterns: readonly string[]) {
    this.any = patterns.includes('*');
    this.#patterns = patterns.filter((pattern) => pattern !== '*').map(allowedPattern);
  }

  /** Whether an origin (`null`: none was sent) is allowed. */
  allows(origin: ParsedOrigin | null): boolean {
    if (this.any) return true;
    return origin !== null && this.#patterns.some((pattern) => matchPattern(origin, pattern));
  }
}

/**
 * True when the (last) `Origin` header of `headers` is allowed by `allowedOrigins`.
 *
 * @example
 * ```ts
 * import { utf8 } from 'switchyard';
 * import { isOriginAllowed } from 'switchyard/middleware';
 *
 * isOriginAllowed([[utf8('origin'), utf8('https://chat.example.com')]], ['.example.com']); // true
 * ```
 */
export function isOriginAllowed(headers: readonly Header[], allowedOrigins: readonly string[]): boolean {
  const text = lastOrigin(headers);
  return new AllowedOrigins(allowedOrigins).allows(text === null ? null : parseOrigin(text));
}

/**
 * The last `Origin` header; without one, the last `Sec-WebSocket-Origin`: browsers of the
 * hybi drafts (WebSocket version 8) sent the page's origin under that name, and a handshake
 * carrying only it must be judged by it, not let through as "no Origin". Names are compared
 * in place (any case), so scanning a handshake's headers makes no string per header.
 */
function lastOrigin(headers: readonly Header[]): string | null {
  let origin: Uint8Array | null = null;
  let draftOrigin: Uint8Array | null = null;
  for (let i = 0; i < headers.length; i++) {
    const header = headers[i]!;
    if (headerNameIs(header[0], 'origin', true)) origin = header[1];
    else if (headerNameIs(header[0], 'sec-websocket-origin', true)) draftOrigin = header[1];
  }
  const value = origin ?? draftOrigin;
  return value === null ? null : latin1Text(value);
}

/** Options of {@link OriginValidator}. */
export interface OriginOptions {
  /**
   * Let handshakes without any `Origin` header through (not Django's
   * behaviour, hence off by default). Browsers always send `Origin` on
   * WebSocket handshakes, so a missing header means a non-browser client
   * (a script, an app), which could send any `Origin` it liked anyway: this
   * keeps cross-site hijacking from browsers blocked while letting such
   * clients connect without pretending. Default `false`.
   */
  allowMissing?: boolean;
  /**
   * Also require the origin's port (80 or 443 by its scheme when absent) to be
   * one of these, or, with `'host'`, the port of the request's own `Host`
   * header (the port the site is served on). Cookies are not port-scoped, so
   * without this any page of another server on an allowed host
   * (`http://localhost:3000`, a dev server) could open sockets as the user.
   * Default: no port check (Django's behaviour).
   */
  ports?: readonly number[] | 'host';
}

/**
 * Refuses WebSocket handshakes whose `Origin` is not allowed (Django's `OriginValidator`).
 *
 * @example
 * ```ts
 * import type { Application } from 'switchyard';
 * import { AuthMiddlewareStack, type AuthStackOptions, OriginValidator } from 'switchyard/middleware';
 *
 * declare const router: Application;
 * declare const auth: AuthStackOptions;
 * const app = OriginValidator(AuthMiddlewareStack(router, auth), ['https://chat.example.com', '.example.org']);
 * ```
 */
export function OriginValidator(inner: Application, allowedOrigins: readonly string[], options: OriginOptions = {}): Application {
  const allowed = [...allowedOrigins];
  const patterns = new AllowedOrigins(allowed);
  const ports = options.ports === undefined || options.ports === 'host' ? options.ports : [...options.ports];
  // Not async: an allowed connection gets the inner app's own promise, so it holds no promise of this
  // middleware; and the scope is only read, so the inner app gets it as it came (no copy).
  return passThroughMiddleware(inner, function originValidator(scope, receive, send, app) {
    if (scope.type !== 'websocket') throw new TypeError('You cannot use OriginValidator on a non-WebSocket connection');
    const origin = lastOrigin(scope.headers);
    const parsed = origin === null ? null : parseOrigin(origin);
    let refusal: string | null = null;
    if (parsed === null) {
      if (!options.allowMissing && !patterns.any) refusal = 'WebSocket refused: no Origin header and "*" is not allowed';
    } else if (!patterns.allows(parsed)) {
      refusal = 'WebSocket refused: Origin not allowed';
    } else if (ports !== undefined && !patterns.any && !portAllowed(parsed, ports, scope)) {
      refusal = 'WebSocket refused: Origin port is not the served port';
    }
    if (refusal === null) return app(scope, receive, send);
    logger.warn({ origin, path: scope.path, client: scope.client?.[0] ?? null, allowed, ...(ports && { ports }) }, refusal);
    return deny(scope, receive, send);
  });
}

/** Whether the origin's effective port is in `ports`, or is the port of the request's `Host` header. */
function portAllowed(origin: ParsedOrigin, ports: readonly number[] | 'host', scope: WebsocketScope): boolean {
  const port = defaultPort(origin);
  if (port === null || Number.isNaN(port)) return false;
  if (ports !== 'host') return ports.includes(port);
  const host = getHeader(scope.headers, 'host');
  if (host === undefined) return false;
  const served = parseOrigin(`//${host}`).port ?? (scope.scheme === 'wss' ? 443 : 80);
  return port === served;
}

/** Options of {@link AllowedHostsOriginValidator}. */
export interface AllowedHostsOptions extends OriginOptions {
  /** Django's `ALLOWED_HOSTS`. Default: `ALLOWED_HOSTS` from the environment, comma-separated. */
  allowedHosts?: readonly string[];
  /**
   * Django's `DEBUG`: with no allowed hosts, allow `localhost`, `127.0.0.1` and
   * `[::1]`, on the port the site is served on only (unless `ports` says
   * otherwise). Default: `NODE_ENV !== 'production'`.
   */
  debug?: boolean;
}

/**
 * The hosts an {@link AllowedHostsOriginValidator} would allow with these options.
 *
 * @example
 * ```ts
 * import { resolveAllowedHosts } from 'switchyard/middleware';
 *
 * resolveAllowedHosts({ allowedHosts: [], debug: true }); // ['localhost', '127.0.0.1', '[::1]']
 * ```
 */
export function resolveAllowedHosts(options: AllowedHostsOptions = {}): string[] {
  const hosts = configuredHosts(options);
  const debug = options.debug ?? process.env.NODE_ENV !== 'production';
  return debug && hosts.length === 0 ? ['localhost', '127.0.0.1', '[::1]'] : hosts;
}

/** `allowedHosts`, or `ALLOWED_HOSTS` from the environment. */
function configuredHosts(options: AllowedHostsOptions): string[] {
  return options.allowedHosts !== undefined
    ? [...options.allowedHosts]
    : (process.env.ALLOWED_HOSTS ?? '').split(',').map((h) => h.trim()).filter(Boolean);
}

/**
 * An {@link OriginValidator} allowing the site's own hosts (Django's
 * `AllowedHostsOriginValidator`); the list is read once, here.
 *
 * @example
 * ```ts
 * import type { Application } from 'switchyard';
 * import { AllowedHostsOriginValidator, AuthMiddlewareStack, type AuthStackOptions } from 'switchyard/middleware';
 *
 * // ALLOWED_HOSTS=chat.example.com,.example.org
 * declare const router: Application;
 * declare const auth: AuthStackOptions;
 * const app = AllowedHostsOriginValidator(AuthMiddlewareStack(router, auth));
 * ```
 */
export function AllowedHostsOriginValidator(inner: Application, options: AllowedHostsOptions = {}): Application {
  const hosts = resolveAllowedHosts(options);
  // The development defaults are hosts we chose, not the user: they also pin the port, as
  // every other local server (and its pages) shares them. Configured hosts follow Django.
  const developmentDefaults = hosts.length > 0 && configuredHosts(options).length === 0;
  return OriginValidator(inner, hosts, developmentDefaults ? { ports: 'host', ...options } : options);
}
