/**
 * Builds the ASGI `http` and `websocket` scopes from a Node request.
 *
 * Headers keep their order and duplicates and are lower-cased (Node hands
 * them to us as latin1 strings, so bytes round-trip). With `proxyHeaders`,
 * a trusted peer's `X-Forwarded-For` and `X-Forwarded-Proto` become
 * `scope.client` and `scope.scheme` (the rightmost untrusted hop is the
 * client, as Uvicorn does).
 */
import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';
import type { Address, Header, HttpScope, WebsocketScope } from '../asgi.js';
import type { ResolvedOptions } from './options.js';

/** What the listening side knows about itself. */
export interface ListenInfo {
  tls: boolean;
  server: Address | null;
  unixSocket: boolean;
}

/** Parsed forwarded-IP trust list: addresses and CIDR blocks, or everyone. */
export class TrustedProxies {
  readonly #all: boolean;
  readonly #list = new BlockList();

  constructor(entries: readonly string[]) {
    this.#all = entries.includes('*');
    for (const raw of entries) {
      const entry = raw.trim();
      if (entry === '' || entry === '*') continue;
      const [address, bits] = entry.split('/') as [string, string | undefined];
      const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
      if (isIP(address) === 0) throw new TypeError(`forwardedAllowIps: "${entry}" is not an IP address or CIDR block`);
      if (bits === undefined) this.#list.addAddress(address, family);
      else this.#list.addSubnet(address, Number(bits), family);
    }
  }

