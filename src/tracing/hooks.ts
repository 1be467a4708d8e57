/**
 * The tracer hooks: how the core reaches tracing without depending on it.
 *
 * How this works. Three places of the core read {@link tracerHooks}: the
 * WebSocket bridge when a handshake starts (websocket.ts), a consumer when
 * it starts serving (its layer is wrapped there) and when it calls a
 * handler (consumers/base.ts). The variable is null until `enableTracing()`
 * of `switchyard/tracing` sets it, so a process that never enables tracing
 * pays a null check at each step of a handshake (start, open, end) and per
 * handler call, keeps no field for tracing in any object, and never loads
 * `@opentelemetry/api`: this file imports nothing of it (the root entry
 * loads this file; `test/tracing/off.test.ts` checks what it loads).
 *
 * Trace context crosses processes inside layer messages, under
 * {@link TRACE_KEY}, the way `__switchyard_except__` and
 * `__switchyard_position__` ride along: a Django consumer on the same Redis
 * sees one more dict key and nothing else.
 */
import type { WebsocketScope } from '../asgi.js';
import type { ChannelLayer } from '../layers/base.js';

/**
 * The key under which a traced layer message carries its sender's trace
 * context: `{ traceparent, tracestate? }`, W3C Trace Context strings. A
 * handler that forwards whole events to its client (`sendJson(event)`)
 * forwards this key too: pick the fields the client needs.
 *
 * @example
 * ```ts
 * import { TRACE_KEY } from 'switchyard/tracing';
 *
 * function sentFrom(event: Record<string, unknown>): unknown {
 *   return (event[TRACE_KEY] as { traceparent?: string } | undefined)?.traceparent;
 * }
 * ```
 */
export const TRACE_KEY = '__switchyard_trace__';

/** What a message carries under {@link TRACE_KEY}. */
export interface TraceCarrier {
  /** W3C `traceparent`: `00-<trace id>-<span id>-<flags>`. */
  traceparent: string;
  /** W3C `tracestate`, when the sender's span has one. */
  tracestate?: string;
}

/** A handler as consumers call it (the consumer as `this`). */
export type TracedHandler = (this: object, event: { type: string }) => unknown;

/** What the core calls when tracing is enabled. */
export interface TracerHooks {
  /**
   * A WebSocket handshake starts (the scope as the server built it, before
   * any router): `start` starts the connection's app, inside the
   * handshake's trace context. `connection` names the connection in the two
   * calls below (the hooks keep what they need: the connection keeps no field for it).
   */
  handshake<T>(connection: object, scope: WebsocketScope, start: () => T): T;
  /** The app accepted and the 101 went out: the handshake span ends. */
  opened(connection: object): void;
  /** The connection ended; before it opened, it was refused with `status`, or abandoned (`status` null). */
  ended(connection: object, status: number | null, code: number): void;
  /** A consumer instance starts serving; returns the layer it should use (traced). */
  consumer(consumer: object, layer: ChannelLayer | null): ChannelLayer | null;
  /** Calls `handler` for `event` on `consumer` (handler `name`) inside a span; returns what it returns. */
  handle(consumer: object, name: string, event: { type: string }, handler: TracedHandler): unknown;
}

/** The installed hooks, or null: tracing is off. */
export let tracerHooks: TracerHooks | null = null;

/** Installs (or, with null, removes) the hooks. Internal: `enableTracing()` and `disableTracing()` call it. */
export function setTracerHooks(hooks: TracerHooks | null): void {
  tracerHooks = hooks;
}
