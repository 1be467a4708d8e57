/**
 * The admin reporter: one per process that mounts (or enables) the admin.
 *
 * How this works. Every `interval` the reporter takes a {@link Sampler}
 * sample and sends it to {@link SAMPLES_GROUP} with one `groupSend`: the
 * whole cost of the admin for a process nobody watches is that one small
 * layer message a second. The time that `groupSend` took is the layer's
 * round trip reported in the next sample; a failure marks the layer down
 * (with the error) until one succeeds again. A tick never overlaps the
 * previous one: a layer that hangs delays samples, it does not pile them up.
 *
 * The reporter also owns a channel, named in each sample, on which it takes
 * the dashboards' commands that need this process's local knowledge:
 * `admin.members` (the channels of a group that live here, answered to the
 * asker's channel) and `admin.close_group` (each of them is sent
 * `websocket.admin_close`, which `WebsocketConsumer` handles by closing).
 */
import type { LayerMessage } from '../asgi.js';
import type { ChannelLayer } from '../layers/base.js';
import { requireValidChannelName, requireValidGroupName } from '../layers/base.js';
import { logger } from '../log.js';
import { SAMPLES_GROUP, type LayerHealth, Sampler } from './sample.js';

/** The layer message a `WebsocketConsumer` closes on (see its `websocket_admin_close`). */
export const ADMIN_CLOSE = 'websocket.admin_close';

/** At most this many channels answer an `admin.members` request, per process. */
export const MAX_LISTED_MEMBERS = 200;

/** Options of an {@link AdminReporter}. */
export interface AdminReporterOptions {
  /** The layer, looked up at each tick (the registry's layer may be set after the app is built). */
  layer: () => ChannelLayer | null;
  /** Milliseconds between samples. */
  interval: number;
  /** This process's id in the dashboards. Default `host:pid`. */
  processId?: string;
  /** Busiest groups per sample. */
  topGroups: number;
}

/**
 * Publishes this process's samples and takes the dashboards' commands.
 *
 * @example
 * ```ts
 * import { getChannelLayer } from 'switchyard';
 * import { AdminReporter } from './reporter.js';
 *
 * const reporter = new AdminReporter({ layer: () => getChannelLayer(), interval: 1000, topGroups: 20 });
 * reporter.start();
 * await reporter.close();
 * ```
 */
export class AdminReporter {
  readonly #options: AdminReporterOptions;
  readonly #sampler: Sampler;
  readonly #health: LayerHealth = { connected: true, rttMs: null, error: null };
  #layer: ChannelLayer | null = null;
  #channel = '';
  #abort: AbortController | null = null;
  #timer: NodeJS.Timeout | null = null;
  #ticking: Promise<void> | null = null;
  #closed = false;

  constructor(options: AdminReporterOptions) {
    this.#options = options;
    this.#sampler = new Sampler({ id: options.processId, topGroups: options.topGroups });
  }

  /** This process's id in the dashboards. */
  get id(): string { return this.#sampler.id; }

  /** Starts sampling (idempotent): the first sample goes out at once. */
  start(): void {
    if (this.#timer !== null || this.#closed) return;
    this.#timer = setInterval(() => this.#tick(), this.#options.interval);
    this.#timer.unref();
    this.#tick();
  }

  /** Stops sampling and listening (idempotent); resolves once the tick in flight is done. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    this.#abort?.abort();
    this.#sampler.close();
    await this.#ticking;
  }

  #tick(): void {
    if (this.#ticking !== null || this.#closed) return;
    this.#ticking = this.#publish().finally(() => (this.#ticking = null));
  }

  async #publish(): Promise<void> {
    let layer: ChannelLayer | null;
    try {
      layer = this.#options.layer();
    } catch (error) {
      // Not loaded yet (an app module builds the dashboard before the server prepares the layers): the next tick tries again.
      logger.debug({ err: error }, 'admin: no channel layer yet; no sample');
      return;
    }
    if (layer === null) return;
    if (layer !== this.#layer) this.#listen(layer);
    const started = performance.now();
    try {
      const sample = await this.#sampler.take(layer, this.#channel, this.#options.interval, this.#health);
      if (this.#closed) return;
      const sending = performance.now();
      await layer.groupSend(SAMPLES_GROUP, sample as unknown as LayerMessage);
      this.#health.rttMs = Math.round((performance.now() - sending) * 100) / 100;
      if (!this.#health.connected) logger.info('admin: the channel layer answers again; samples resume');
      this.#health.connected = true;
      this.#health.error = null;
    } catch (error) {
      if (this.#health.connected) logger.warn({ err: error }, 'admin: cannot publish a stats sample (the layer is away?); retrying every interval');
      this.#health.connected = false;
      this.#health.rttMs = Math.round((performance.now() - started) * 100) / 100;
      this.#health.error = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    }
  }

  /** A channel of this reporter on `layer` (a new layer, e.g. wrapped at serve time, gets a new one), and its receive loop. */
  #listen(layer: ChannelLayer): void {
    this.#abort?.abort();
    const abort = new AbortController();
    this.#abort = abort;
    this.#layer = layer;
    this.#channel = '';
    void (async () => {
      try {
        this.#channel = await layer.newChannel('admin');
      } catch (error) {
        logger.warn({ err: error }, 'admin: cannot open the reporter\'s channel; retrying at the next sample');
        this.#layer = null;
        return;
      }
      let failures = 0;
      while (!abort.signal.aborted) {
        let message: LayerMessage;
        try {
          message = await layer.receive(this.#channel, abort.signal);
          failures = 0;
        } catch (error) {
          if (abort.signal.aborted) return;
          if (failures++ === 0) logger.warn({ err: error }, 'admin: the reporter cannot receive commands; retrying');
          await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 100 * 2 ** failures)).unref());
          continue;
        }
        await this.#command(layer, message).catch((error: unknown) => logger.warn({ err: error, type: message.type }, 'admin: command failed'));
      }
    })();
  }

  /** One dashboard command; a malformed one is logged and ignored. */
  async #command(layer: ChannelLayer, message: LayerMessage): Promise<void> {
    const { group } = message as { group?: unknown };
    requireValidGroupName(group);
    const members = [...(layer.localGroups?.().get(group)?.keys() ?? [])];
    if (message.type === 'admin.members') {
      const { reply_to: replyTo, request } = message as { reply_to?: unknown; request?: unknown };
      requireValidChannelName(replyTo);
      await layer.send(replyTo, {
        type: 'admin.members', request: typeof request === 'string' ? request : '', process: this.id, group,
        total: members.length, members: members.slice(0, MAX_LISTED_MEMBERS),
      });
    } else if (message.type === 'admin.close_group') {
      const { code, reason } = message as { code?: unknown; reason?: unknown };
      logger.info({ group, members: members.length, code, reason }, 'admin: closing the connections of a group');
      const close = { type: ADMIN_CLOSE, code: typeof code === 'number' ? code : 4000, reason: typeof reason === 'string' ? reason : '' };
      await Promise.allSettled(members.map((channel) => layer.send(channel, close)));
    } else {
      logger.warn({ type: message.type }, 'admin: unknown command ignored');
    }
  }
}
