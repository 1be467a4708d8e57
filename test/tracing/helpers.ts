// Shared helpers of the tracing tests: an in-memory OpenTelemetry SDK set up
// the way an application would (global AsyncLocalStorage context manager, a
// provider with a span processor), spans as plain records (what a child
// process writes as JSON lines), and a span tree printed for a reader.
import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { enableTracing } from 'switchyard/tracing';

/** A span as the tests read it (and as a child process writes it, one JSON line each). */
export interface SpanRecord {
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  attributes: Record<string, unknown>;
  status: { code: number; message?: string };
  events: string[];
  links: string[];
  /** Start time, ms since the epoch (fractional). */
  start: number;
  /** Duration, ms (fractional). */
  durationMs: number;
  /** Which process recorded it (set by the two-process test). */
  process?: string;
}

/** A span as a {@link SpanRecord}. */
export function recordOf(span: ReadableSpan, process?: string): SpanRecord {
  const { traceId, spanId } = span.spanContext();
  return {
    name: span.name,
    kind: span.kind,
    traceId,
    spanId,
    parentSpanId: span.parentSpanContext?.spanId ?? null,
    attributes: { ...span.attributes },
    status: { ...span.status },
    events: span.events.map((event) => event.name),
    links: span.links.map((link) => link.context.spanId),
    start: span.startTime[0] * 1000 + span.startTime[1] / 1e6,
    durationMs: span.duration[0] * 1000 + span.duration[1] / 1e6,
    ...(process === undefined ? {} : { process }),
  };
}

/** Sets up the SDK with an in-memory exporter and enables Switchyard's tracing with it. */
export function tracingIntoMemory(): { exporter: InMemorySpanExporter; provider: BasicTracerProvider; spans: () => SpanRecord[] } {
  const exporter = new InMemorySpanExporter();
  const provider = install(exporter);
  return { exporter, provider, spans: () => exporter.getFinishedSpans().map((span) => recordOf(span)) };
}

/** Sets up the SDK (global context manager, a provider exporting to `exporter` span by span) and enables tracing. */
export function install(exporter: SpanExporter): BasicTracerProvider {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  enableTracing({ tracerProvider: provider });
  return provider;
}

const KINDS = ['INTERNAL', 'SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER'];

/** The attributes worth a reader's eye in a tree line. */
const SHOWN = ['messaging.destination.name', 'switchyard.channel', 'switchyard.event.type', 'url.path', 'http.response.status_code', 'switchyard.websocket.close_code'];

/**
 * One trace's spans as an indented tree, children in start order:
 * `[process] name (KIND, duration) key=value...`.
 */
export function spanTree(spans: readonly SpanRecord[]): string {
  const ids = new Set(spans.map((span) => span.spanId));
  const children = new Map<string | null, SpanRecord[]>();
  for (const span of spans) {
    const parent = span.parentSpanId !== null && ids.has(span.parentSpanId) ? span.parentSpanId : null;
    let list = children.get(parent);
    if (list === undefined) children.set(parent, (list = []));
    list.push(span);
  }
  const lines: string[] = [];
  const walk = (parent: string | null, depth: number): void => {
    for (const span of (children.get(parent) ?? []).sort((a, b) => a.start - b.start)) {
      const shown = SHOWN
        .filter((key) => span.attributes[key] !== undefined)
        // A handler's channel is its destination: said once.
        .filter((key) => key !== 'switchyard.channel' || span.attributes['messaging.destination.name'] === undefined)
        .map((key) => `${key}=${String(span.attributes[key])}`);
      const where = span.process === undefined ? '' : `[${span.process}] `;
      const status = span.status.code === 2 ? ' ERROR' : '';
      lines.push(`${'  '.repeat(depth)}${where}${span.name} (${KINDS[span.kind] ?? span.kind}, ${span.durationMs.toFixed(2)} ms)${status} ${shown.join(' ')}`.trimEnd());
      walk(span.spanId, depth + 1);
    }
  };
  walk(null, 0);
  return lines.join('\n');
}
