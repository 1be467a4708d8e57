/**
 * The chat's HTTP side, as an ASGI application: the tutorial's two views
 * (`GET /` picks a room, `GET /chat/<room_name>/` is the room) and the static
 * files the pages need.
 *
 * How it works: every file is loaded once, on first request, and kept in
 * memory with its ETag; the browser revalidates (`Cache-Control: no-cache`)
 * and gets a 304 while nothing changed. The browser client is bundled from
 * `src/client/index.ts` with esbuild, in memory, the first time
 * `/static/switchyard-client.js` is asked for (so the demo needs no build
 * step); without esbuild (a production install), the prebuilt
 * `dist/client/switchyard-client.js` from `scripts/build-client.mjs` is served.
 *
 * @example
 * ```ts
 * import { ProtocolTypeRouter } from 'switchyard';
 * import { chatHttpApp } from './http.js';
 *
 * export const application = new ProtocolTypeRouter({ http: chatHttpApp, websocket: ... });
 * ```
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Application, Header, HttpScope, Send } from 'switchyard';
import { getHeader, utf8 } from 'switchyard';
import { ROOM_NAME, roomGroupName } from './rooms.js';

/** Room names the chat accepts: the WebSocket route's `\w+`, in Python's (Unicode) meaning. */
export { ROOM_NAME } from './rooms.js';

interface Asset {
  body: Uint8Array;
  contentType: string;
  etag: string;
}

export interface ChatHttpOptions {
  /** Where index.html, room.html, chat.css, room.js and index.js live. Default: `./pages/` next to this file. */
  pagesDir?: URL;
  /** The client's entry point, bundled for `/static/switchyard-client.js`. Default: `src/client/index.ts`. */
  clientEntry?: URL;
  /** The prebuilt bundle served when esbuild is not installed. Default: `dist/client/switchyard-client.js`. */
  prebuiltClient?: URL;
}

const HTML = 'text/html; charset=utf-8';
const CSS = 'text/css; charset=utf-8';
const JS = 'text/javascript; charset=utf-8';

/** The only files under /static/: a fixed list, so no path from a request ever reaches the file system. */
const STATIC_FILES: Record<string, string> = {
  'chat.css': CSS,
  'room.js': JS,
  'index.js': JS,
  'switchyard-client.js': JS,
  'switchyard-fallback.js': JS,
  'favicon.svg': 'image/svg+xml',
};

/** A Host header we are willing to copy into the CSP: a host name or IP literal, and a port. */
const SAFE_HOST = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/**
 * Builds the chat's HTTP application.
 *
 * @example
 * ```ts
 * const http = createChatHttpApp({ pagesDir: new URL('./my-pages/', import.meta.url) });
 * ```
 */
export function createChatHttpApp(options: ChatHttpOptions = {}): Application {
  const pagesDir = options.pagesDir ?? new URL('./pages/', import.meta.url);
  const clientEntry = options.clientEntry ?? new URL('../../src/client/index.ts', import.meta.url);
  const prebuiltClient = options.prebuiltClient ?? new URL('../../dist/client/switchyard-client.js', import.meta.url);
  const cache = new Map<string, Promise<Asset>>();

  function asset(name: string, contentType: string): Promise<Asset> {
    let loading = cache.get(name);
    if (!loading) {
      const bytes = name === 'switchyard-client.js' ? bundleClient(clientEntry, prebuiltClient)
        : name === 'switchyard-fallback.js' ? bundleClient(new URL('fallback-index.ts', clientEntry), new URL('switchyard-fallback.js', prebuiltClient))
          : readFile(new URL(name, pagesDir));
      loading = bytes.then((body) => ({ body, contentType, etag: etagOf(body) }));
      // A failed load is not cached: the next request tries again.
      loading.catch(() => cache.delete(name));
      cache.set(name, loading);
    }
    return loading;
  }

  return async (scope, _receive, send) => {
    if (scope.type !== 'http') throw new Error(`The chat HTTP app got a '${scope.type}' scope; route only 'http' to it`);
    const method = scope.method.toUpperCase();
    if (method !== 'GET' && method !== 'HEAD') {
      return respondText(send, 405, 'Method Not Allowed', [['allow', 'GET, HEAD']]);
    }
    const file = route(scope.path);
    if (file === null) return respondText(send, 404, 'Not Found');
    if ('redirect' in file) return respondText(send, 301, 'Moved Permanently', [['location', file.redirect]]);
    let loaded: Asset;
    try {
      loaded = await asset(file.name, file.contentType);
    } catch (error) {
      console.error(`chat: cannot load ${file.name}:`, error);
      return respondText(send, 500, 'Internal Server Error');
    }
    const headers = securityHeaders(scope);
    headers.push(['cache-control', 'no-cache'], ['etag', loaded.etag]);
    if (getHeader(scope.headers, 'if-none-match') === loaded.etag) {
      return respond(send, 304, headers, new Uint8Array(0));
    }
    headers.push(['content-type', loaded.contentType], ['content-length', String(loaded.body.length)]);
    return respond(send, 200, headers, method === 'HEAD' ? new Uint8Array(0) : loaded.body);
  };
}

