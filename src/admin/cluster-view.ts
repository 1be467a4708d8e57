/**
 * The cluster as one dashboard process sees it: the latest sample of every
 * process, aggregated.
 *
 * How this works. While someone looks (a dashboard connection open, or a
 * snapshot asked for in the last `linger` ms), the view has one channel in
 * {@link SAMPLES_GROUP} and keeps each process's latest sample, by the time
 * it arrived here (so clocks of other hosts do not matter). A process not
 * heard from for 2.5 of its intervals is marked stale; after `goneAfter` it
 * is dropped (a killed process stops appearing within a few missed samples).
 * Every interval the view sums the live processes into one point of the
 * time series it keeps (`historyLength` points) and hands a snapshot to its
 * subscribers (the dashboard connections of this process). Nobody looking,
 * the view leaves the group: processes that only report cost one message a
 * second each, not one per listener.
 */
import type { LayerMessage } from '../asgi.js';
import type { ChannelLayer } from '../layers/base.js';
import { logger } from '../log.js';
import type { Presence } from '../presence/presence.js';
import { SAMPLES_GROUP, type ProcessSample } from './sample.js';

/** One process in a {@link ClusterSnapshot}. */
export interface ProcessView extends Omit<ProcessSample, 'type' | 'groups'> {
  /** Milliseconds since its last sample arrived. */
  lastSeenMs: number;
  /** No sample for more than 2.5 intervals (gone soon, or its layer is away). */
  stale: boolean;
  /** How many groups its channels are in (null when its layer cannot tell). */
  groups: number | null;
}

/** A group of the cluster: members summed over the processes that reported it among their busiest. */
export interface GroupView { name: string; members: number; processes: number }

/** A presence topic: distinct keys (users) and entries (connections). */
export interface PresenceView { topic: string; users: number; entries: number }

/** One point of the cluster's time series: per-second rates and open connections, summed over processes. */
export interface SeriesPoint { at: number; connects: number; disconnects: number; messagesIn: number; messagesOut: number; open: number }

/** What a dashboard shows: the cluster now, and its recent past. */
export interface ClusterSnapshot {
  type: 'admin.snapshot';
  at: number;
  interval: number;
  totals: {
    processes: number;
    open: number;
    connects: number;
    disconnects: number;
    messagesIn: number;
    messagesOut: number;
    rates: SeriesPoint;
    slowConsumer: Record<string, number>;
    recovery: { recovered: number; notRecovered: number; replayed: number };
    layerDown: number;
  };
  processes: ProcessView[];
  groups: GroupView[];
  /** Null when the dashboard was given no presence. */
  presence: PresenceView[] | null;
  series: SeriesPoint[];
}

/** Options of a {@link ClusterView}. */
export interface ClusterViewOptions {
  layer: () => ChannelLayer | null;
  interval: number;
  /** Milliseconds without a sample after which a process is dropped. */
  goneAfter: number;
  /** Points of the time series kept. */
  historyLength: number;
  /** Groups and presence topics listed. */
  topGroups: number;
  /** Milliseconds the view keeps listening after its last user left. */
  linger: number;
  /** The presence replica whose topics are listed (looked up when used), or null. */
  presence: () => Presence | null;
}

interface Heard { sample: ProcessSample; receivedAt: number }

const isSample = (message: LayerMessage): message is LayerMessage & ProcessSample =>
  message.type === 'admin.sample' && typeof (message as { id?: unknown }).id === 'string' &&
  typeof (message as { ws?: unknown }).ws === 'object' && typeof (message as { groups?: unknown }).groups === 'object';

/**
 * The cluster's samples, aggregated for the dashboards of this process.
 *
 * @example
 * ```ts
 * import { getChannelLayer } from 'switchyard';
 * import { ClusterView } from './cluster-view.js';
 *
 * const view = new ClusterView({ layer: () => getChannelLayer(), interval: 1000, goneAfter: 5000, historyLength: 120, topGroups: 20, linger: 30_000, presence: () => null });
 * const release = view.acquire();
 * await view.ready();
 * console.log(view.snapshot().totals.open);
 * release();
 * ```
 */
