/**
 * The chat's sign-in pages, as an ASGI HTTP application placed in front of
 * the pages app (`http.ts`); it must run under `AuthMiddlewareStack`, which
 * gives it `scope.session` and `scope.user`.
 *
 * - `GET /login/`: the login page (`pages/login.html`).
 * - `POST /login/` with form fields `username` and `password` (like
 *   Django's `LoginView`, so scripted clients can sign in too): on success
 *   the session cookie is set and the answer is a `302` to `next` (a local
 *   path) or `/`; on failure a browser is sent back to the form
 *   (`303 /login/?error=1`), any other client gets `401`.
 * - `POST /logout/`: signs out, `302` to `/`.
 * - `GET /whoami/`: `{"username": ..., "isAuthenticated": ...}` for the pages.
 *
 * Cross-site form posts are refused: a `POST` whose `Origin` header names
 * another host gets `403` (browsers always send `Origin` on cross-site
 * posts; scripts may omit it). Sign-in attempts are throttled per client
 * address (10 at once, then one every 6 s), against password guessing.
 */
import { readFile } from 'node:fs/promises';
import type { Application, Header, HttpScope, Receive, ReceiveEvent, Send } from 'switchyard';
import { getHeader, utf8 } from 'switchyard';
import { TokenBucket, isAuthenticated, login, logout, parseOrigin } from 'switchyard/middleware';
import type { UserStore } from './users.js';

/** Options of {@link createAuthHttpApp}. */
export interface ChatAuthOptions {
  users: UserStore;
  /** The app for every other path (the chat pages). */
  next: Application;
  /** Where login.html, login.js and login.css live. Default `./pages/`. */
  pagesDir?: URL;
}

const MAX_BODY = 8 * 1024;
const FILES: Record<string, [string, string]> = {
  '/login/': ['login.html', 'text/html; charset=utf-8'],
  '/static/login.js': ['login.js', 'text/javascript; charset=utf-8'],
  '/static/login.css': ['login.css', 'text/css; charset=utf-8'],
};

/**
 * Builds the sign-in application.
 *
 * @example
 * ```ts
 * const http = AuthMiddlewareStack(createAuthHttpApp({ users, next: chatHttpApp }), { sessions, loadUser });
 * ```
 */
export function createAuthHttpApp(options: ChatAuthOptions): Application {
  const pagesDir = options.pagesDir ?? new URL('./pages/', import.meta.url);
  const files = new Map<string, Promise<Uint8Array>>();
  const attempts = new Map<string, TokenBucket>();

  const load = (name: string): Promise<Uint8Array> => {
    let loading = files.get(name);
    if (loading === undefined) {
      loading = readFile(new URL(name, pagesDir));
      loading.catch(() => files.delete(name));
      files.set(name, loading);
    }
    return loading;
  };

  const throttled = (address: string): boolean => {
    if (attempts.size > 10_000) attempts.clear();
    let bucket = attempts.get(address);
    if (bucket === undefined) attempts.set(address, (bucket = new TokenBucket(10, 1 / 6)));
    return !bucket.take();
  };

  return async (scope, receive, send) => {
    if (scope.type !== 'http') return options.next(scope, receive, send);
    const method = scope.method.toUpperCase();
    const file = Object.hasOwn(FILES, scope.path) ? FILES[scope.path]! : null;

    if (scope.path === '/login/' && method === 'POST') {
      if (!sameOrigin(scope)) return respond(send, 403, 'Cross-site sign-in refused');
      const address = scope.client?.[0] ?? 'unknown';
      if (throttled(address)) return respond(send, 429, 'Too many sign-in attempts; wait a minute', [['retry-after', '60']]);
      const form = await readForm(scope, receive);
      if (form === null) return respond(send, 413, 'Request body too large');
      const next = safeNext(form.get('next'));
      const user = await options.users.authenticate(form.get('username') ?? '', form.get('password') ?? '');
      if (user === null) {
        if (wantsHtml(scope)) return respond(send, 303, 'See Other', [['location', `/login/?error=1&next=${encodeURIComponent(next)}`]]);
        return respond(send, 401, 'Invalid username or password');
      }
      await login(scope, user);
      return respond(send, 302, 'Found', [['location', next]]);
    }
    if (scope.path === '/logout/' && method === 'POST') {
      if (!sameOrigin(scope)) return respond(send, 403, 'Cross-site sign-out refused');
      await drain(receive);
      await logout(scope);
      return respond(send, 302, 'Found', [['location', '/']]);
    }
    if (scope.path === '/whoami/' && (method === 'GET' || method === 'HEAD')) {
      const user = scope.user;
      const body = JSON.stringify(isAuthenticated(user) ? { username: user.username, isAuthenticated: true } : { username: null, isAuthenticated: false });
      return respond(send, 200, body, [], 'application/json');
    }
    if (file !== null && (method === 'GET' || method === 'HEAD')) {
      const body = await load(file[0]);
      return respondBytes(send, 200, [...securityHeaders(), ['content-type', file[1]], ['cache-control', 'no-cache']], method === 'HEAD' ? new Uint8Array() : body);
    }
    if (scope.path === '/login/' || scope.path === '/logout/' || scope.path === '/whoami/') {
      return respond(send, 405, 'Method Not Allowed', [['allow', scope.path === '/logout/' ? 'POST' : scope.path === '/login/' ? 'GET, HEAD, POST' : 'GET, HEAD']]);
    }
    return options.next(scope, receive, send);
  };
}

