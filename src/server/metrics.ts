/**
 * Opt-in Prometheus metrics (`metricsPath` option / `--metrics-path`).
 *
 * Each server owns a prom-client `Registry`, so several servers in one process
 * (tests) do not collide. Label children are bound once here so that counting
 * a message on the hot path is a property increment, not a label lookup.
 * With `--workers N` each worker serves its own numbers (scrape per worker or
 * sum them in Prometheus).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ChannelLayer } from '../layers/base.js';

type Child = { inc(value?: number): void };

/**
 * The server's instruments (`server.metrics` when `metricsPath` is set).
 *
 * @example
 * ```ts
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

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'switchyard_process_' });
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
    this.httpRequests = new Counter({ name: 'switchyard_http_requests_total', help: 'HTTP requests by status', labelNames: ['status'], registers });
    this.httpDuration = new Histogram({
      name: 'switchyard_http_request_duration_seconds', help: 'HTTP request duration', registers,
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
    });
    this.layerOps = new Histogram({
      name: 'switchyard_layer_operation_seconds', help: 'Channel layer operation latency', labelNames: ['op'], registers,
      buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1],
    });
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
   * Times `send`, `groupSend`, `groupAdd` and `groupDiscard` of a layer
   * instance (wrapping its methods once; `receive` waits by design, so it is not timed).
   */
  instrumentLayer(layer: ChannelLayer): void {
    const marked = layer as ChannelLayer & { [INSTRUMENTED]?: boolean };
    if (marked[INSTRUMENTED] === true) return;
    marked[INSTRUMENTED] = true;
    for (const op of ['send', 'groupSend', 'groupAdd', 'groupDiscard'] as const) {
      const original = layer[op].bind(layer) as (a: never, b: never) => Promise<void>;
      const timer = this.layerOps.labels(op);
      (layer as unknown as Record<string, unknown>)[op] = async (a: never, b: never): Promise<void> => {
        const end = timer.startTimer();
        try {
          await original(a, b);
        } finally {
          end();
        }
      };
    }
  }
}

const INSTRUMENTED = Symbol('switchyard.metricsInstrumented');