/** The chat's HTTP application with the default files. */
export const chatHttpApp: Application = createChatHttpApp();

type Route = { name: string; contentType: string } | { redirect: string } | null;

function route(path: string): Route {
  if (path === '/') return { name: 'index.html', contentType: HTML };
  const room = /^\/chat\/([^/]+)(\/?)$/.exec(path);
  if (room) {
    if (!ROOM_NAME.test(room[1]!) || roomGroupName(room[1]!) === null) return null;
    // As Django's APPEND_SLASH: /chat/lobby leads to /chat/lobby/ (percent-encoded: a Location header is ASCII).
    return room[2] ? { name: 'room.html', contentType: HTML } : { redirect: `/chat/${encodeURIComponent(room[1]!)}/` };
  }
  if (path.startsWith('/static/')) {
    const name = path.slice('/static/'.length);
    const contentType = Object.hasOwn(STATIC_FILES, name) ? STATIC_FILES[name] : undefined;
    return contentType ? { name, contentType } : null;
  }
  return null;
}

function securityHeaders(scope: HttpScope): [string, string][] {
  const host = getHeader(scope.headers, 'host');
  // 'self' covers same-origin ws: and wss: in current browsers; naming them helps older ones.
  const sockets = host && SAFE_HOST.test(host) ? ` ws://${host} wss://${host}` : '';
  return [
    [
      'content-security-policy',
      "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
        `connect-src 'self'${sockets}; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'`,
    ],
    ['x-content-type-options', 'nosniff'],
    ['referrer-policy', 'same-origin'],
  ];
}

function respondText(send: Send, status: number, text: string, extra: [string, string][] = []): Promise<void> {
  const body = utf8(`${text}\n`);
  return respond(send, status, [
    ['content-type', 'text/plain; charset=utf-8'],
    ['content-length', String(body.length)],
    ['x-content-type-options', 'nosniff'],
    ['cache-control', 'no-store'],
    ...extra,
  ], body);
}

async function respond(send: Send, status: number, headers: [string, string][], body: Uint8Array): Promise<void> {
  const encoded: Header[] = headers.map(([name, value]) => [utf8(name), utf8(value)]);
  await send({ type: 'http.response.start', status, headers: encoded });
  await send({ type: 'http.response.body', body });
}

function etagOf(body: Uint8Array): string {
  return `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
}

/** Bundles the browser client in memory, with the options of scripts/build-client.mjs. */
async function bundleClient(entry: URL, prebuilt: URL): Promise<Uint8Array> {
  let esbuild: typeof import('esbuild');
  try {
    esbuild = await import('esbuild');
  } catch {
    return readFile(prebuilt);
  }
  const result = await esbuild.build({
    entryPoints: [fileURLToPath(entry)],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    write: false,
    logLevel: 'silent',
  });
  return result.outputFiles[0]!.contents;
}
