/**
 * What every Switchyard span shares: the tracer in use, the attribute
 * names, how a span's parent is chosen, and how a failure is recorded.
 *
 * How parents are chosen. A WebSocket handshake puts its span, and a marker
 * saying whether the handshake is over, in the context the connection's app
 * runs in (AsyncLocalStorage carries it through every `await` of the
 * instance). While the handshake lasts, spans started there (the
 * `websocket_connect` handler, the layer calls it makes) are its children.
 * Once it is over, a span that would be its child starts a new trace
 * instead, with a link to the handshake: a connection may live for hours,
 * and one trace per message is what a reader wants to follow, not one trace
 * per connection.
 */
import {
  type Attributes, type Context, type Link, type Span, type Tracer, ROOT_CONTEXT, SpanStatusCode, createContextKey, trace,
} from '@opentelemetry/api';
import { AcceptConnection, DenyConnection, StopConsumer } from '../errors.js';

/** Attribute names (semantic-convention names where one fits, `switchyard.*` otherwise). */
export const ATTR = {
  system: 'messaging.system',
  operation: 'messaging.operation',
  operationType: 'messaging.operation.type',
  destination: 'messaging.destination.name',
  consumer: 'switchyard.consumer',
  handler: 'switchyard.handler',
  eventType: 'switchyard.event.type',
  channel: 'switchyard.channel',
  except: 'switchyard.except',
  closeCode: 'switchyard.websocket.close_code',
  path: 'url.path',
  scheme: 'url.scheme',
  client: 'client.address',
  status: 'http.response.status_code',
  route: 'switchyard.route',
} as const;

/** `messaging.system` of every layer span. */
export const SYSTEM = 'switchyard';

/** The tracer spans go to while tracing is enabled; null while it is not. */
export let tracer: Tracer | null = null;

/** Sets (or clears) the tracer. */
export function setTracer(next: Tracer | null): void {
  tracer = next;
}

/** What the handshake of a connection puts in its context (see the note above). */
export interface HandshakeState {
  readonly span: Span;
  ended: boolean;
}

/** The context key of {@link HandshakeState}. */
export const HANDSHAKE = createContextKey('switchyard.websocket.handshake');

/** A span's parent context, and its links. */
export interface Parent {
  context: Context;
  links: Link[] | undefined;
}

/**
 * The parent for a span started in `ctx`: `ctx` itself, unless its span is
 * a handshake that is over; then a new trace linked to that handshake.
 */
export function parentIn(ctx: Context): Parent {
  const handshake = ctx.getValue(HANDSHAKE) as HandshakeState | undefined;
  if (handshake !== undefined && handshake.ended && trace.getSpan(ctx) === handshake.span) {
    return { context: ROOT_CONTEXT, links: [{ context: handshake.span.spanContext() }] };
  }
  return { context: ctx, links: undefined };
}

/** Control flow, not failure: a consumer stopping, a handshake accepted or denied by exception. */
function isControlFlow(error: unknown): boolean {
  return error instanceof StopConsumer || error instanceof AcceptConnection || error instanceof DenyConnection;
}

/** Records `error` on `span` (exception event, status ERROR), unless it is control flow (`StopConsumer`...). */
export function recordFailure(span: Span, error: unknown): void {
  if (isControlFlow(error)) {
    span.setAttribute('switchyard.control', (error as Error).constructor.name);
    return;
  }
  if (error instanceof Error) span.recordException(error);
  else span.recordException(String(error));
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
}

/** True for a value with a `then` method. */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === 'object' && typeof (value as PromiseLike<unknown>).then === 'function';
}

/**
 * Ends `span` once `result` settles (now, for a value that is not a
 * promise), recording a rejection; returns what the caller should return.
 */
export function endWith(span: Span, result: unknown): unknown {
  if (!isThenable(result)) {
    span.end();
    return result;
  }
  return Promise.resolve(result).then(
    (value) => {
      span.end();
      return value;
    },
    (error: unknown) => {
      recordFailure(span, error);
      span.end();
      throw error;
    },
  );
}

/** `attributes` with the ones every layer span has. */
export function layerAttributes(operation: string, operationType: string | null, destination: string, extra?: Attributes): Attributes {
  const attributes: Attributes = { [ATTR.system]: SYSTEM, [ATTR.operation]: operation, [ATTR.destination]: destination, ...extra };
  if (operationType !== null) attributes[ATTR.operationType] = operationType;
  return attributes;
}
