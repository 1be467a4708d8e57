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
import type { Counter, Histogram } from 'prom-client';
import type { LayerMessage } from '../asgi.js';
import type { ChannelLayer, GroupSendOptions } from '../layers/base.js';
import { DelegatingLayer } from '../layers/delegating.js';

type Timer = { startTimer(): () => void };
type Failures = Counter<'op' | 'error'>;

/** Times `operation` whichever way it settles, counts its failure (by error class), and passes its outcome on. */
function timed(timer: Timer, failures: Failures, op: string, operation: () => Promise<void>): Promise<void> {
  const end = timer.startTimer();
  const failed = (error: unknown): never => {
    end();
    failures.inc({ op, error: error instanceof Error ? error.constructor.name : 'unknown' });
    throw error;
  };
  let result: Promise<void>;
  try {
    result = operation();
  } catch (error) {
    return Promise.reject(error).catch(failed);
  }
  return result.then(() => void end(), failed);
}

/**
 * Times `send`, `groupSend`, `groupAdd` and `groupDiscard` of the layer it
 * wraps (histogram label `op`), and counts their failures by error class
 * (`LayerUnavailableError` while Redis is away, `ChannelFull`...).
 */
export class TimedLayer extends DelegatingLayer {
  readonly #send: Timer;
  readonly #groupSend: Timer;
  readonly #groupAdd: Timer;
  readonly #groupDiscard: Timer;
  readonly #failures: Failures;

  constructor(inner: ChannelLayer, histogram: Histogram<'op'>, failures: Failures) {
    super(inner);
    this.#failures = failures;
    this.#send = histogram.labels('send');
    this.#groupSend = histogram.labels('groupSend');
    this.#groupAdd = histogram.labels('groupAdd');
    this.#groupDiscard = histogram.labels('groupDiscard');
  }

  override send(channel: string, message: LayerMessage): Promise<void> {
    return timed(this.#send, this.#failures, 'send', () => this.inner.send(channel, message));
  }

  override groupSend(group: string, message: LayerMessage, options?: GroupSendOptions): Promise<void> {
    return timed(this.#groupSend, this.#failures, 'groupSend', () => this.inner.groupSend(group, message, options));
  }

  override groupAdd(group: string, channel: string): Promise<void> {
    return timed(this.#groupAdd, this.#failures, 'groupAdd', () => this.inner.groupAdd(group, channel));
  }

  override groupDiscard(group: string, channel: string): Promise<void> {
    return timed(this.#groupDiscard, this.#failures, 'groupDiscard', () => this.inner.groupDiscard(group, channel));
  }
}
