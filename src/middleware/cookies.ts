/**
 * `CookieMiddleware` and the `setCookie` / `deleteCookie` helpers, with
 * Django's exact parsing and output.
 *
 * How it works. The middleware reads the **first** `cookie` header of the
 * scope (latin-1), parses it as Django's `parse_cookie` does (chunks split
 * on `;`, a chunk without `=` is a value with an empty name, surrounding
 * quotes removed with Python's unquoting, the last duplicate wins) into a
 * null-prototype object (so a cookie named `__proto__` is just a cookie) and
 * passes `scope.cookies` on. `setCookie` appends a `Set-Cookie` header to an
 * `http.response.start` message with the bytes Python's `SimpleCookie`
 * writes: attributes in alphabetical order (`expires`, `Domain`,
 * `HttpOnly`, `Max-Age`, `Path`, `SameSite`, `Secure`), values quoted when
 * they hold characters outside the cookie-safe set.
 */
import type { Application, Header, HttpResponseStartEvent } from '../asgi.js';
import { utf8 } from '../asgi.js';
import { headerNameIs, latin1Text, middleware } from './base.js';

/** Parsed cookies: name → value (a null-prototype object). */
export type Cookies = Record<string, string>;

/** Python's `http.cookies._unquote`: strips surrounding quotes and undoes `\ooo` and `\c` escapes. */
function unquote(value: string): string {
  if (value.length < 2 || value[0] !== '"' || value[value.length - 1] !== '"') return value;
  return value.slice(1, -1).replace(/\\(?:([0-3][0-7][0-7])|(.))/g, (_m, octal: string | undefined, char: string | undefined) =>
    octal !== undefined ? String.fromCharCode(Number.parseInt(octal, 8)) : char!);
}

/**
 * An empty cookie map with no prototype. `Object.create(null)` makes a
 * dictionary-mode object (about 180 bytes, kept by every connection's
 * scope); a `{}` whose prototype is then set to null stays a fast object
 * (about 60 bytes) with the same behaviour.
 */
function noCookies(): Cookies {
  return Object.setPrototypeOf({}, null) as Cookies;
}

/** What a request without a `Cookie` header gets: one frozen empty map, shared, instead of one per connection. */
const NO_COOKIES: Cookies = Object.freeze(noCookies());

/**
 * Parses a `Cookie` header value as Django's `parse_cookie`.
 *
 * @example
 * ```ts
 * import { parseCookie } from 'switchyard/middleware';
 *
 * parseCookie('sessionid=abc; theme="dark"'); // { sessionid: 'abc', theme: 'dark' }
 * ```
 */
export function parseCookie(header: string): Cookies {
  const cookies = noCookies();
  for (const chunk of header.split(';')) {
    const eq = chunk.indexOf('=');
    const key = (eq === -1 ? '' : chunk.slice(0, eq)).trim();
    const value = (eq === -1 ? chunk : chunk.slice(eq + 1)).trim();
    if (key !== '' || value !== '') cookies[key] = unquote(value);
  }
  return cookies;
}

/**
 * Adds `scope.cookies` (Django's `CookieMiddleware`). A scope without
 * `headers` is a `TypeError`, as Django's `ValueError`.
 *
 * @example
 * ```ts
 * import { type Route, URLRouter } from 'switchyard';
 * import { CookieMiddleware } from 'switchyard/middleware';
 *
 * declare const routes: Route[];
 * const app = CookieMiddleware(URLRouter(routes));
 * // in a consumer: this.scope.cookies?.theme
 * ```
 */
export function CookieMiddleware(inner: Application): Application {
  return middleware(inner, function cookieMiddleware(scope, receive, send, app) {
    if (!Array.isArray(scope.headers)) {
      throw new TypeError("No headers in scope. Note that this middleware only works with 'http' and 'websocket' scopes.");
    }
    let cookies = NO_COOKIES;
    const headers = scope.headers as Header[];
    for (let i = 0; i < headers.length; i++) {
      const header = headers[i]!;
      if (headerNameIs(header[0], 'cookie')) {
        cookies = parseCookie(latin1Text(header[1]));
        break;
      }
    }
    scope.cookies = cookies;
    return app(scope, receive, send);
  });
}

/** Options of {@link setCookie}, with Django's defaults. */
export interface SetCookieOptions {
  /** Seconds; also sets `expires` when that is not given. Default none (a browser-session cookie). */
  maxAge?: number | null;
  /** An HTTP date string, or a `Date` (turned into `Max-Age`, as Django does with a datetime). Default none. */
  expires?: string | Date | null;
  /** Default `/`. */
  path?: string | null;
  domain?: string | null;
  secure?: boolean;
  httpOnly?: boolean;
  /** `strict`, `lax` or `none` in any case. Default `lax`. */
  sameSite?: string | null;
}

