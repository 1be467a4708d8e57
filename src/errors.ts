/**
 * The exception vocabulary of Switchyard, in one place.
 *
 * Each error has a stable `code` (never reused) and, where it ends a
 * connection, the WebSocket close code or HTTP status it maps to. Django
 * Channels' names are kept (`StopConsumer`, `ChannelFull`, `DenyConnection`...).
 *
 * | class | code | close / status |
 * |---|---|---|
 * | StopConsumer | SY_STOP_CONSUMER | (ends the consumer cleanly) |
 * | AcceptConnection | SY_ACCEPT_CONNECTION | accepts the handshake |
 * | DenyConnection | SY_DENY_CONNECTION | HTTP 403 |
 * | ChannelFull | SY_CHANNEL_FULL | |
 * | MessageTooLarge | SY_MESSAGE_TOO_LARGE | 1009 |
 * | InvalidChannelLayerError | SY_INVALID_CHANNEL_LAYER | |
 * | InvalidNameError | SY_INVALID_NAME | |
 * | InvalidMessageError | SY_INVALID_MESSAGE | |
 * | NoHandlerError | SY_NO_HANDLER | 1011 |
 * | RouteNotFound | SY_ROUTE_NOT_FOUND | HTTP 404 / handshake refused (403) |
 * | ImproperlyConfigured | SY_IMPROPERLY_CONFIGURED | |
 * | LayerUnavailableError | SY_LAYER_UNAVAILABLE | |
 * | ProtocolError | SY_PROTOCOL_ERROR | 1011 / HTTP 500 |
 * | TimeoutError (testing) | SY_TIMEOUT | |
 * | CancelledError (testing) | SY_CANCELLED | |
 * | LifespanError (server) | SY_LIFESPAN_FAILED | CLI exit code 3 |
 * | SuspiciousOperation | SY_SUSPICIOUS_OPERATION | HTTP 400 |
 * | SessionUpdateError | SY_SESSION_UPDATE | (raised as SuspiciousOperation by SessionMiddleware) |
 * | TooManyGroups | SY_TOO_MANY_GROUPS | |
 * | LeadershipLost | SY_LEADERSHIP_LOST | (the abort reason of a `runOnce` task) |
 */

/** Base class: every Switchyard error has a stable string code. */
export class SwitchyardError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Raise from a handler to end a consumer instance cleanly (no error is logged). */
export class StopConsumer extends SwitchyardError {
  constructor() { super('SY_STOP_CONSUMER', 'Consumer stopped'); }
}

/** Raise from `connect()` to accept the handshake. */
export class AcceptConnection extends SwitchyardError {
  constructor() { super('SY_ACCEPT_CONNECTION', 'Connection accepted'); }
}

/** Raise from `connect()` to refuse the handshake (HTTP 403). */
export class DenyConnection extends SwitchyardError {
  readonly status = 403;
  constructor(reason = 'Connection denied') { super('SY_DENY_CONNECTION', reason); }
}

/** A channel is at capacity; `send()` raises it, `groupSend()` skips the member instead. */
export class ChannelFull extends SwitchyardError {
  readonly channel: string;
  constructor(channel: string) {
    super('SY_CHANNEL_FULL', `Channel ${channel} is full`);
    this.channel = channel;
  }
}

/** A message is larger than a layer or the server accepts. */
export class MessageTooLarge extends SwitchyardError {
  readonly closeCode = 1009;
  constructor(message = 'Message too large') { super('SY_MESSAGE_TOO_LARGE', message); }
}

/** A channel layer is missing, misconfigured or lacks a needed extension (groups). */
export class InvalidChannelLayerError extends SwitchyardError {
  constructor(message: string) { super('SY_INVALID_CHANNEL_LAYER', message); }
}

/** A channel or group name breaks Django's naming rules. */
export class InvalidNameError extends SwitchyardError {
  constructor(message: string) { super('SY_INVALID_NAME', message); }
}

/** A layer message is not a plain object with a string `type`, or holds what a layer cannot carry. */
export class InvalidMessageError extends SwitchyardError {
  constructor(message: string) { super('SY_INVALID_MESSAGE', message); }
}

/** A consumer got an event whose `type` maps to no method. */
export class NoHandlerError extends SwitchyardError {
  readonly closeCode = 1011;
  readonly type: string;
  constructor(type: string, consumer: string, handler: string) {
    super('SY_NO_HANDLER', `No handler for message type '${type}' on ${consumer} (expected a method named '${handler}')`);
    this.type = type;
  }
}

/** No route matched the path (or channel, or scope type). */
export class RouteNotFound extends SwitchyardError {
  readonly status = 404;
  constructor(message: string) { super('SY_ROUTE_NOT_FOUND', message); }
}

/** Configuration that cannot work (an `include()`-style route, an unknown layer backend...). */
export class ImproperlyConfigured extends SwitchyardError {
  constructor(message: string) { super('SY_IMPROPERLY_CONFIGURED', message); }
}

/** A channel layer's backing service (Redis) cannot be reached; the caller may retry later. */
export class LayerUnavailableError extends SwitchyardError {
  constructor(message: string, options?: { cause?: unknown }) { super('SY_LAYER_UNAVAILABLE', message, options); }
}

/** An application broke the ASGI contract (sent `websocket.send` before accepting, a body after the end...). */
export class ProtocolError extends SwitchyardError {
  constructor(message: string) { super('SY_PROTOCOL_ERROR', message); }
}

/** A request did something a well-behaved client never does (Django's `SuspiciousOperation`): HTTP 400. */
export class SuspiciousOperation extends SwitchyardError {
  readonly status = 400;
  constructor(message: string) { super('SY_SUSPICIOUS_OPERATION', message); }
}

/** A session store was asked to update a session that no longer exists (Django's `UpdateError`). */
export class SessionUpdateError extends SwitchyardError {
  constructor(message = 'Session was deleted before it could be updated') { super('SY_SESSION_UPDATE', message); }
}

/** A connection tried to join more groups than its limit allows (`withGroupLimit`). */
export class TooManyGroups extends SwitchyardError {
  readonly channel: string;
  constructor(channel: string, limit: number) {
    super('SY_TOO_MANY_GROUPS', `Channel ${channel} is already in ${limit} groups (the limit)`);
    this.channel = channel;
  }
}

/**
 * A `runOnce` task lost its leader lease (renewal refused or failed, or the
 * lease expired): the reason its `signal` aborts, as opposed to a stop.
 *
 * @example
 * ```ts
 * import { LeadershipLost } from 'switchyard';
 * declare const signal: AbortSignal;
 * if (signal.reason instanceof LeadershipLost) console.log('another process leads now');
 * ```
 */
export class LeadershipLost extends SwitchyardError {
  readonly lease: string;
  constructor(lease: string, why: string) {
    super('SY_LEADERSHIP_LOST', `Leadership of ${JSON.stringify(lease)} lost: ${why}`);
    this.lease = lease;
  }
}
