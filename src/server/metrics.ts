/**
 * Opt-in Prometheus metrics (`metricsPath` option / `--metrics-path`).
 *
 * Each server owns a prom-client `Registry`, so several servers in one process
 * (tests) do not collide. Label children are bound once here so that counting
 * a message on the hot path is a property increment, not a label lookup.
 * The WebSocket instruments are an observer of the server's connections
 * ({@link webSocketCounters}, handed to the hub at startup:
 * websocket-events.ts); layer operations are timed by wrapping the layer
 * (timed-layer.ts).
 * With `--workers N` under the Switchyard CLI, the worker that gets the
 * scrape asks the primary, which gathers every worker's registry through
 * prom-client's `AggregatorRegistry`: one scrape shows the whole server.
 */
import cluster from 'node:cluster';
import { recoveryCounts } from '../consumers/recovery.js';
import { typedCounts } from '../consumers/typed.js';
import { slowConsumerActions } from '../layers/slow-consumers.js';
import { AggregatorRegistry, Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type PrometheusContentType } from 'prom-client';
import type { ChannelLayer } from '../layers/base.js';
import { TimedLayer } from './timed-layer.js';
import type { WebSocketEvents } from './websocket-events.js';

type Child = { inc(value?: number): void };

/**
 * The server's instruments (`server.metrics` when `metricsPath` is set).
 *
 * @example
 * ```ts
 * import type { Application } from 'switchyard';
 * import { serve } from 'switchyard/server';
 *
 * declare const app: Application;
 * const server = await serve(app, { metricsPath: '/metrics' });
 * const text = await server.metrics!.registry.metrics(); // what GET /metrics answers
 * ```
 */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly wsOpen: Gauge;
  readonly wsConnects: Child;
  readonly #wsDisconnects: Counter;
  readonly #disconnectChildren = new Map<number, Child>();
  readonly wsMessagesIn: Child;
  readonly wsMessagesOut: Child;
  readonly wsBytesIn: Child;
  readonly wsBytesOut: Child;
  readonly wsSendBufferDrops: Child;
  readonly wsRejected: Child;
  readonly httpRequests: Counter;
  readonly httpDuration: Histogram;
  readonly layerOps: Histogram;
  /** Failed layer operations, by operation and error class. */
  readonly layerErrors: Counter<'op' | 'error'>;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry }); // standard names (process_*, nodejs_*), as dashboards expect
    this.wsOpen = new Gauge({ name: 'switchyard_ws_connections_open', help: 'Open WebSocket connections', registers });
    this.wsConnects = new Counter({ name: 'switchyard_ws_connects_total', help: 'Accepted WebSocket handshakes', registers });
    this.wsRejected = new Counter({ name: 'switchyard_ws_rejected_total', help: 'WebSocket handshakes refused (403/500)', registers });
    this.#wsDisconnects = new Counter({
      name: 'switchyard_ws_disconnects_total', help: 'Closed WebSocket connections by close code', labelNames: ['code'], registers,
    });
    const messages = new Counter({ name: 'switchyard_ws_messages_total', help: 'WebSocket messages', labelNames: ['direction'], registers });
    const bytes = new Counter({ name: 'switchyard_ws_bytes_total', help: 'WebSocket payload bytes', labelNames: ['direction'], registers });
    this.wsMessagesIn = messages.labels('in');
    this.wsMessagesOut = messages.labels('out');
    this.wsBytesIn = bytes.labels('in');
    this.wsBytesOut = bytes.labels('out');
    this.wsSendBufferDrops = new Counter({
      name: 'switchyard_ws_send_buffer_overflows_total', help: 'Connections closed because their outgoing buffer went over the bound', registers,
    });
    // Counted where they happen (channel mailboxes, recovery sessions, typed consumers); read at each scrape.
    countedElsewhere(registers, 'switchyard_slow_consumer_actions_total', 'What slow-consumer policies did, by action', 'action', slowConsumerActions);
    countedElsewhere(registers, 'switchyard_recovery_total', 'Recovery outcomes: recovered (every missed message replayed), not_recovered (a loss told to the client)', 'outcome',
      () => ({ recovered: recoveryCounts.recovered, not_recovered: recoveryCounts.notRecovered }));
    countedElsewhere(registers, 'switchyard_recovery_replayed_messages_total', 'Messages replayed from group histories to recovering clients', null, () => recoveryCounts.replayed);
    countedElsewhere(registers, 'switchyard_invalid_messages_total', 'Messages that failed a typed consumer\'s schema: from a client (answered with an error frame) or through the layer (dropped)', 'source',
      () => ({ client: typedCounts.invalidMessages, layer: typedCounts.invalidEvents }));
    countedElsewhere(registers, 'switchyard_request_errors_total', 'Requests answered with an error, by code', 'code', () => typedCounts.requestErrors);
    this.httpRequests = new Counter({ name: 'switchyard_http_requests_total', help: 'HTTP requests by status', labelNames: ['status'], registers });
    this.httpDuration = new Histogram({
      name: 'switchyard_http_request_duration_seconds', help: 'HTTP request duration', registers,
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
    });
    this.layerOps = new Histogram({
      name: 'switchyard_layer_operation_seconds', help: 'Channel layer operation latency', labelNames: ['op'], registers,
      buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1],
    });
    this.layerErrors = new Counter({
      name: 'switchyard_layer_errors_total', help: 'Failed channel layer operations, by operation and error class', labelNames: ['op', 'error'], registers,
    });
    // Every worker must answer the primary's gathering, not only the one that got the scrape.
    if (inSwitchyardCluster()) shareRegistry(this.registry);
  }

  /**
   * The text a scrape gets: this process's registry, or, in a worker of the
   * Switchyard CLI's cluster, the sum over all workers (gathered by the primary).
   */
  async collect(): Promise<{ text: string; contentType: string }> {
    if (inSwitchyardCluster()) {
      const text = await askPrimary();
      if (text !== null) return { text, contentType: this.registry.contentType };
    }
    return { text: await this.registry.metrics(), contentType: this.registry.contentType };
  }

  /** Counts a closed connection under its close code. */
  disconnected(code: number): void {
    let child = this.#disconnectChildren.get(code);
    if (child === undefined) {
      child = this.#wsDisconnects.labels(String(code));
      this.#disconnectChildren.set(code, child);
    }
    child.inc();
  }

  /**
   * `layer`, wrapped so that `send`, `groupSend`, `groupAdd` and
   * `groupDiscard` are timed (`receive` waits by design, so it is not);
   * everything else, taps and leases included, is the layer's own.
   * A layer already timed is returned as it is.
   */
  timeLayer(layer: ChannelLayer): ChannelLayer {
    return layer instanceof TimedLayer ? layer : new TimedLayer(layer, this.layerOps, this.layerErrors);
  }
}

