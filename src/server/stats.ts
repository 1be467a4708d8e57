/**
 * What this process's running servers have seen, readable in-process (the
 * admin dashboard's samples, `switchyard/admin`).
 *
 * How this works. A server with `metricsPath` already counts everything in
 * its prom-client registry: its figures are read from there, nothing is
 * counted twice. A server without metrics hands its connections' events to
 * {@link WebSocketCounts} instead (plain integers, no labels), so the figures
 * exist either way. Each running server is registered here until it closes.
 */
import type { ServerMetrics } from './metrics.js';
import type { WebSocketEvents } from './websocket-events.js';

/** WebSocket figures of one server (or of all of a process's servers, summed), since it started. */
export interface ServerStats {
  /** Open connections right now. */
  open: number;
  /** Accepted handshakes. */
  connects: number;
  /** Closed connections. */
  disconnects: number;
  /** Handshakes refused (403/500/503). */
  refused: number;
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
  /** Connections closed because their outgoing buffer went over the bound. */
  sendBufferOverflows: number;
  /** Failed layer operations (only a server with metrics counts them), or null. */
  layerErrors: number | null;
}

/** The WebSocket figures of a server without metrics: plain counters, as the observer of its connections. */
export class WebSocketCounts implements WebSocketEvents {
  readonly stats: ServerStats = {
    open: 0, connects: 0, disconnects: 0, refused: 0, messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0, sendBufferOverflows: 0, layerErrors: null,
  };

  handshaking(): void {}
  abandoned(): void {}
  refused(): void { this.stats.refused++; }
  opened(): void { this.stats.connects++; this.stats.open++; }
  closed(): void { this.stats.open--; this.stats.disconnects++; }
  received(_conn: unknown, bytes: number): void { this.stats.messagesIn++; this.stats.bytesIn += bytes; }
  sent(_conn: unknown, bytes: number): void { this.stats.messagesOut++; this.stats.bytesOut += bytes; }
  overflowed(): void { this.stats.sendBufferOverflows++; }
}

/** Reads one running server's figures. */
type StatsReader = () => Promise<ServerStats>;

const running = new Set<StatsReader>();

/**
 * Registers a running server (its metrics, or its plain counts); returns
 * the function that unregisters it (at close).
 */
export function registerServer(source: ServerMetrics | WebSocketCounts): () => void {
  const read: StatsReader = source instanceof WebSocketCounts ? async () => ({ ...source.stats }) : () => fromRegistry(source);
  running.add(read);
  return () => running.delete(read);
}

/**
 * The figures of every server running in this process, summed, and how many
 * there are (0: none, e.g. an app driven by the test communicators).
 *
 * @example
 * ```ts
 * import { processServerStats } from './stats.js';
 *
 * const { servers, stats } = await processServerStats();
 * console.log(`${servers} server(s), ${stats.open} open WebSocket connection(s)`);
 * ```
 */
export async function processServerStats(): Promise<{ servers: number; stats: ServerStats }> {
  const all = await Promise.all([...running].map((read) => read()));
  const stats: ServerStats = {
    open: 0, connects: 0, disconnects: 0, refused: 0, messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0, sendBufferOverflows: 0, layerErrors: null,
  };
  for (const one of all) {
    for (const key of ['open', 'connects', 'disconnects', 'refused', 'messagesIn', 'messagesOut', 'bytesIn', 'bytesOut', 'sendBufferOverflows'] as const) {
      stats[key] += one[key];
    }
    if (one.layerErrors !== null) stats.layerErrors = (stats.layerErrors ?? 0) + one.layerErrors;
  }
  return { servers: all.length, stats };
}

/** A metric's values summed, optionally only those whose `label` is `value`. */
async function total(metrics: ServerMetrics, name: string, label?: string, value?: string): Promise<number> {
  const metric = metrics.registry.getSingleMetric(name);
  if (metric === undefined) return 0;
  const { values } = await metric.get();
  let sum = 0;
  for (const entry of values) {
    if (label === undefined || (entry.labels as Record<string, unknown>)[label] === value) sum += entry.value;
  }
  return sum;
}

async function fromRegistry(metrics: ServerMetrics): Promise<ServerStats> {
  const [open, connects, disconnects, refused, messagesIn, messagesOut, bytesIn, bytesOut, sendBufferOverflows, layerErrors] = await Promise.all([
    total(metrics, 'switchyard_ws_connections_open'),
    total(metrics, 'switchyard_ws_connects_total'),
    total(metrics, 'switchyard_ws_disconnects_total'),
    total(metrics, 'switchyard_ws_rejected_total'),
    total(metrics, 'switchyard_ws_messages_total', 'direction', 'in'),
    total(metrics, 'switchyard_ws_messages_total', 'direction', 'out'),
    total(metrics, 'switchyard_ws_bytes_total', 'direction', 'in'),
    total(metrics, 'switchyard_ws_bytes_total', 'direction', 'out'),
    total(metrics, 'switchyard_ws_send_buffer_overflows_total'),
    total(metrics, 'switchyard_layer_errors_total'),
  ]);
  return { open, connects, disconnects, refused, messagesIn, messagesOut, bytesIn, bytesOut, sendBufferOverflows, layerErrors };
}