/** A local path to go to after signing in; anything else (other sites, `//host`) becomes `/`. */
export function safeNext(next: string | null | undefined): string {
  return next && /^\/(?![/\\])[\x21-\x7e]*$/.test(next) ? next : '/';
}

/** False when an `Origin` header names another host than the request's `Host`. */
function sameOrigin(scope: HttpScope): boolean {
  const origin = getHeader(scope.headers, 'origin');
  if (origin === undefined) return true;
  const host = getHeader(scope.headers, 'host');
  const parsed = parseOrigin(origin);
  if (parsed.hostname === null || host === undefined) return false;
  const port = parsed.port ?? (parsed.scheme === 'https' ? 443 : 80);
  const [hostName, hostPort] = splitHost(host);
  return parsed.hostname === hostName && port === (hostPort ?? (scope.scheme === 'https' ? 443 : 80));
}

function splitHost(host: string): [string, number | null] {
  const parsed = parseOrigin(`//${host}`);
  return [parsed.hostname ?? '', parsed.port];
}

function wantsHtml(scope: HttpScope): boolean {
  return (getHeader(scope.headers, 'accept') ?? '').includes('text/html');
}

async function drain(receive: Receive): Promise<void> {
  for (;;) {
    const event = (await receive()) as ReceiveEvent;
    if (event.type !== 'http.request' || !event.more_body) return;
  }
}

/** Reads an urlencoded (or JSON) body; `null` when it is too large. */
async function readForm(scope: HttpScope, receive: Receive): Promise<URLSearchParams | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for (;;) {
    const event = (await receive()) as ReceiveEvent;
    if (event.type !== 'http.request') break;
    if (event.body) {
      size += event.body.byteLength;
      if (size > MAX_BODY) return null;
      chunks.push(Buffer.from(event.body));
    }
    if (!event.more_body) break;
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if ((getHeader(scope.headers, 'content-type') ?? '').startsWith('application/json')) {
    try {
      const data = JSON.parse(text) as Record<string, unknown>;
      return new URLSearchParams(Object.entries(data).filter(([, v]) => typeof v === 'string') as Array<[string, string]>);
    } catch {
      return new URLSearchParams();
    }
  }
  return new URLSearchParams(text);
}

function securityHeaders(): Array<[string, string]> {
  return [
    ['content-security-policy', "default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"],
    ['x-content-type-options', 'nosniff'],
    ['referrer-policy', 'same-origin'],
  ];
}

function respond(send: Send, status: number, text: string, extra: Array<[string, string]> = [], type = 'text/plain; charset=utf-8'): Promise<void> {
  const headers: Array<[string, string]> = [['content-type', type], ['cache-control', 'no-store'], ...securityHeaders(), ...extra];
  return respondBytes(send, status, headers, utf8(type.startsWith('text/plain') ? `${text}\n` : text));
}

async function respondBytes(send: Send, status: number, headers: Array<[string, string]>, body: Uint8Array): Promise<void> {
  const encoded: Header[] = [...headers, ['content-length', String(body.byteLength)]].map(([n, v]) => [utf8(n), utf8(v)]);
  await send({ type: 'http.response.start', status, headers: encoded });
  await send({ type: 'http.response.body', body });
}