export class ClusterView {
  readonly #options: ClusterViewOptions;
  readonly #processes = new Map<string, Heard>();
  readonly #series: SeriesPoint[] = [];
  readonly #subscribers = new Set<(snapshot: ClusterSnapshot) => void>();
  #users = 0;
  #lingerUntil = 0;
  #listening: { abort: AbortController; layer: ChannelLayer; channel: Promise<string>; since: number } | null = null;
  #timer: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(options: ClusterViewOptions) {
    this.#options = options;
  }

  /** Starts listening (if not yet) for a user; returns the release (idempotent). */
  acquire(): () => void {
    this.#users++;
    this.#start();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#users--;
      this.#lingerUntil = Date.now() + this.#options.linger;
    };
  }

  /** Listens for `linger` ms at least (a snapshot request). */
  touch(): void {
    this.#lingerUntil = Math.max(this.#lingerUntil, Date.now() + this.#options.linger);
    this.#start();
  }

  /**
   * Resolves once the view has listened for more than one interval (so a
   * first snapshot holds every live process), at once when it has already.
   */
  async ready(): Promise<void> {
    const listening = this.#listening;
    if (listening === null) return;
    await listening.channel.catch(() => {});
    const wait = listening.since + this.#options.interval * 1.5 - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }

  /** Calls `listener` with a snapshot every interval while listening; returns the unsubscribe. */
  subscribe(listener: (snapshot: ClusterSnapshot) => void): () => void {
    this.#subscribers.add(listener);
    return () => this.#subscribers.delete(listener);
  }

  /** The channel of a live process (commands go there), or null. */
  processChannel(id: string): string | null {
    return this.#processes.get(id)?.sample.channel || null;
  }

  /** Every live process's id and command channel. */
  liveProcesses(): Array<{ id: string; channel: string }> {
    return [...this.#processes.values()].filter(({ sample }) => sample.channel !== '').map(({ sample }) => ({ id: sample.id, channel: sample.channel }));
  }

  /** The cluster now. */
  snapshot(): ClusterSnapshot {
    const now = Date.now();
    this.#prune(now);
    const heard = [...this.#processes.values()].sort((a, b) => (a.sample.id < b.sample.id ? -1 : 1));
    const processes = heard.map(({ sample, receivedAt }): ProcessView => {
      const { type: _type, groups, ...rest } = sample;
      const lastSeenMs = now - receivedAt;
      return { ...rest, lastSeenMs, stale: lastSeenMs > sample.interval * 2.5, groups: groups.available ? groups.total : null };
    });
    const slowConsumer: Record<string, number> = {};
    const recovery = { recovered: 0, notRecovered: 0, replayed: 0 };
    const totals = { processes: processes.length, open: 0, connects: 0, disconnects: 0, messagesIn: 0, messagesOut: 0, layerDown: 0 };
    const groups = new Map<string, GroupView>();
    for (const { sample } of heard) {
      totals.open += sample.ws.open;
      totals.connects += sample.ws.connects;
      totals.disconnects += sample.ws.disconnects;
      totals.messagesIn += sample.ws.messagesIn;
      totals.messagesOut += sample.ws.messagesOut;
      if (!sample.layer.connected) totals.layerDown++;
      for (const [action, count] of Object.entries(sample.slowConsumer)) slowConsumer[action] = (slowConsumer[action] ?? 0) + count;
      recovery.recovered += sample.recovery.recovered;
      recovery.notRecovered += sample.recovery.notRecovered;
      recovery.replayed += sample.recovery.replayed;
      for (const [name, members] of sample.groups.top) {
        const group = groups.get(name);
        if (group === undefined) groups.set(name, { name, members, processes: 1 });
        else { group.members += members; group.processes++; }
      }
    }
    const busiest = [...groups.values()].sort((a, b) => b.members - a.members || (a.name < b.name ? -1 : 1)).slice(0, this.#options.topGroups);
    return {
      type: 'admin.snapshot',
      at: now,
      interval: this.#options.interval,
      totals: { ...totals, rates: this.#point(now), slowConsumer, recovery },
      processes,
      groups: busiest,
      presence: this.#presence(),
      series: [...this.#series],
    };
  }

  /** Stops listening for good. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#subscribers.clear();
    await this.#stop();
  }

  #start(): void {
    if (this.#closed) return;
    if (this.#timer === null) {
      this.#timer = setInterval(() => this.#tick(), this.#options.interval);
      this.#timer.unref();
    }
    if (this.#listening !== null) return;
    let layer: ChannelLayer | null;
    try {
      layer = this.#options.layer();
    } catch (error) {
      logger.warn({ err: error }, 'admin: no channel layer: the dashboard cannot listen yet');
      return;
    }
    if (layer === null) return;
    const abort = new AbortController();
    const channel = (async () => {
      const name = await layer.newChannel('admin');
      await layer.groupAdd(SAMPLES_GROUP, name);
      return name;
    })();
    this.#listening = { abort, layer, channel, since: Date.now() };
    this.#options.presence()?.start().catch((error: unknown) => logger.warn({ err: error }, 'admin: presence replica did not start'));
    void this.#receive(layer, channel, abort.signal);
  }

  async #receive(layer: ChannelLayer, named: Promise<string>, signal: AbortSignal): Promise<void> {
    let channel: string;
    try {
      channel = await named;
    } catch (error) {
      logger.warn({ err: error }, 'admin: cannot join the samples group; retrying at the next interval');
      if (this.#listening?.abort.signal === signal) this.#listening = null;
      return;
    }
    let failures = 0;
    while (!signal.aborted) {
      try {
        const message = await layer.receive(channel, signal);
        failures = 0;
        if (isSample(message)) this.#processes.set(message.id, { sample: message, receivedAt: Date.now() });
      } catch (error) {
        if (signal.aborted) return;
        if (failures++ === 0) logger.warn({ err: error }, 'admin: cannot receive samples; retrying');
        await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 100 * 2 ** failures)).unref());
      }
    }
  }

  #tick(): void {
    const now = Date.now();
    if (this.#users === 0 && now > this.#lingerUntil) {
      void this.#stop();
      return;
    }
    if (this.#listening === null) this.#start(); // a failed join is retried
    this.#prune(now);
    this.#series.push(this.#point(now));
    if (this.#series.length > this.#options.historyLength) this.#series.shift();
    if (this.#subscribers.size === 0) return;
    const snapshot = this.snapshot();
    for (const listener of this.#subscribers) listener(snapshot);
  }

  #point(now: number): SeriesPoint {
    const point: SeriesPoint = { at: now, connects: 0, disconnects: 0, messagesIn: 0, messagesOut: 0, open: 0 };
    for (const { sample } of this.#processes.values()) {
      point.connects += sample.rates.connects;
      point.disconnects += sample.rates.disconnects;
      point.messagesIn += sample.rates.messagesIn;
      point.messagesOut += sample.rates.messagesOut;
      point.open += sample.ws.open;
    }
    return point;
  }

  #prune(now: number): void {
    for (const [id, { receivedAt }] of this.#processes) if (now - receivedAt > this.#options.goneAfter) this.#processes.delete(id);
  }

  #presence(): PresenceView[] | null {
    const presence = this.#options.presence();
    if (presence === null) return null;
    const topics = presence.topics().map((topic): PresenceView => {
      const list = presence.list(topic);
      let entries = 0;
      for (const key in list) entries += list[key]!.metas.length;
      return { topic, users: Object.keys(list).length, entries };
    });
    return topics.sort((a, b) => b.users - a.users || (a.topic < b.topic ? -1 : 1)).slice(0, this.#options.topGroups);
  }

  async #stop(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    const listening = this.#listening;
    this.#listening = null;
    this.#processes.clear();
    this.#series.length = 0;
    if (listening === null) return;
    listening.abort.abort();
    const channel = await listening.channel.catch(() => null);
    if (channel !== null) await listening.layer.groupDiscard(SAMPLES_GROUP, channel).catch(() => {});
  }
}
