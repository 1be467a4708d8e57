/**
 * `enableTracing()`: installs the tracer hooks (hooks.ts) that make spans
 * of WebSocket handshakes, consumer handler calls and layer calls.
 *
 * How this works. The hooks object made here is what the core calls:
 * `handshake()` when the server starts a connection's app (the app runs in
 * the handshake span's context), `consumer()` when a consumer starts (it
 * remembers the context the consumer started in, and gives it a traced
 * layer), `handle()` around each handler call. A handler's span is the
 * child of the sender's span when its message carries one (`TRACE_KEY`),
 * else of the context the consumer started in (see `spans.ts` for what
 * happens once the handshake is over).
 */
import {
  type Attributes, type Context, type TracerProvider, ROOT_CONTEXT, SpanKind, SpanStatusCode, context, createContextKey, trace,
} from '@opentelemetry/api';
import type { WebsocketScope } from '../asgi.js';
import type { ChannelLayer } from '../layers/base.js';
import { logger } from '../log.js';
import { remoteOf, remoteOfHeaders } from './carrier.js';
import { type TracedHandler, type TracerHooks, setTracerHooks, tracerHooks } from './hooks.js';
import { tracedLayer } from './layer.js';
import { ATTR, HANDSHAKE, type HandshakeState, SYSTEM, endWith, parentIn, recordFailure, setTracer } from './spans.js';

/** Options of {@link enableTracing}. */
export interface TracingOptions {
  /**
   * Where the spans go. Default: the global provider (`trace.getTracerProvider()`),
   * the one your OpenTelemetry SDK setup registered.
   */
  tracerProvider?: TracerProvider;
}

const OPTIONS = new Set(['tracerProvider']);

/** Connection events (the framework's event handlers); every other type is a layer message. */
const CONNECTION_EVENT = /^(websocket|http|lifespan)\./;

/**
 * The instrumentation scope name of Switchyard's spans (to filter or sample them).
 *
 * @example
 * ```ts
 * import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
 * import { TRACER_NAME } from 'switchyard/tracing';
 *
 * const ours = (span: ReadableSpan) => span.instrumentationScope.name === TRACER_NAME;
 * ```
 */
export const TRACER_NAME = 'switchyard';

/**
 * Turns tracing on for this process: spans for WebSocket handshakes,
 * consumer handler calls and channel layer calls, and trace context carried
 * inside layer messages so that one trace follows a message from process to
 * process. Calling it again replaces the provider. Needs a context manager
 * (the OpenTelemetry Node SDK registers one; with none, spans do not nest
 * and a warning is logged).
 *
 * @example
 * ```ts
 * import { context, trace } from '@opentelemetry/api';
 * import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
 * import { BasicTracerProvider, ConsoleSpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
 * import { enableTracing } from 'switchyard/tracing';
 *
 * context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
 * trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(new ConsoleSpanExporter())] }));
 * enableTracing();
 * ```
 */
export function enableTracing(options: TracingOptions = {}): void {
  if (options === null || typeof options !== 'object') throw new TypeError(`enableTracing() options must be an object, not ${String(options)}`);
  for (const key of Object.keys(options)) {
    if (!OPTIONS.has(key)) throw new TypeError(`enableTracing() has no option '${key}' (known: ${[...OPTIONS].join(', ')})`);
  }
  const provider = options.tracerProvider ?? trace.getTracerProvider();
  if (typeof provider?.getTracer !== 'function') throw new TypeError('enableTracing(): tracerProvider must be an OpenTelemetry TracerProvider (with getTracer())');
  if (!contextPropagates()) {
    logger.warn('enableTracing(): no OpenTelemetry context manager is registered, so spans will not nest (register AsyncLocalStorageContextManager, or start the Node SDK first)');
  }
  const tracer = provider.getTracer(TRACER_NAME);
  setTracer(tracer);
  setTracerHooks(makeHooks(tracer));
}

/**
 * Turns tracing off: no more spans, and messages sent from now on carry no
 * trace context. Connections already open stop being traced too.
 *
 * @example
 * ```ts
 * import { disableTracing } from 'switchyard/tracing';
 * disableTracing();
 * ```
 */
export function disableTracing(): void {
  setTracerHooks(null);
  setTracer(null);
}

/**
 * True while tracing is enabled.
 *
 * @example
 * ```ts
 * import { isTracingEnabled } from 'switchyard/tracing';
 * isTracingEnabled(); // false until enableTracing()
 * ```
 */
export function isTracingEnabled(): boolean {
  return tracerHooks !== null;
}

const PROBE = createContextKey('switchyard.tracing.probe');

/** True when a context manager carries a context into a callback (the no-op one does not). */
function contextPropagates(): boolean {
  return context.with(ROOT_CONTEXT.setValue(PROBE, true), () => context.active().getValue(PROBE)) === true;
}

/**
 * The context each consumer instance started in (its handshake's, for a
 * WebSocket). Kept across `enableTracing()` calls; an instance started while
 * tracing was off has none, and its handler spans start new traces.
 */
