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
 */
import type { Application, LayerMessage, SendEvent } from './asgi.js';
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
  while (!signal.aborted) {
    let ended = false;
    const instance = app({ type: 'channel', channel }, async () => {
      const message = await layer.receive(channel, signal);
      if (typeof message.type !== 'string' || message.type === '') {
        throw new ProtocolError('Worker received message with no type.');
      }
      return message as LayerMessage;
    }, refuseSend);
    try {
      await instance;
      ended = true;
    } catch (error) {
      if (signal.aborted) return;
      logger.error({ err: error, channel }, 'worker application failed; starting a new instance');
    }
    // An app that returns without reading would spin: give it a breath.
    if (ended) await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
