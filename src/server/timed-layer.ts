/**
 * A channel layer whose operations are timed into the server's metrics.
 *
 * How this works. `serve()` with `metricsPath` puts this wrapper in the
 * registry in place of the default layer, so every consumer that asks the
 * registry for its layer goes through it. It is a `DelegatingLayer`: it
 * overrides the four timed operations and forwards everything else,
 * optional capabilities included, so a timed in-memory layer still offers
 * taps (the consumer's push lane) and leases (`runOnce`). The layer itself
 * is left as it was: nothing is patched, and code holding the layer from
 * before the server started keeps an untimed, working layer.
 */
import type { Histogram } from 'prom-client';
import type { LayerMessage } from '../asgi.js';
import type { ChannelLayer } from '../layers/base.js';
import { DelegatingLayer } from '../layers/delegating.js';

type Timer = { startTimer(): () => void };

/** Ends `end` when `operation` settles, either way, and passes its outcome on. */
function timed(timer: Timer, operation: () => Promise<void>): Promise<void> {
  const end = timer.startTimer();
  let result: Promise<void>;
  try {
    result = operation();
  } catch (error) {
    end();
    return Promise.reject(error);
  }
  return result.finally(end);
}

/** Times `send`, `groupSend`, `groupAdd` and `groupDiscard` of the layer it wraps (histogram label `op`). */
export class TimedLayer extends DelegatingLayer {
  readonly #send: Timer;
  readonly #groupSend: Timer;
  readonly #groupAdd: Timer;
  readonly #groupDiscard: Timer;

  constructor(inner: ChannelLayer, histogram: Histogram<'op'>) {
    super(inner);
    this.#send = histogram.labels('send');
    this.#groupSend = histogram.labels('groupSend');
    this.#groupAdd = histogram.labels('groupAdd');
    this.#groupDiscard = histogram.labels('groupDiscard');
  }

  override send(channel: string, message: LayerMessage): Promise<void> {
    return timed(this.#send, () => this.inner.send(channel, message));
  }

  override groupSend(group: string, message: LayerMessage): Promise<void> {
    return timed(this.#groupSend, () => this.inner.groupSend(group, message));
  }

  override groupAdd(group: string, channel: string): Promise<void> {
    return timed(this.#groupAdd, () => this.inner.groupAdd(group, channel));
  }

  override groupDiscard(group: string, channel: string): Promise<void> {
    return timed(this.#groupDiscard, () => this.inner.groupDiscard(group, channel));
  }
}