  /** Whether forwarded headers from this peer address are believed. */
  trusts(address: string | undefined): boolean {
    if (this.#all) return true;
    if (address === undefined) return false;
    const plain = unmapped(address);
    return this.#list.check(plain, isIP(plain) === 6 ? 'ipv6' : 'ipv4');
  }
}

/** `::ffff:1.2.3.4` → `1.2.3.4`. */
function unmapped(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

const EMPTY = new Uint8Array(0);
/** Shared by every scope: the ASGI version block never differs between connections. */
const ASGI_VERSION = Object.freeze({ version: '3.0', spec_version: '2.4' } as const);

/**
 * Header pairs seen before, shared between scopes. Most of a connection's
 * headers repeat from client to client (`host`, `upgrade`, `origin`,
 * `user-agent`, `accept-*`...), and a Buffer costs about 100 bytes of heap,
 * so an idle WebSocket would otherwise hold a kilobyte or two of copies.
 * Pairs are frozen and their bytes must not be changed in place (ASGI bytes
 * are immutable). Values that differ per request are never cached; a
 * cache is emptied when full, so made-up values cannot grow it.
 */
const sharedPairs = new Map<string, Header>();
const SHARED_PAIRS_MAX = 1024;
const SHARED_VALUE_MAX = 256;
const UNIQUE_PER_REQUEST = new Set([
  'sec-websocket-key', 'cookie', 'authorization', 'proxy-authorization', 'content-length',
  'x-request-id', 'x-forwarded-for', 'x-real-ip', 'forwarded', 'if-none-match', 'if-modified-since', 'referer',
]);

function headerPair(name: string, value: string): Header {
  if (value.length > SHARED_VALUE_MAX || UNIQUE_PER_REQUEST.has(name)) return [sharedBytes(name), Buffer.from(value, 'latin1')];
  const key = `${name}:${value}`;
  let pair = sharedPairs.get(key);
  if (pair === undefined) {
    if (sharedPairs.size >= SHARED_PAIRS_MAX) sharedPairs.clear();
    pair = Object.freeze([sharedBytes(name), Buffer.from(value, 'latin1')]) as unknown as Header;
    sharedPairs.set(key, pair);
  }
  return pair;
}

/** Byte strings that repeat between scopes (header names, paths), shared the same way. */
const sharedStrings = new Map<string, Buffer>();

function sharedBytes(text: string): Buffer {
  if (text.length > SHARED_VALUE_MAX) return Buffer.from(text, 'latin1');
  let bytes = sharedStrings.get(text);
  if (bytes === undefined) {
    if (sharedStrings.size >= SHARED_PAIRS_MAX) sharedStrings.clear();
    bytes = Buffer.from(text, 'latin1');
    sharedStrings.set(text, bytes);
  }
  return bytes;
}

/** Lower-cased `[name, value]` byte pairs, order and duplicates kept. */
export function headersOf(req: IncomingMessage): Header[] {
  const raw = req.rawHeaders;
  const headers: Header[] = new Array(raw.length / 2);
  for (let i = 0, j = 0; i < raw.length; i += 2, j++) headers[j] = headerPair(raw[i]!.toLowerCase(), raw[i + 1]!);
  return headers;
}

function decodePath(raw: string): string {
  if (!raw.includes('%')) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    // Malformed escapes: decode what can be decoded, keep the rest as sent.
    return raw.replace(/(%[0-9a-fA-F]{2})+/g, (run) => {
      try { return decodeURIComponent(run); } catch { return run; }
    });
  }
}

function splitTarget(url: string): { rawPath: string; query: string } {
  let target = url;
  if (!target.startsWith('/')) {
    // Absolute-form (`GET http://host/path`) or `*`.
    try {
      const parsed = new URL(target);
      target = parsed.pathname + parsed.search;
    } catch {
      target = '/';
    }
  }
  const q = target.indexOf('?');
  return q === -1 ? { rawPath: target, query: '' } : { rawPath: target.slice(0, q), query: target.slice(q + 1) };
}

interface Common {
  http_version: '1.0' | '1.1' | '2';
  path: string;
  raw_path: Uint8Array;
  query_string: Uint8Array;
  root_path: string;
  headers: Header[];
  client: Address | null;
  server: Address | null;
  secure: boolean;
}

function common(req: IncomingMessage, listen: ListenInfo, options: ResolvedOptions, trusted: TrustedProxies): Common {
  const { rawPath, query } = splitTarget(req.url ?? '/');
  const peer = req.socket.remoteAddress;
  let client: Address | null = listen.unixSocket || peer === undefined ? null : [unmapped(peer), req.socket.remotePort ?? null];
  let secure = listen.tls;
  if (options.proxyHeaders && (listen.unixSocket || trusted.trusts(peer))) {
    const proto = req.headers['x-forwarded-proto'];
    if (typeof proto === 'string' && proto !== '') {
      const first = proto.split(',')[0]!.trim().toLowerCase();
      secure = first === 'https' || first === 'wss';
    }
    const forwarded = req.headers['x-forwarded-for'];
    if (typeof forwarded === 'string' && forwarded !== '') {
      const hops = forwarded.split(',').map((h) => h.trim()).filter((h) => h !== '');
      // The rightmost hop our trusted proxies did not add is the real client.
      let host = hops[0];
      for (let i = hops.length - 1; i >= 0; i--) {
        host = hops[i];
        if (!trusted.trusts(hops[i])) break;
      }
      if (host !== undefined) client = [host, 0];
    }
  }
  return {
    http_version: req.httpVersion === '1.0' ? '1.0' : '1.1',
    path: decodePath(rawPath),
    raw_path: sharedBytes(rawPath),
    query_string: query === '' ? EMPTY : Buffer.from(query, 'latin1'),
    root_path: options.rootPath,
    headers: headersOf(req),
    client,
    server: listen.server,
    secure,
  };
}

/**
 * The ASGI extensions each scope type offers (frozen and shared: apps only read them).
 *
 * `websocket.send.shared_frames` says that this server frames a
 * `websocket.send` text equal to the last one it framed only once, and writes
 * the same bytes to every socket it goes to (connections without
 * permessage-deflate; see websocket.ts and frames.ts). An app that sends one
 * event to many connections (a group broadcast) costs one encoding if every
 * connection gets the same string. Nothing to call: the extension only
 * announces the behaviour, so an app can know it is there.
 */
const HTTP_EXTENSIONS = Object.freeze({ 'http.response.trailers': Object.freeze({}) });
const WEBSOCKET_EXTENSIONS = Object.freeze({
  'websocket.http.response': Object.freeze({}),
  'websocket.send.shared_frames': Object.freeze({}),
});

/** The `http` scope of a request. */
export function httpScope(
  req: IncomingMessage, listen: ListenInfo, options: ResolvedOptions, trusted: TrustedProxies, state: Record<string, unknown> | undefined,
): HttpScope {
  const c = common(req, listen, options, trusted);
  const scope: HttpScope = {
    type: 'http',
    asgi: ASGI_VERSION,
    http_version: c.http_version,
    method: (req.method ?? 'GET').toUpperCase(),
    scheme: c.secure ? 'https' : 'http',
    path: c.path,
    raw_path: c.raw_path,
    query_string: c.query_string,
    root_path: c.root_path,
    headers: c.headers,
    client: c.client,
    server: c.server,
    extensions: HTTP_EXTENSIONS,
  };
  if (state !== undefined) scope.state = { ...state };
  return scope;
}

/** Shared by scopes whose client offered no subprotocol. */
const NO_SUBPROTOCOLS: string[] = Object.freeze([]) as unknown as string[];

/** The `websocket` scope of an upgrade request. */
export function websocketScope(
  req: IncomingMessage, listen: ListenInfo, options: ResolvedOptions, trusted: TrustedProxies, state: Record<string, unknown> | undefined,
): WebsocketScope {
  const c = common(req, listen, options, trusted);
  const header = req.headers['sec-websocket-protocol'];
  const subprotocols = typeof header === 'string' ? header.split(',').map((p) => p.trim()).filter((p) => p !== '') : NO_SUBPROTOCOLS;
  // One literal with every key (no spread): the scope is a fast object with all its fields in place.
  const scope: WebsocketScope = {
    type: 'websocket',
    asgi: ASGI_VERSION,
    http_version: c.http_version,
    scheme: c.secure ? 'wss' : 'ws',
    path: c.path,
    raw_path: c.raw_path,
    query_string: c.query_string,
    root_path: c.root_path,
    headers: c.headers,
    client: c.client,
    server: c.server,
    subprotocols,
    extensions: WEBSOCKET_EXTENSIONS,
  };
  if (state !== undefined) scope.state = { ...state };
  return scope;
}
