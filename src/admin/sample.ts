/**
 * One process's stats sample: what the admin reporter publishes every
 * interval, and how it is read from the process.
 *
 * Every figure comes from where the process already keeps it: the servers'
 * WebSocket counts (their metrics registry, or plain counts without metrics:
 * `server/stats.ts`), the slow-consumer and recovery counters, the layer's
 * own record of its local group memberships (`ChannelLayer.localGroups`),
 * `process.memoryUsage()` and an event-loop delay histogram. A sample is a
 * plain object (msgpack- and JSON-safe: no `undefined`), a few hundred bytes
 * plus its busiest groups.
 */
import { hostname } from 'node:os';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { ChannelLayer } from '../layers/base.js';
import { slowConsumerActions } from '../layers/slow-consumers.js';
import { recoveryCounts } from '../consumers/recovery.js';
import { processServerStats } from '../server/stats.js';

/** The group every process's samples go to (the dashboards' processes listen on it). */
export const SAMPLES_GROUP = 'switchyard.admin.samples';

/** What one process publishes every interval (the `admin.sample` layer message). */
export interface ProcessSample {
  type: 'admin.sample';
  /** The process: `host:pid` unless configured. */
  id: string;
  host: string;
  pid: number;
  /** The reporter's own channel: where this process takes admin commands. */
  channel: string;
  /** When the reporter started and when this sample was taken (ms since the epoch). */
  startedAt: number;
  at: number;
  /** Milliseconds between samples. */
  interval: number;
  /** Servers running in the process (0: an app without `serve()`, e.g. a worker). */
  servers: number;
  /** WebSocket figures since the servers started. */
  ws: { open: number; connects: number; disconnects: number; refused: number; messagesIn: number; messagesOut: number; bytesIn: number; bytesOut: number; sendBufferOverflows: number };
  /** Per second, since the previous sample. */
  rates: { connects: number; disconnects: number; messagesIn: number; messagesOut: number };
  /** What slow-consumer policies did, by action. */
  slowConsumer: Record<string, number>;
  /** Recovery outcomes and replayed messages. */
  recovery: { recovered: number; notRecovered: number; replayed: number };
  /** The layer: whether its last operation succeeded, and that operation's round trip. */
  layer: { connected: boolean; rttMs: number | null; errors: number | null; error: string | null };
  /** Bytes. */
  memory: { rss: number; heapUsed: number; heapTotal: number };
  /** Event-loop delay over the last interval, in milliseconds. */
  eventLoop: { p50: number; p99: number; max: number };
  /** Groups this process's channels are in: how many, and the busiest with their local member counts. */
  groups: { available: boolean; total: number; top: Array<[string, number]> };
}

/** What the layer's health was at the last operation (kept by the reporter). */
export interface LayerHealth { connected: boolean; rttMs: number | null; error: string | null }

/** Milliseconds between the event-loop delay monitor's ticks. */
const LOOP_RESOLUTION = 10;

const round = (value: number, digits = 2): number => Math.round(value * 10 ** digits) / 10 ** digits;

/**
 * Takes a process's samples: counters since the previous one become rates,
 * and the event-loop delay histogram is reset each time.
 */
export class Sampler {
  readonly #id: string;
  readonly #topGroups: number;
  readonly #startedAt = Date.now();
  readonly #loop: IntervalHistogram;
  #previous: { at: number; connects: number; disconnects: number; messagesIn: number; messagesOut: number } | null = null;

  constructor(options: { id?: string; topGroups: number }) {
    this.#id = options.id ?? `${hostname()}:${process.pid}`;
    this.#topGroups = options.topGroups;
    this.#loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION });
    this.#loop.enable();
  }

  get id(): string { return this.#id; }

  /** A sample of the process now, for a reporter with `channel` on `layer`. */
  async take(layer: ChannelLayer, channel: string, interval: number, health: LayerHealth): Promise<ProcessSample> {
    const { servers, stats } = await processServerStats();
    const at = Date.now();
    const previous = this.#previous;
    const seconds = previous === null ? 0 : Math.max(0.001, (at - previous.at) / 1000);
    const rate = (now: number, before: number | undefined): number =>
      previous === null || before === undefined ? 0 : round(Math.max(0, now - before) / seconds);
    const rates = {
      connects: rate(stats.connects, previous?.connects),
      disconnects: rate(stats.disconnects, previous?.disconnects),
      messagesIn: rate(stats.messagesIn, previous?.messagesIn),
      messagesOut: rate(stats.messagesOut, previous?.messagesOut),
    };
    this.#previous = { at, connects: stats.connects, disconnects: stats.disconnects, messagesIn: stats.messagesIn, messagesOut: stats.messagesOut };
    const { layerErrors, ...ws } = stats;
    const memory = process.memoryUsage();
    // The histogram records the time between its timer's ticks: the delay is what exceeds the resolution.
    const delay = (nanos: number): number => round(Math.max(0, nanos / 1e6 - LOOP_RESOLUTION));
    const eventLoop = { p50: delay(this.#loop.percentile(50)), p99: delay(this.#loop.percentile(99)), max: delay(this.#loop.max) };
    this.#loop.reset();
    return {
      type: 'admin.sample',
      id: this.#id,
      host: hostname(),
      pid: process.pid,
      channel,
      startedAt: this.#startedAt,
      at,
      interval,
      servers,
      ws,
      rates,
      slowConsumer: { ...slowConsumerActions() },
      recovery: { recovered: recoveryCounts.recovered, notRecovered: recoveryCounts.notRecovered, replayed: recoveryCounts.replayed },
      layer: { connected: health.connected, rttMs: health.rttMs, errors: layerErrors, error: health.error },
      memory: { rss: memory.rss, heapUsed: memory.heapUsed, heapTotal: memory.heapTotal },
      eventLoop,
      groups: busiestGroups(layer, this.#topGroups),
    };
  }

  /** Stops the event-loop monitor. */
  close(): void {
    this.#loop.disable();
  }
}

/** The local groups with the most members (the admin's own group left out), and how many there are. */
function busiestGroups(layer: ChannelLayer, limit: number): ProcessSample['groups'] {
  if (typeof layer.localGroups !== 'function') return { available: false, total: 0, top: [] };
  const sizes: Array<[string, number]> = [];
  for (const [group, members] of layer.localGroups()) {
    if (group !== SAMPLES_GROUP && members.size > 0) sizes.push([group, members.size]);
  }
  sizes.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  return { available: true, total: sizes.length, top: sizes.slice(0, limit) };
}
