/**
 * The ASGI 3.0 contract in TypeScript.
 *
 * A server turns each connection into a *scope* (what the connection is) and a
 * stream of *events*; an {@link Application} reads events with `receive()` and
 * answers with `send()`. Type strings and field meanings are the ASGI spec's
 * (`websocket.accept`, `http.response.body`, ...). Bytes are `Uint8Array`
 * (a Node `Buffer` is one), text is `string`. Fields the spec does not have are
 * camelCase (`urlRoute`, `pathRemaining`).
 *
 * Scopes and events are discriminated unions, so `switch (event.type)` narrows.
 *
 * @example
 * ```ts
 * import { type Application } from 'switchyard';
 *
 * const app: Application = async (scope, receive, send) => {
 *   if (scope.type !== 'websocket') return;
 *   await receive();                              // websocket.connect
 *   await send({ type: 'websocket.accept' });
 *   for (;;) {
 *     const event = await receive();
 *     if (event.type === 'websocket.disconnect') return;
 *     if (event.type === 'websocket.receive') await send({ type: 'websocket.send', text: String(event.text ?? '') });
 *   }
 * };
 * ```
 */

/** A header as the spec has it: lower-case name and value, both bytes. */
export type Header = [name: Uint8Array, value: Uint8Array];

/** Where a connection comes from or arrives at: `[host, port]`, or `[path, null]` for a Unix socket. */
export type Address = [host: string, port: number | null];

/** What a {@link URLRouter} matched: positional and named captures, converters applied. */
export interface URLRoute {
  args: unknown[];
  kwargs: Record<string, unknown>;
}

/** Fields shared by the `http` and `websocket` scopes. */
export interface ConnectionScopeBase {
  asgi: { version: '3.0'; spec_version?: string };
  http_version: '1.0' | '1.1' | '2';
  scheme: string;
  /** Percent-decoded path. */
  path: string;
  raw_path?: Uint8Array;
  /** Still percent-encoded, without the `?`. */
  query_string: Uint8Array;
  root_path: string;
  headers: Header[];
  client?: Address | null;
  server?: Address | null;
  /** Copied from the lifespan scope's `state` into every connection scope. */
  state?: Record<string, unknown>;
  /** ASGI extensions the server supports, by name (their values are their options). */
  extensions?: Record<string, Record<string, unknown>>;
  /** Set by routers: what the URL pattern captured. */
  urlRoute?: URLRoute;
  /** Set by routers: the part of the path a nested router still has to match. */
  pathRemaining?: string;
  /** Set by `CookieMiddleware`. */
  cookies?: Record<string, string>;
  /** Set by `SessionMiddleware`. */
  session?: unknown;
  /** Set by `AuthMiddleware`. */
  user?: unknown;
  [extension: string]: unknown;
}

export interface HttpScope extends ConnectionScopeBase {
  type: 'http';
  method: string;
}

export interface WebsocketScope extends ConnectionScopeBase {
  type: 'websocket';
  subprotocols: string[];
}

export interface LifespanScope {
  type: 'lifespan';
  asgi: { version: '3.0'; spec_version?: string };
  state?: Record<string, unknown>;
  urlRoute?: never;
  [extension: string]: unknown;
}

/** The scope a worker gives a `ChannelNameRouter` app: one per channel it listens on. */
export interface ChannelScope {
  type: 'channel';
  channel: string;
  urlRoute?: never;
  [extension: string]: unknown;
}

export type Scope = HttpScope | WebsocketScope | LifespanScope | ChannelScope;

// ---- HTTP events -------------------------------------------------------

export interface HttpRequestEvent { type: 'http.request'; body?: Uint8Array; more_body?: boolean }
export interface HttpDisconnectEvent { type: 'http.disconnect' }
export interface HttpResponseStartEvent { type: 'http.response.start'; status: number; headers?: Header[]; trailers?: boolean }
export interface HttpResponseBodyEvent { type: 'http.response.body'; body?: Uint8Array; more_body?: boolean }
/** Trailers extension (`http.response.trailers` in `scope.extensions`): after the body of a response started with `trailers: true`. */
export interface HttpResponseTrailersEvent { type: 'http.response.trailers'; headers?: Header[]; more_trailers?: boolean }

// ---- WebSocket events ----------------------------------------------------

export interface WebsocketConnectEvent { type: 'websocket.connect' }
export interface WebsocketAcceptEvent { type: 'websocket.accept'; subprotocol?: string | null; headers?: Header[] }
/** Exactly one of `text` and `bytes` is set; the other may be absent or `null`. */
export interface WebsocketReceiveEvent { type: 'websocket.receive'; text?: string | null; bytes?: Uint8Array | null }
export interface WebsocketSendEvent {
  type: 'websocket.send';
  text?: string | null;
  bytes?: Uint8Array | null;
}
export interface WebsocketCloseEvent { type: 'websocket.close'; code?: number; reason?: string }
export interface WebsocketDisconnectEvent { type: 'websocket.disconnect'; code: number; reason?: string }
/**
 * Denial response extension (`websocket.http.response` in `scope.extensions`):
 * instead of accepting, answer the handshake with an HTTP response of the app's own.
 */
export interface WebsocketHttpResponseStartEvent { type: 'websocket.http.response.start'; status: number; headers?: Header[] }
export interface WebsocketHttpResponseBodyEvent { type: 'websocket.http.response.body'; body?: Uint8Array; more_body?: boolean }

// ---- Lifespan events ------------------------------------------------------

