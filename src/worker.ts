/**
 * `runWorker`: serves named channels with a `ChannelNameRouter` app, as
 * Django's `manage.py runworker` does.
 *
 * How it works: one receive loop per channel; the first message on a channel
 * starts one long-lived application instance for it, with the scope
 * `{ type: 'channel', channel }`, and every later message is handed to that
 * instance's `receive()`. An instance that ends (or fails, which is logged) is
 * replaced on the next message. A worker app cannot `send()` to a client
 * (there is none); it talks through the channel layer.
 *
 * Each channel's backlog is bounded by the layer's own capacity: the loop
 * takes a message off the layer only when the instance asks for one.
 *
 * An instance that fails before it got a message (the layer is unreachable,
 * the app cannot start) is retried after a growing, jittered delay (0.1 s
 * doubling to 10 s), and a failure that repeats is logged once and then
 * summarised once a minute (see `backoff.ts`): a worker whose Redis is away
 * neither spins nor floods the log, and still stops at once on SIGTERM.
 */
import type { Application, LayerMessage, SendEvent } from './asgi.js';
import { RepeatedErrorLog, retryDelay, sleep } from './backoff.js';
import { InvalidChannelLayerError, ProtocolError } from './errors.js';
import type { ChannelLayer } from './layers/base.js';
import { getChannelLayer } from './layers/registry.js';
import { logger } from './log.js';

/** Options of {@link runWorker}. */
export interface WorkerOptions {
  /** The layer alias to read from. Default `"default"`. */
  layerAlias?: string;
  /** A layer to use instead of the alias. */
  layer?: ChannelLayer;
  /** Stops the worker when aborted. */
  signal?: AbortSignal;
}

/**
 * Receives from `channels` until `signal` aborts, handing each message to the
 * app instance of its channel.
 *
 * @example
 * ```ts
 * import { AsyncConsumer, ChannelNameRouter, runWorker } from 'switchyard';
 *
 * class ThumbnailConsumer extends AsyncConsumer {}
 * const app = ChannelNameRouter({ 'thumbnails-generate': ThumbnailConsumer.asApp() });
 * await runWorker(app, ['thumbnails-generate'], { signal: AbortSignal.timeout(60_000) });
 * ```
 */
export async function runWorker(app: Application, channels: string[], options: WorkerOptions = {}): Promise<void> {
  const layer = options.layer ?? getChannelLayer(options.layerAlias ?? 'default');
  if (layer === null) throw new InvalidChannelLayerError(`Channel layer ${JSON.stringify(options.layerAlias ?? 'default')} is not configured; a worker needs one`);
  if (channels.length === 0) throw new TypeError('runWorker needs at least one channel name');
  const signal = options.signal ?? new AbortController().signal;
  logger.info({ channels }, 'worker listening');
  await Promise.all(channels.map((channel) => serveChannel(app, layer, channel, signal)));
}

const refuseSend = async (event: SendEvent): Promise<void> => {
  throw new ProtocolError(`A worker application cannot send ${event.type}: there is no client; use the channel layer`);
};

async function serveChannel(app: Application, layer: ChannelLayer, channel: string, signal: AbortSignal): Promise<void> {
  const errors = new RepeatedErrorLog(() => logger, `worker application for ${channel} failed`);
  let attempt = 0;
  while (!signal.aborted) {
    let received = false;
    const instance = app({ type: 'channel', channel }, async () => {
      const message = await layer.receive(channel, signal);
      if (typeof message.type !== 'string' || message.type === '') {
        throw new ProtocolError('Worker received message with no type.');
      }
      if (!received) errors.recovered({ channel });
      received = true;
      return message as LayerMessage;
    }, refuseSend);
    let failure: unknown = null;
    try {
      await instance;
    } catch (error) {
      if (signal.aborted) return;
      failure = error;
    }
    // An instance that handled messages earned a fresh start; one that ended or
    // failed before its first message would spin: wait longer each time.
    attempt = received ? 1 : attempt + 1;
    const delay = failure === null && received ? 10 : retryDelay(attempt);
    if (failure !== null) errors.failed(failure, { channel }, `starting a new instance in ${delay} ms`);
    await sleep(delay, signal);
  }
}
