/**
 * The chat room's ASGI application, as the tutorial's `asgi.py`: pages and
 * sign-in over HTTP, the chat consumer over WebSocket, both behind
 * `AuthMiddlewareStack` sharing one session store, so signing in on the
 * login page signs the room's WebSocket in too.
 *
 * WebSocket stack, outermost first: abuse limits, origin check
 * (`AllowedHostsOriginValidator`; handshakes with no `Origin` at all, which
 * only non-browser clients make, are let through), cookies + session + user,
 * then the URL router.
 *
 * Environment:
 * - `CHAT_SECRET_KEYS`: comma-separated session signing secrets, the first
 *   signs (required when `NODE_ENV=production`; a fixed development secret
 *   otherwise, with a warning).
 * - `CHAT_SESSION_STORE`: `memory`, `cookie` (signed cookies, nothing on the
 *   server) or a `redis://` URL. Default: the Redis of `CHANNEL_LAYER_URL`
 *   when that is Redis (several processes must share sessions), else memory.
 * - `CHAT_SECURE_COOKIE=1`: mark the session cookie `Secure` (HTTPS only); set it
 *   whenever the chat is served over HTTPS, as it should be in production.
 * - `CHAT_USERS_FILE`: the user store (default `examples/chat/users.json`).
 * - `ALLOWED_HOSTS`: comma-separated hosts allowed as WebSocket origins
 *   (default, outside production: localhost, 127.0.0.1, [::1], on the port
 *   the page was served from).
 * - `CHANNEL_LAYER_URL`: the layer (default `memory://?groupHistory=chat_*`).
 *   With `groupHistory=chat_*` the rooms' groups keep a history, so a page
 *   that reconnects gets what it missed (`docs/recovery.md`); a URL without
 *   it gets a warning at startup (the pages then only reconnect).
 * - `CHAT_RATE` / `CHAT_BURST`: messages per second and burst per
 *   connection (default 10 / 20); `CHAT_MAX_CONNECTIONS_PER_ADDRESS`
 *   (default 0: no limit).
 */
import { ProtocolTypeRouter, URLRouter, logger, rePath } from 'switchyard';
import {
  AllowedHostsOriginValidator, AuthMiddlewareStack, LimitsMiddleware, MemorySessionStore, RedisSessionStore,
  SessionManager, SignedCookieSessionStore, type SessionStore,
} from 'switchyard/middleware';
import { admin } from './admin.js';
import { createAuthHttpApp } from './auth.js';
import { ChatConsumer } from './consumers.js';
import { chatHttpApp } from './http.js';
import { AnonymousNames } from './names.js';
import { websocketUrlPatterns } from './routing.js';
import { UserStore } from './users.js';

/** The rooms' groups keep a history unless the layer URL was set without one. */
export const ROOM_HISTORY_LAYER = 'memory://?groupHistory=chat_*';
process.env.CHANNEL_LAYER_URL ||= ROOM_HISTORY_LAYER;
if (!/[?&]groupHistory=/.test(process.env.CHANNEL_LAYER_URL)) {
  logger.warn('CHANNEL_LAYER_URL has no groupHistory: rooms keep no history, so a page that reconnects misses what was said meanwhile (add groupHistory=chat_*)');
}

const DEV_SECRET = 'switchyard-chat-development-secret-do-not-use-in-production';

function secrets(): string[] {
  const configured = (process.env.CHAT_SECRET_KEYS ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (configured.length > 0) return configured;
  if (process.env.NODE_ENV === 'production') throw new Error('Set CHAT_SECRET_KEYS: sessions cannot be signed with the development secret in production');
  if (process.env.NODE_ENV !== 'test') logger.warn('CHAT_SECRET_KEYS is not set: using the development secret');
  return [DEV_SECRET];
}

function sessionStore(): SessionStore {
  const setting = process.env.CHAT_SESSION_STORE ?? '';
  if (setting === 'memory') return new MemorySessionStore();
  if (setting === 'cookie') return new SignedCookieSessionStore();
  const layerUrl = process.env.CHANNEL_LAYER_URL ?? '';
  const redisUrl = /^rediss?:/.test(setting) ? setting : /^rediss?(\+pubsub)?:/.test(layerUrl) ? layerUrl.replace('+pubsub', '') : null;
  if (redisUrl === null) return new MemorySessionStore();
  const url = new URL(redisUrl);
  const prefix = `${url.searchParams.get('prefix') ?? 'asgi'}:chat-session:`;
  url.search = '';
  return new RedisSessionStore({ url: url.toString(), prefix, redisOptions: { lazyConnect: true } });
}

const numberFromEnv = (name: string, fallback: number) => {
  const value = Number(process.env[name] ?? '');
  return process.env[name] !== undefined && Number.isFinite(value) && value >= 0 ? value : fallback;
};

/** The registered users. */
export const users = new UserStore();
/** One session store and cookie for HTTP and WebSocket. */
export const sessions = new SessionManager({ secrets: secrets(), store: sessionStore(), secure: process.env.CHAT_SECURE_COOKIE === '1' });
const loadUser = (id: string) => users.byId(id);

ChatConsumer.anonymousNames = new AnonymousNames({ isRegistered: (name) => users.has(name) });

export const application = ProtocolTypeRouter({
  http: AuthMiddlewareStack(createAuthHttpApp({
    users,
    // The realtime dashboard at /admin/realtime/ when ADMIN_TOKEN is set (admin.ts).
    next: admin === null ? chatHttpApp : URLRouter([admin.routes.http, rePath('', chatHttpApp)]),
  }), { sessions, loadUser }),
  websocket: LimitsMiddleware(
    AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocketUrlPatterns), { sessions, loadUser }), { allowMissing: true }),
    {
      messagesPerSecond: numberFromEnv('CHAT_RATE', 10),
      burst: numberFromEnv('CHAT_BURST', 20),
      maxConnectionsPerAddress: numberFromEnv('CHAT_MAX_CONNECTIONS_PER_ADDRESS', 0),
    },
  ),
});