/**
 * A counter whose values another module keeps (a plain number, or one per
 * value of `label`), read at each scrape: the hot path counts with an
 * increment, and prom-client is only asked at scrape time.
 */
function countedElsewhere(
  registers: Registry[], name: string, help: string, label: string | null, read: () => number | Readonly<Record<string, number>>,
): void {
  new Counter({
    name, help, registers, labelNames: label === null ? [] : [label],
    collect() {
      this.reset();
      const counts = read();
      if (typeof counts === 'number') this.inc(counts);
      else for (const [value, count] of Object.entries(counts)) this.labels(value).inc(count);
    },
  });
}

/** The WebSocket instruments of `metrics` as an observer of connection events (internal: not part of `ServerMetrics`). */
export function webSocketCounters(metrics: ServerMetrics): WebSocketEvents {
  const { wsOpen, wsConnects, wsRejected, wsMessagesIn, wsBytesIn, wsMessagesOut, wsBytesOut, wsSendBufferDrops } = metrics;
  return {
    handshaking(): void {},
    abandoned(): void {},
    refused(): void { wsRejected.inc(); },
    opened(): void { wsConnects.inc(); wsOpen.inc(); },
    received(_conn, bytes): void { wsMessagesIn.inc(); wsBytesIn.inc(bytes); },
    sent(_conn, bytes): void { wsMessagesOut.inc(); wsBytesOut.inc(bytes); },
    overflowed(): void { wsSendBufferDrops.inc(); },
    closed(_conn, code): void { wsOpen.dec(); metrics.disconnected(code); },
  };
}

// ---- cluster aggregation -------------------------------------------------------

/** IPC message type of a worker's scrape request and the primary's answer. */
export const METRICS_MESSAGE = 'switchyard:metrics';

let shared: Registry | null = null;

/** A worker forked by the Switchyard CLI's primary (which answers metrics requests). */
function inSwitchyardCluster(): boolean {
  return cluster.isWorker && process.env.SWITCHYARD_CLUSTER_WORKERS !== undefined && process.send !== undefined;
}

/** Makes this worker's registry the one prom-client reports to the primary. */
function shareRegistry(registry: Registry): void {
  if (shared === registry) return;
  shared = registry;
  new AggregatorRegistry(); // installs prom-client's worker-side listener
  AggregatorRegistry.setRegistries([registry]);
}

let nextRequest = 0;
const pending = new Map<number, (text: string | null) => void>();
let listening = false;

function askPrimary(): Promise<string | null> {
  if (!listening) {
    listening = true;
    process.on('message', (message: { type?: string; id?: number; text?: string | null }) => {
      if (message?.type !== METRICS_MESSAGE || typeof message.id !== 'number') return;
      pending.get(message.id)?.(message.text ?? null);
      pending.delete(message.id);
    });
  }
  const id = nextRequest++;
  return new Promise((resolve) => {
    const timer = setTimeout(() => { pending.delete(id); resolve(null); }, 5000);
    pending.set(id, (text) => { clearTimeout(timer); resolve(text); });
    process.send!({ type: METRICS_MESSAGE, id });
  });
}

let aggregator: AggregatorRegistry<PrometheusContentType> | null = null;

/** Primary side: answers a worker's scrape request with every worker's metrics summed. */
export function answerMetricsRequest(worker: { send(message: unknown): boolean }, message: unknown): boolean {
  const request = message as { type?: string; id?: number } | null;
  if (request?.type !== METRICS_MESSAGE || typeof request.id !== 'number') return false;
  aggregator ??= new AggregatorRegistry();
  aggregator.clusterMetrics().then(
    (text) => worker.send({ type: METRICS_MESSAGE, id: request.id, text }),
    () => worker.send({ type: METRICS_MESSAGE, id: request.id, text: null }),
  );
  return true;
}
