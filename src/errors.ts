/**
 * The exception vocabulary of Switchyard, in one place: every error class of
 * every subpath is exported from here, each with a stable `code` (never reused)
 * and, where it ends a connection or a request, the WebSocket close code,
 * HTTP status or exit code it maps to. Django Channels' names are kept
 * (`StopConsumer`, `ChannelFull`, `DenyConnection`...), and Django's
 * (`SuspiciousOperation`, `BadSignature`...). The core errors are exported
 * from `switchyard`; the others from the subpath whose code throws them
 * (their old modules re-export them, so every import path keeps working).
 * `test/package/errors.test.ts` checks that every exported error class is
 * exported from here, has its own `SY_*` code and a row in this table.
 * Two pieces live beside this file and are re-exported from it: the base
 * class `SwitchyardError` (`switchyard-error.ts`, a leaf every family of
 * errors extends without an import cycle) and the errors of reading a
 * Django site (`django-errors.ts`).
 *
 * | class | code | close / status | exported from |
 * |---|---|---|---|
 * | StopConsumer | SY_STOP_CONSUMER | (ends the consumer cleanly) | `switchyard` |
 * | AcceptConnection | SY_ACCEPT_CONNECTION | accepts the handshake | `switchyard` |
 * | DenyConnection | SY_DENY_CONNECTION | HTTP 403 | `switchyard` |
 * | ChannelFull | SY_CHANNEL_FULL | | `switchyard` |
 * | ChannelAlreadyTapped | SY_CHANNEL_ALREADY_TAPPED | | `switchyard` |
 * | MessageTooLarge | SY_MESSAGE_TOO_LARGE | 1009 | `switchyard` |
 * | InvalidChannelLayerError | SY_INVALID_CHANNEL_LAYER | | `switchyard` |
 * | InvalidNameError | SY_INVALID_NAME | | `switchyard` |
 * | InvalidMessageError | SY_INVALID_MESSAGE | | `switchyard` |
 * | NoHandlerError | SY_NO_HANDLER | 1011 | `switchyard` |
 * | RouteNotFound | SY_ROUTE_NOT_FOUND | HTTP 404 / handshake refused (403) | `switchyard` |
 * | ImproperlyConfigured | SY_IMPROPERLY_CONFIGURED | | `switchyard` |
 * | LayerUnavailableError | SY_LAYER_UNAVAILABLE | | `switchyard` |
 * | DeliveryIncompleteError | SY_DELIVERY_INCOMPLETE | (a LayerUnavailableError) | `switchyard` |
 * | ProtocolError | SY_PROTOCOL_ERROR | 1011 / HTTP 500 | `switchyard` |
 * | SuspiciousOperation | SY_SUSPICIOUS_OPERATION | HTTP 400 | `switchyard` |
 * | SessionUpdateError | SY_SESSION_UPDATE | (raised as SuspiciousOperation by SessionMiddleware) | `switchyard` |
 * | SessionStoreUnavailableError | SY_SESSION_STORE_UNAVAILABLE | HTTP 503 / handshake refused (503), one line logged | `switchyard/middleware` |
 * | TooManyGroups | SY_TOO_MANY_GROUPS | | `switchyard` |
 * | LeadershipLost | SY_LEADERSHIP_LOST | (the abort reason of a `runOnce` task) | `switchyard` |
 * | TimeoutError | SY_TIMEOUT | | `switchyard/testing` |
 * | CancelledError | SY_CANCELLED | | `switchyard/testing` |
 * | LifespanError | SY_LIFESPAN_FAILED | CLI exit code 3 | `switchyard/server` |
 * | InvalidToken | SY_INVALID_TOKEN | (the message is dropped) | `switchyard/redis` |
 * | SerializerDoesNotExist | SY_SERIALIZER_DOES_NOT_EXIST | (an ImproperlyConfigured) | `switchyard/redis` |
 * | PresenceClosed | SY_PRESENCE_CLOSED | | `switchyard/presence` |
 * | PresenceNotFound | SY_PRESENCE_NOT_FOUND | | `switchyard/presence` |
 * | BadSignature | SY_DJANGO_BAD_SIGNATURE | (anonymous user in the middleware) | `switchyard/django` |
 * | SignatureExpired | SY_DJANGO_SIGNATURE_EXPIRED | (a BadSignature; anonymous user in the middleware) | `switchyard/django` |
 * | DjangoDatabaseError | SY_DJANGO_DATABASE | HTTP 503 (handshake refused, one line logged) | `switchyard/django` |
 * | DjangoReadOnlyError | SY_DJANGO_READ_ONLY | | `switchyard/django` |
 * | PickledDataRefused | SY_DJANGO_PICKLED | (anonymous user in the middleware, logged once per connection) | `switchyard/django` |
 * | RequestError | SY_REQUEST_FAILED | (an error reply to a request; `reason` is its code on the wire) | `switchyard`, `switchyard/client` |
 */

