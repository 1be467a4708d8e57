/**
 * `TracedLayer`: a channel layer whose calls are spans, and whose messages
 * carry the sender's trace context.
 *
 * How this works. `send` and `groupSend` start a PRODUCER span (child of the
 * active span: the handler that sends, typically), and put a copy of the
 * message on the layer carrying that span's context under `TRACE_KEY`; the
 * consumer that handles it on any process makes its handler span a child of
 * it. `groupAdd` and `groupDiscard` are CLIENT spans. `receive` is not a
 * span while it waits (it may wait for minutes): once a message arrives, a
 * short `receive` span is recorded, child of the message's sender. Taps,
 * leases and history are forwarded untouched (`DelegatingLayer`): a
 * consumer's handler span covers what a tap delivers.
 *
 * While tracing is disabled, every call is forwarded as it is (one check).
 * The member count of a group is not recorded: no layer can tell it without
 * a round trip.
 */
import { type Attributes, type Context, type Span, SpanKind, context, trace } from '@opentelemetry/api';
import type { LayerMessage } from '../asgi.js';
import type { ChannelLayer, GroupSendOptions } from '../layers/base.js';
import { DelegatingLayer } from '../layers/delegating.js';
import { remoteOf, withCarrier } from './carrier.js';
import { ATTR, endWith, layerAttributes, parentIn, recordFailure, tracer } from './spans.js';

/** The message's `type`, when it has a string one (for the span's attributes). */
function typeOf(message: LayerMessage): string | undefined {
  const type = (message as { type?: unknown } | null)?.type;
  return typeof type === 'string' ? type : undefined;
}

/**
 * A layer whose `send`, `groupSend`, `groupAdd`, `groupDiscard` and
 * `receive` are traced (while tracing is enabled), and whose sent messages
 * carry the trace context across processes. Consumers get one
 * automatically once `enableTracing()` ran; wrap the layer yourself for code
 * that sends outside consumers (an HTTP view, a script).
 *
 * @example
 * ```ts
 * import { getChannelLayer, setChannelLayer } from 'switchyard';
 * import { TracedLayer, enableTracing } from 'switchyard/tracing';
 *
 * enableTracing();
 * setChannelLayer('default', new TracedLayer(getChannelLayer()!));
 * ```
 */
export class TracedLayer extends DelegatingLayer {
  override send(channel: string, message: LayerMessage): Promise<void> {
    if (tracer === null) return this.inner.send(channel, message);
    return this.#produce('send', message, layerAttributes('send', 'send', channel, eventType(message)), (carried) => this.inner.send(channel, carried));
  }

  override groupSend(group: string, message: LayerMessage, options?: GroupSendOptions): Promise<void> {
    if (tracer === null) return this.inner.groupSend(group, message, options);
    const extra = eventType(message);
    if (options?.except !== undefined) extra[ATTR.except] = options.except;
    return this.#produce(`groupSend ${group}`, message, layerAttributes('groupSend', 'send', group, extra), (carried) => this.inner.groupSend(group, carried, options));
  }

  override groupAdd(group: string, channel: string): Promise<void> {
    if (tracer === null) return this.inner.groupAdd(group, channel);
    return this.#client(`groupAdd ${group}`, layerAttributes('groupAdd', null, group, { [ATTR.channel]: channel }), () => this.inner.groupAdd(group, channel));
  }

  override groupDiscard(group: string, channel: string): Promise<void> {
    if (tracer === null) return this.inner.groupDiscard(group, channel);
    return this.#client(`groupDiscard ${group}`, layerAttributes('groupDiscard', null, group, { [ATTR.channel]: channel }), () => this.inner.groupDiscard(group, channel));
  }

  override async receive(channel: string, signal?: AbortSignal): Promise<LayerMessage> {
    const message = await this.inner.receive(channel, signal);
    const current = tracer;
    if (current !== null) {
      // Recorded once the message is here: the wait is not part of it.
      const remote = remoteOf(message);
      const parent = remote === null ? parentIn(context.active()) : { context: trace.setSpanContext(context.active(), remote), links: undefined };
      current.startSpan('receive', { kind: SpanKind.CONSUMER, attributes: layerAttributes('receive', 'receive', channel, eventType(message)), links: parent.links }, parent.context).end();
    }
    return message;
  }

  /** A send: a PRODUCER span whose context the message carries. */
  #produce(name: string, message: LayerMessage, attributes: Attributes, put: (carried: LayerMessage) => Promise<void>): Promise<void> {
    const parent = parentIn(context.active());
    const span = tracer!.startSpan(name, { kind: SpanKind.PRODUCER, attributes, links: parent.links }, parent.context);
    return this.#run(span, parent.context, () => put(withCarrier(message, span.spanContext())));
  }

  /** A membership change: a CLIENT span. */
  #client(name: string, attributes: Attributes, call: () => Promise<void>): Promise<void> {
    const parent = parentIn(context.active());
    const span = tracer!.startSpan(name, { kind: SpanKind.CLIENT, attributes, links: parent.links }, parent.context);
    return this.#run(span, parent.context, call);
  }

  /** Runs `call` with `span` active (so that an instrumented client below nests under it), ending it when settled. */
  #run(span: Span, parent: Context, call: () => Promise<void>): Promise<void> {
    let result: Promise<void>;
    try {
      result = context.with(trace.setSpan(parent, span), call);
    } catch (error) {
      // A layer that throws instead of rejecting: the caller still gets a rejection.
      recordFailure(span, error);
      span.end();
      return Promise.reject(error);
    }
    return endWith(span, result) as Promise<void>;
  }
}

/** The `switchyard.event.type` attribute of a message, in a fresh object the caller may add to. */
function eventType(message: LayerMessage): Attributes {
  const type = typeOf(message);
  return type === undefined ? {} : { [ATTR.eventType]: type };
}

/** Layers wrapped for consumers, one wrapper per layer. */
const wrapped = new WeakMap<ChannelLayer, ChannelLayer>();

/** True when `layer` is a {@link TracedLayer} or wraps one (through `DelegatingLayer`s). */
function isTraced(layer: ChannelLayer): boolean {
  for (let at: ChannelLayer | undefined = layer; at !== undefined; at = at instanceof DelegatingLayer ? at.inner : undefined) {
    if (at instanceof TracedLayer) return true;
  }
  return false;
}

/**
 * `layer` traced: as it is when it is (or wraps) a {@link TracedLayer}, else
 * one shared `TracedLayer` around it (the same one on every call).
 *
 * @example
 * ```ts
 * import { InMemoryChannelLayer } from 'switchyard';
 * import { tracedLayer } from 'switchyard/tracing';
 *
 * const layer = tracedLayer(new InMemoryChannelLayer());
 * console.log(tracedLayer(layer) === layer); // true
 * ```
 */
export function tracedLayer(layer: ChannelLayer): ChannelLayer {
  if (isTraced(layer)) return layer;
  let traced = wrapped.get(layer);
  if (traced === undefined) wrapped.set(layer, (traced = new TracedLayer(layer)));
  return traced;
}
