/**
 * `switchyard/tracing`: optional OpenTelemetry traces of WebSocket
 * handshakes, consumer handler calls and channel layer calls, one trace
 * following a message across processes (see the guide's "Tracing").
 *
 * `@opentelemetry/api` is an optional peer dependency: only this subpath
 * loads it. Until {@link enableTracing} runs, the core makes no span and
 * loads nothing of OpenTelemetry.
 *
 * @example
 * ```ts
 * import { enableTracing } from 'switchyard/tracing';
 * enableTracing(); // spans go to the globally registered tracer provider
 * ```
 */
export { TRACE_KEY, type TraceCarrier } from './hooks.js';
export { TRACER_NAME, type TracingOptions, disableTracing, enableTracing, isTracingEnabled } from './instrument.js';
export { TracedLayer, tracedLayer } from './layer.js';
export { carrierOf, parseTraceparent } from './carrier.js';