import { SwitchyardError } from './switchyard-error.js';

export { SwitchyardError } from './switchyard-error.js';
export { BadSignature, DjangoDatabaseError, DjangoReadOnlyError, PickledDataRefused, SignatureExpired } from './django-errors.js';

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

/**
 * A second tap was opened on a channel that already has one: a channel has
 * one owner (the consumer it was minted for), so two readers is a bug.
 */
export class ChannelAlreadyTapped extends SwitchyardError {
  readonly channel: string;
  constructor(channel: string) {
    super('SY_CHANNEL_ALREADY_TAPPED', `Channel ${channel} is already tapped`);
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

/**
 * Configuration that cannot work (an `include()`-style route, an unknown layer
 * backend...). `code` is for subclasses ({@link SerializerDoesNotExist}), which
 * keep `instanceof ImproperlyConfigured` with a code of their own.
 */
export class ImproperlyConfigured extends SwitchyardError {
  constructor(message: string, code = 'SY_IMPROPERLY_CONFIGURED') { super(code, message); }
}

/** A channel layer's backing service (Redis) cannot be reached; the caller may retry later. */
export class LayerUnavailableError extends SwitchyardError {
  constructor(message: string, options?: { cause?: unknown }) { super('SY_LAYER_UNAVAILABLE', message, options); }
}

/**
 * A group message is in the group's history, but its live delivery failed
 * (Redis went away after the history took it): members that recover read it
 * from the history, members without recovery missed it. Sending it again
 * would show it twice to the members that recover; tell the sender it was
 * kept instead (see `docs/recovery.md`).
 *
 * @example
 * ```ts
 * import { DeliveryIncompleteError, WebsocketConsumer, type LayerUnavailableError } from 'switchyard';
 *
 * class Room extends WebsocketConsumer {
 *   override async layerUnavailable(error: LayerUnavailableError) {
 *     const kept = error instanceof DeliveryIncompleteError;
 *     await this.send(JSON.stringify({ type: 'error', message: kept ? 'Kept, not yet seen by everyone' : 'Not sent: try again' }));
 *   }
 * }
 * ```
 */
export class DeliveryIncompleteError extends LayerUnavailableError {
  override readonly code = 'SY_DELIVERY_INCOMPLETE';
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

/**
 * A session store's backing service (Redis) cannot be reached, or did not
 * answer in time: the session cannot be read or written. The session
 * middleware answers 503 (HTTP) or refuses the handshake with 503.
 *
 * @example
 * ```ts
 * import { getSession, SessionStoreUnavailableError } from 'switchyard/middleware';
 *
 * declare const scope: object; // with scope.session set by SessionMiddleware
 * try { await getSession(scope).get('cart'); } catch (error) { if (error instanceof SessionStoreUnavailableError) console.warn('sessions away: retry later'); }
 * ```
 */
export class SessionStoreUnavailableError extends SwitchyardError {
  readonly status = 503;
  constructor(message = 'The session store is unavailable', options?: { cause?: unknown }) {
    super('SY_SESSION_STORE_UNAVAILABLE', message, options);
  }
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

// Errors of the subpaths, exported from `switchyard/testing`, `/server`,
// `/redis` and `/presence` (see the table above); `/django`'s are in
// django-errors.ts.

/** A wait for the application ran out of time (`switchyard/testing`). */
export class TimeoutError extends SwitchyardError {
  constructor(message: string) { super('SY_TIMEOUT', message); }
}

/** The application was cancelled by the communicator: its `receive()` rejects with this (`switchyard/testing`). */
export class CancelledError extends SwitchyardError {
  constructor() { super('SY_CANCELLED', 'The application was cancelled'); }
}

/**
 * The app's lifespan startup failed (`SY_LIFESPAN_FAILED`): `serve()` rejects with it.
 *
 * @example
 * ```ts
 * import type { Application } from 'switchyard';
 * import { LifespanError, serve } from 'switchyard/server';
 *
 * declare const app: Application;
 * try { await serve(app); } catch (err) { if (err instanceof LifespanError) process.exit(3); throw err; }
 * ```
 */
export class LifespanError extends SwitchyardError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SY_LIFESPAN_FAILED', message, options);
  }
}

/**
 * A Fernet token that no key can verify, or that is too old or too far in the future.
 *
 * @example
 * ```ts
 * import { Fernet, InvalidToken } from 'switchyard/redis';
 *
 * declare const crypter: Fernet;
 * declare const token: Uint8Array;
 * try { crypter.decrypt(token, 70); } catch (error) { if (error instanceof InvalidToken) console.warn('expired or forged: dropped'); }
 * ```
 */
export class InvalidToken extends SwitchyardError {
  constructor(message = 'Invalid Fernet token') { super('SY_INVALID_TOKEN', message); }
}

/**
 * No serializer is registered under the requested format (channels_redis's `SerializerDoesNotExist`).
 *
 * @example
 * ```ts
 * import { getSerializer, SerializerDoesNotExist } from 'switchyard/redis';
 *
 * try { getSerializer('yaml'); } catch (error) { if (error instanceof SerializerDoesNotExist) console.log(error.format); }
 * ```
 */
export class SerializerDoesNotExist extends ImproperlyConfigured {
  readonly format: string;
  /** `known`: the formats that are registered, named in the message. */
  constructor(format: string, known: Iterable<string> = []) {
    super(`No serializer is registered for format ${JSON.stringify(format)} (known: ${[...known].join(', ')})`, 'SY_SERIALIZER_DOES_NOT_EXIST');
    this.format = format;
  }
}

/** A closed `Presence` replica was asked to start or track again. */
export class PresenceClosed extends SwitchyardError {
  constructor() { super('SY_PRESENCE_CLOSED', 'This Presence replica is closed'); }
}

/**
 * `Presence.update()` named an entry this replica does not hold (never
 * tracked here, or untracked since).
 *
 * @example
 * ```ts
 * import { Presence, PresenceNotFound } from 'switchyard/presence';
 *
 * declare const presence: Presence;
 * declare const ref: string;
 * try { await presence.update('room:1', 'ada', ref, { typing: true }); } catch (error) { if (!(error instanceof PresenceNotFound)) throw error; }
 * ```
 */
export class PresenceNotFound extends SwitchyardError {
  readonly topic: string;
  readonly key: string;
  readonly ref: string;
  constructor(topic: string, key: string, ref: string) {
    super('SY_PRESENCE_NOT_FOUND', `No presence ${ref} for ${key} on ${topic}`);
    this.topic = topic;
    this.key = key;
    this.ref = ref;
  }
}

/** One problem of a request's input, as the reply names it. */
export interface RequestIssue { path: string; message: string }

/**
 * A request that failed. Its `reason` is stable: the server's
 * (`invalid_message` with `issues`, `unknown_request`, `handler_error`,
 * `timeout`, `unavailable`, or the app's own) or the client's: `timeout`
 * (no reply in time; the error's `name` is then `TimeoutError`),
 * `disconnected` (the link dropped), `closed` (the client was closed).
 * A request handler throws one to answer its own reason and message (any
 * other exception answers the opaque `handler_error`). One class for both
 * sides: the server's error reply becomes this error in the client.
 *
 * @example
 * ```ts
 * import { RequestError } from 'switchyard';
 *
 * function rename(name: string): { name: string } {
 *   if (name === 'admin') throw new RequestError('name_refused', 'That name is reserved');
 *   return { name };
 * }
 * ```
 */
export class RequestError extends SwitchyardError {
  /** The failure's code on the wire (`name_refused`, `timeout`...). */
  readonly reason: string;
  readonly issues: RequestIssue[] | undefined;

  constructor(reason = 'handler_error', message = 'The request failed', issues?: RequestIssue[]) {
    super('SY_REQUEST_FAILED', message);
    this.reason = reason;
    this.issues = issues;
    if (reason === 'timeout') this.name = 'TimeoutError';
  }
}