// Python's http.cookies._LegalChars.
const LEGAL = /^[A-Za-z0-9!#$%&'*+\-.^_`|~:]+$/;

// Python's _UnescapedChars: the legal set plus ' ()/<=>?@[]{}'.
const UNESCAPED = /^[A-Za-z0-9!#$%&'*+\-.^_`|~: ()/<=>?@[\]{}]$/;

/** Python's `http.cookies._quote`. */
function quote(value: string): string {
  if (LEGAL.test(value)) return value;
  let out = '';
  for (const char of value) {
    const code = char.codePointAt(0)!;
    if (char === '"' || char === '\\') out += `\\${char}`;
    else if (code <= 0xff && !UNESCAPED.test(char)) out += `\\${code.toString(8).padStart(3, '0')}`;
    else out += char;
  }
  return `"${out}"`;
}

/**
 * An HTTP date (`Wdy, DD Mon YYYY HH:MM:SS GMT`), as Django's `http_date`.
 *
 * @example
 * ```ts
 * import { httpDate } from 'switchyard/middleware';
 *
 * httpDate(0); // 'Thu, 01 Jan 1970 00:00:00 GMT'
 * ```
 */
export function httpDate(epochSeconds: number): string {
  return new Date(Math.floor(epochSeconds) * 1000).toUTCString();
}

/**
 * The `Set-Cookie` value Django (Python's `SimpleCookie`) writes for these arguments.
 *
 * @example
 * ```ts
 * import { formatSetCookie } from 'switchyard/middleware';
 *
 * formatSetCookie('theme', 'dark', { maxAge: 60 }); // 'theme=dark; expires=…; Max-Age=60; Path=/; SameSite=lax'
 * ```
 */
export function formatSetCookie(key: string, value = '', options: SetCookieOptions = {}): string {
  let { maxAge = null, expires = null } = options;
  const { path = '/', domain = null, secure = false, httpOnly = false, sameSite = 'lax' } = options;
  if (sameSite !== null && !['strict', 'lax', 'none'].includes(sameSite.toLowerCase())) {
    throw new TypeError("samesite must be either 'strict', 'lax' or 'none'");
  }
  let expiresText = '';
  if (expires instanceof Date) {
    // Django: a datetime becomes a Max-Age (rounded up by one second), and an expires from it.
    maxAge = Math.max(0, Math.floor((expires.getTime() - Date.now()) / 1000) + 1);
    expires = null;
  } else if (expires !== null) {
    expiresText = expires;
  }
  if (maxAge !== null && !expiresText) expiresText = httpDate(Date.now() / 1000 + maxAge);
  const parts = [`${key}=${quote(value)}`];
  if (expiresText) parts.push(`expires=${expiresText}`);
  if (domain) parts.push(`Domain=${domain}`);
  if (httpOnly) parts.push('HttpOnly');
  if (maxAge !== null) parts.push(`Max-Age=${Math.trunc(maxAge)}`);
  if (path) parts.push(`Path=${path}`);
  if (sameSite) parts.push(`SameSite=${sameSite}`);
  if (secure) parts.push('Secure');
  return parts.join('; ');
}

/** An `http.response.start` message (or any object with optional `headers`). */
export type CookieMessage = Pick<HttpResponseStartEvent, 'headers'>;

/**
 * Appends a `Set-Cookie` header to `message.headers` (Django's `CookieMiddleware.set_cookie`).
 *
 * @example
 * ```ts
 * import { setCookie } from 'switchyard/middleware';
 *
 * const start = { type: 'http.response.start', status: 200, headers: [] };
 * setCookie(start, 'Testing-Key', 'testing-value');
 * // headers: [[b'Set-Cookie', b'Testing-Key=testing-value; Path=/; SameSite=lax']]
 * ```
 */
export function setCookie(message: CookieMessage, key: string, value = '', options: SetCookieOptions = {}): void {
  const header: Header = [utf8('Set-Cookie'), utf8(formatSetCookie(key, value, options))];
  (message.headers ??= []).push(header);
}

/**
 * Appends a `Set-Cookie` that deletes `key` (empty value, `Max-Age=0`, expired in 1970).
 *
 * @example
 * ```ts
 * import type { HttpResponseStartEvent } from 'switchyard';
 * import { deleteCookie } from 'switchyard/middleware';
 *
 * const start: HttpResponseStartEvent = { type: 'http.response.start', status: 200, headers: [] };
 * deleteCookie(start, 'sessionid');
 * ```
 */
export function deleteCookie(message: CookieMessage, key: string, options: { path?: string; domain?: string | null } = {}): void {
  setCookie(message, key, '', {
    maxAge: 0,
    path: options.path ?? '/',
    domain: options.domain ?? null,
    expires: 'Thu, 01-Jan-1970 00:00:00 GMT',
  });
}
