/**
 * W3C Trace Context, written into and read out of layer messages (and read
 * from a handshake's headers).
 *
 * How this works. A traced send copies the message with the sender's span
 * context under `TRACE_KEY` as `{ traceparent, tracestate? }`; the
 * receiving process reads it back into a remote span context, the parent of
 * its handler's span. The format is always W3C's, whatever propagator the
 * application registered: both ends are Switchyard, and a message may be
 * read by a process configured differently. A carrier that cannot be read
 * (a made-up or damaged value) is ignored: the receiver starts a new trace,
 * its message is handled as usual.
 */
import { type SpanContext, type TraceState, createTraceState, isSpanContextValid } from '@opentelemetry/api';
import type { Header, LayerMessage } from '../asgi.js';
import { TRACE_KEY, type TraceCarrier } from './hooks.js';

// Version 00 has exactly four fields; a later version may add fields after them (W3C Trace Context, "versioning").
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/**
 * The W3C carrier of a span context.
 *
 * @example
 * ```ts
 * import { carrierOf } from './carrier.js';
 *
 * carrierOf({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: 1 });
 * // { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' }
 * ```
 */
export function carrierOf(span: SpanContext): TraceCarrier {
  const carrier: TraceCarrier = { traceparent: `00-${span.traceId}-${span.spanId}-${(span.traceFlags & 0xff).toString(16).padStart(2, '0')}` };
  const state = span.traceState?.serialize();
  if (state) carrier.tracestate = state;
  return carrier;
}

/**
 * The remote span context of a `traceparent` (and `tracestate`), or null when it is not valid W3C.
 *
 * @example
 * ```ts
 * import { parseTraceparent } from './carrier.js';
 *
 * parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01')?.spanId; // '00f067aa0ba902b7'
 * parseTraceparent('garbage'); // null
 * ```
 */
export function parseTraceparent(traceparent: unknown, tracestate?: unknown): SpanContext | null {
  if (typeof traceparent !== 'string') return null;
  const match = TRACEPARENT.exec(traceparent.trim());
  if (match === null) return null;
  const [, version, traceId, spanId, flags, rest] = match;
  if (version === 'ff' || (version === '00' && rest !== undefined)) return null;
  let traceState: TraceState | undefined;
  if (typeof tracestate === 'string' && tracestate !== '') traceState = createTraceState(tracestate);
  const context: SpanContext = { traceId: traceId!, spanId: spanId!, traceFlags: parseInt(flags!, 16), isRemote: true, traceState };
  return isSpanContextValid(context) ? context : null;
}

/** The sender's span context a layer message carries, or null. */
export function remoteOf(message: LayerMessage | { type: string }): SpanContext | null {
  if (message === null || typeof message !== 'object') return null;
  const carrier = (message as Record<string, unknown>)[TRACE_KEY];
  if (carrier === null || typeof carrier !== 'object') return null;
  const { traceparent, tracestate } = carrier as Partial<Record<string, unknown>>;
  return parseTraceparent(traceparent, tracestate);
}

/**
 * `message` carrying `span` under `TRACE_KEY`: a copy (the caller's object
 * is left as it was). A message that is not a plain object is returned as it
 * is, so that the layer refuses it with its usual error.
 */
export function withCarrier(message: LayerMessage, span: SpanContext): LayerMessage {
  if (message === null || typeof message !== 'object' || Array.isArray(message) || ArrayBuffer.isView(message)) return message;
  if (!isSpanContextValid(span)) return message;
  return { ...message, [TRACE_KEY]: carrierOf(span) };
}

const decoder = new TextDecoder();

/** The span context an upgrade request's `traceparent` header names (a Node client may send one), or null. */
export function remoteOfHeaders(headers: readonly Header[]): SpanContext | null {
  let traceparent: string | undefined;
  let tracestate: string | undefined;
  for (const [name, value] of headers) {
    // Names are lower-case in a scope (ASGI); only two of them matter here.
    if (name.length === 11 && decoder.decode(name) === 'traceparent') traceparent = decoder.decode(value);
    else if (name.length === 10 && decoder.decode(name) === 'tracestate') tracestate = decoder.decode(value);
  }
  return traceparent === undefined ? null : parseTraceparent(traceparent, tracestate);
}