export interface LifespanStartupEvent { type: 'lifespan.startup' }
export interface LifespanShutdownEvent { type: 'lifespan.shutdown' }
export interface LifespanStartupCompleteEvent { type: 'lifespan.startup.complete' }
export interface LifespanStartupFailedEvent { type: 'lifespan.startup.failed'; message?: string }
export interface LifespanShutdownCompleteEvent { type: 'lifespan.shutdown.complete' }
export interface LifespanShutdownFailedEvent { type: 'lifespan.shutdown.failed'; message?: string }

/** Events a server delivers to an application through `receive()`. */
export type ReceiveEvent =
  | HttpRequestEvent | HttpDisconnectEvent
  | WebsocketConnectEvent | WebsocketReceiveEvent | WebsocketDisconnectEvent
  | LifespanStartupEvent | LifespanShutdownEvent;

/** Events an application gives the server through `send()`. */
export type SendEvent =
  | HttpResponseStartEvent | HttpResponseBodyEvent | HttpResponseTrailersEvent
  | WebsocketAcceptEvent | WebsocketSendEvent | WebsocketCloseEvent
  | WebsocketHttpResponseStartEvent | WebsocketHttpResponseBodyEvent
  | LifespanStartupCompleteEvent | LifespanStartupFailedEvent
  | LifespanShutdownCompleteEvent | LifespanShutdownFailedEvent;

// ---- Deprecated spellings -------------------------------------------------
// Class and type names spell it `Websocket`, as Django does (`WebsocketConsumer`).

/** @deprecated Renamed {@link WebsocketScope} (`Websocket`, as Django spells it). */
export type WebSocketScope = WebsocketScope;
/** @deprecated Renamed {@link WebsocketConnectEvent} (`Websocket`, as Django spells it). */
export type WebSocketConnectEvent = WebsocketConnectEvent;
/** @deprecated Renamed {@link WebsocketAcceptEvent} (`Websocket`, as Django spells it). */
export type WebSocketAcceptEvent = WebsocketAcceptEvent;
/** @deprecated Renamed {@link WebsocketReceiveEvent} (`Websocket`, as Django spells it). */
export type WebSocketReceiveEvent = WebsocketReceiveEvent;
/** @deprecated Renamed {@link WebsocketSendEvent} (`Websocket`, as Django spells it). */
export type WebSocketSendEvent = WebsocketSendEvent;
/** @deprecated Renamed {@link WebsocketCloseEvent} (`Websocket`, as Django spells it). */
export type WebSocketCloseEvent = WebsocketCloseEvent;
/** @deprecated Renamed {@link WebsocketDisconnectEvent} (`Websocket`, as Django spells it). */
export type WebSocketDisconnectEvent = WebsocketDisconnectEvent;
/** @deprecated Renamed {@link WebsocketHttpResponseStartEvent} (`Websocket`, as Django spells it). */
export type WebSocketHttpResponseStartEvent = WebsocketHttpResponseStartEvent;
/** @deprecated Renamed {@link WebsocketHttpResponseBodyEvent} (`Websocket`, as Django spells it). */
export type WebSocketHttpResponseBodyEvent = WebsocketHttpResponseBodyEvent;

/**
 * A message travelling on a channel layer, or reaching a consumer from one:
 * a plain object with a string `type`, holding only JSON/msgpack-able values.
 */
export interface LayerMessage {
  type: string;
  [field: string]: unknown;
}

export type Receive = () => Promise<ReceiveEvent | LayerMessage>;
export type Send = (event: SendEvent) => Promise<void>;

/** An ASGI application: one call per connection (or per worker channel). */
export type Application = (scope: Scope, receive: Receive, send: Send) => Promise<void>;

/**
 * A copy of a scope with more keys (Django's `dict(scope, **extra)`), for
 * routers and middleware: the inner application gets its own scope and the
 * outer one is left as it was. Symbol keys are kept.
 *
 * @example
 * ```ts
 * import { randomUUID } from 'node:crypto';
 * import { type Application, scopeWith } from 'switchyard';
 *
 * const withRequestId = (inner: Application): Application => (scope, receive, send) =>
 *   inner(scopeWith(scope, { requestId: randomUUID() }), receive, send);
 * ```
 */
export function scopeWith<S extends Scope, E extends object>(scope: S, extra: E): S & E {
  return Object.assign({}, scope, extra);
}

/** Encodes a string once as UTF-8. */
export const utf8 = (text: string): Uint8Array => Buffer.from(text, 'utf8');

/** Headers given as pairs or an object, names and values as strings (latin-1) or bytes. */
export type HeadersInit = Array<[string | Uint8Array, string | Uint8Array]> | Record<string, string>;

/** Turns friendly headers into ASGI's `[name, value]` byte pairs, names lower-cased. */
export function toHeaders(headers: HeadersInit | undefined): Header[] {
  if (headers === undefined) return [];
  const pairs = Array.isArray(headers) ? headers : Object.entries(headers);
  return pairs.map(([name, value]) => [
    typeof name === 'string' ? Buffer.from(name.toLowerCase(), 'latin1') : name,
    typeof value === 'string' ? Buffer.from(value, 'latin1') : value,
  ]);
}

/** Looks a header up by its lower-case name; the last one wins when `last` is set (as Django's origin check). */
export function getHeader(headers: Header[], name: string, last = false): string | undefined {
  let found: string | undefined;
  for (const [key, value] of headers) {
    // Read in place: Buffer.from(bytes) would copy into Node's shared pool.
    if (Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1').toLowerCase() === name) {
      found = Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('latin1');
      if (!last) return found;
    }
  }
  return found;
}