const started = new WeakMap<object, Context>();

/** The handshakes in progress, by connection (kept here, so that a connection has no field for tracing). */
const handshakes = new WeakMap<object, HandshakeState>();

function makeHooks(tracer: ReturnType<TracerProvider['getTracer']>): TracerHooks {
  return {
    handshake<T>(connection: object, scope: WebsocketScope, start: () => T): T {
      const remote = remoteOfHeaders(scope.headers);
      const parent = remote === null ? context.active() : trace.setSpanContext(ROOT_CONTEXT, remote);
      const attributes: Attributes = { [ATTR.path]: scope.path, [ATTR.scheme]: scope.scheme, 'network.protocol.name': 'websocket' };
      const client = scope.client?.[0];
      if (client) attributes[ATTR.client] = client;
      const span = tracer.startSpan('websocket handshake', { kind: SpanKind.SERVER, attributes }, parent);
      const state: HandshakeState = { span, ended: false };
      handshakes.set(connection, state);
      return context.with(trace.setSpan(parent, span).setValue(HANDSHAKE, state), start);
    },

    opened(connection: object): void {
      const state = handshakes.get(connection);
      if (state === undefined) return;
      handshakes.delete(connection);
      state.ended = true;
      state.span.setAttribute(ATTR.status, 101);
      state.span.end();
    },

    ended(connection: object, status: number | null, code: number): void {
      const state = handshakes.get(connection);
      if (state === undefined) return; // opened (or started while tracing was off)
      handshakes.delete(connection);
      state.ended = true;
      const { span } = state;
      span.setAttribute(ATTR.closeCode, code);
      if (status === null) span.setAttribute('switchyard.websocket.abandoned', true);
      else {
        span.setAttribute(ATTR.status, status);
        if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR, message: `handshake answered ${status}` });
      }
      span.end();
    },

    consumer(consumer: object, layer: ChannelLayer | null): ChannelLayer | null {
      const ctx = context.active();
      started.set(consumer, ctx);
      const handshake = ctx.getValue(HANDSHAKE) as HandshakeState | undefined;
      if (handshake !== undefined && !handshake.ended) nameHandshake(handshake, consumer);
      return layer === null ? null : tracedLayer(layer);
    },

    handle(consumer: object, name: string, event: { type: string }, handler: TracedHandler): unknown {
      const remote = remoteOf(event);
      const parent = remote !== null
        ? { context: trace.setSpanContext(ROOT_CONTEXT, remote), links: undefined }
        : parentIn(started.get(consumer) ?? ROOT_CONTEXT);
      const consumerClass = consumer.constructor.name;
      const channel = (consumer as { channelName?: unknown }).channelName;
      const attributes: Attributes = { [ATTR.consumer]: consumerClass, [ATTR.handler]: name, [ATTR.eventType]: event.type };
      if (typeof channel === 'string' && channel !== '') attributes[ATTR.channel] = channel;
      const message = !CONNECTION_EVENT.test(event.type);
      if (message) {
        attributes[ATTR.system] = SYSTEM;
        attributes[ATTR.operation] = 'process';
        attributes[ATTR.operationType] = 'process';
        if (typeof channel === 'string' && channel !== '') attributes[ATTR.destination] = channel;
      } else if (event.type === 'websocket.disconnect') {
        const code = (event as { code?: unknown }).code;
        if (typeof code === 'number') attributes[ATTR.closeCode] = code;
      }
      const span = tracer.startSpan(`${consumerClass}.${name}`, { kind: kindOf(event.type, message), attributes, links: parent.links }, parent.context);
      let result: unknown;
      try {
        result = context.with(trace.setSpan(parent.context, span), handler, consumer, event);
      } catch (error) {
        recordFailure(span, error);
        span.end();
        throw error;
      }
      return endWith(span, result);
    },
  };
}

/**
 * A handler span's kind: CONSUMER for a layer message, SERVER for a frame
 * from the client (it starts a trace: the client's request), INTERNAL for
 * the connection's other events.
 */
function kindOf(type: string, message: boolean): SpanKind {
  if (message) return SpanKind.CONSUMER;
  return type === 'websocket.receive' ? SpanKind.SERVER : SpanKind.INTERNAL;
}

/** Names the handshake after the consumer that serves it, with the route's captured values. */
function nameHandshake(handshake: HandshakeState, consumer: object): void {
  const { span } = handshake;
  const consumerClass = consumer.constructor.name;
  span.updateName(`websocket handshake ${consumerClass}`);
  span.setAttribute(ATTR.consumer, consumerClass);
  const route = (consumer as { scope?: { urlRoute?: { kwargs?: Record<string, unknown> } } }).scope?.urlRoute?.kwargs;
  if (route === undefined) return;
  for (const [key, value] of Object.entries(route)) {
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') span.setAttribute(`${ATTR.route}.${key}`, value);
  }
}
