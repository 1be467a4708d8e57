/**
 * The two lanes of a consumer instance, and how the instance ends.
 *
 * How it works. An instance serves two streams: the connection's events
 * from `receive()` (the connection lane) and, with a channel layer, the
 * messages sent to its own channel (the layer lane). Each lane runs one
 * handler at a time, in arrival order; the two run concurrently, so a slow
 * group handler never delays `websocket.disconnect` (Django serializes both,
 * django/channels#1924). The layer lane opens once the first connection
 * event (the connect) has been handled, so a group message never reaches a
 * socket before it is accepted.
 *
 * A handler's error is first offered to the instance's rescue (the
 * consumer's: a `LayerUnavailableError` goes to `layerUnavailable()`, whose
 * WebSocket default keeps the connection): when the rescue settles, the lane
 * goes on to its next event; when it rethrows, the instance ends. Only a
 * failure pays for this: a handler that succeeds costs what it did before.
 *
 * The first lane to end (`StopConsumer`, an error, the connection going away)
 * ends the other: a lane waiting for a message is not waited for, a handler
 * in flight is. {@link Lanes.run} then settles: fulfilled for a normal end or
 * `StopConsumer`, rejected with the first other error.
 *
 * The layer lane reads through the layer's tap when it offers one: the tap
 * calls the lane with each message while it is idle (one microtask for all
 * members of a broadcast), so a delivery costs a function call, not a
 * `receive()` promise and an abort listener. A layer without taps is read
 * with `receive()` in a loop.
 *
 * Messages can also be *injected* ahead of the channel's (a recovery's
 * replay, see `recovery.ts`): the layer lane serves them first, in order,
 * with the same one-handler-at-a-time rule.
 */
import type { LayerMessage, Receive } from '../asgi.js';
import { StopConsumer } from '../errors.js';
import type { ChannelLayer, ChannelTap } from '../layers/base.js';
import type { SlowConsumer } from '../layers/slow-consumers.js';
import { SETTLED } from '../settled.js';

/**
 * How the lanes reach their consumer instance: one function (one binding per
 * instance rather than four). `'event'` and `'layer'` call the handler of a
 * connection event or a layer message and return what it returns (a promise
 * for async handlers); `'rescue'` decides what becomes of a handler's error
 * (resolves for the lane to go on, rejects to end the instance); `'end'` is
 * the instance's own end (its cleanup), run once both lanes are done and
 * before {@link Lanes.run} settles, whose failure is the instance's.
 */
export interface LaneHost {
  (call: 'event' | 'layer', event: { type: string }): unknown;
  (call: 'rescue', event: { type: string }, error: unknown): Promise<void>;
  (call: 'end'): Promise<void>;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === 'object' && typeof (value as PromiseLike<unknown>).then === 'function';
}

/** Both lanes of one consumer instance. */
export class Lanes {
  readonly #host: LaneHost;
  #ended = false;
  /** Set by `stopAfterHandler()`: end once the running handler returns. */
  #stopping = false;
  #failure: unknown = undefined;
  /** The handler running on each lane, if any: the end waits for them. */
  #connectionBusy: Promise<unknown> | null = null;
  #layerBusy: Promise<unknown> | null = null;
  #layerOpen = false;
  /** The layer message whose handler is pending on the tap (its rescue needs it). */
  #layerMessage: LayerMessage | null = null;
  #tap: ChannelTap | null = null;
  /** The tap was armed and has not called back yet. */
  #tapArmed = false;
  /** Messages injected ahead of the channel's, and tap messages that came while a handler ran; null until the first. */
  #injected: LayerMessage[] | null = null;
  /** The receive() layer lane (layers without taps): its opening and its cancellation. */
  #openReceiveLane: (() => void) | null = null;
  #abort: AbortController | null = null;
  /** Settle the promise of {@link run}. */
  #resolve: (() => void) | null = null;
  #reject: ((error: unknown) => void) | null = null;

  constructor(host: LaneHost) {
    this.#host = host;
  }

  /**
   * Serves both lanes until the instance ends, once the instance's channel
   * is `named` (no layer: `layer` and `named` are null). A channel that
   * cannot be named fails the instance before any event is read.
   */
  run(receive: Receive, layer: ChannelLayer | null, named: Promise<string> | null, slow?: SlowConsumer): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
      if (layer === null || named === null) {
        this.#connectionLane(receive);
        return;
      }
      named.then((channel) => {
        this.#connectionLane(receive);
        if (typeof layer.tap === 'function') this.#tap = layer.tap(channel, this.#onTapMessage, slow);
        else this.#receiveLane(layer, channel).then(() => this.#end(), this.#end);
      }, reject);
    });
  }

  /** Ends the instance once the current handler returns. */
  stopAfterHandler(): void {
    this.#stopping = true;
  }

  /** Opens the layer lane (after the first connection event, or earlier for SSE and long-polling). */
  openLayerLane(): void {
    if (this.#layerOpen) return;
    this.#layerOpen = true;
    if (this.#tap !== null) this.#serveTap(this.#nextLayerMessage());
    else this.#openReceiveLane?.();
  }

  /**
   * Queues messages for the layer lane ahead of the channel's: served in
   * order, once the lane is open and its current handler is done.
   */
  inject(messages: readonly LayerMessage[]): void {
    if (messages.length === 0 || this.#ended) return;
    (this.#injected ??= []).push(...messages);
    // Later, so that a handler that injects is never re-entered.
    if (this.#tap !== null) queueMicrotask(() => this.#wake());
  }

  /** Serves injected messages if the tap lane is open and idle. */
  #wake(): void {
    if (this.#layerOpen && !this.#serving && this.#layerBusy === null && !this.#ended) this.#serveTap(this.#nextLayerMessage());
  }

  /** The next message for the layer lane: injected ones first. */
  #nextLayerMessage(): LayerMessage | undefined {
    const injected = this.#injected;
    if (injected !== null && injected.length > 0) return injected.shift();
    return this.#tap!.take();
  }

  /**
   * The connection lane: reads one event, runs its handler to the end, reads
   * the next; ends the instance when it stops. A promise chain rather than an
   * async loop: an idle connection holds its pending read, no suspended frame.
   */
  #connectionLane(receive: Receive): void {
    this.#receive = receive;
    this.#readEvent();
  }

  #receive: Receive | null = null;
  /** The lane's callbacks, bound once per instance. */
  readonly #onEvent = this.#handleEvent.bind(this);
  readonly #onHandled = this.#eventHandled.bind(this);

  #readEvent(): void {
    if (this.#ended || this.#stopping) return this.#end();
    let next: Promise<unknown>;
    try {
      next = this.#receive!();
    } catch (error) {
      return this.#end(error);
    }
    next.then(this.#onEvent, this.#end);
  }

  #handleEvent(event: unknown): void {
    if (this.#ended) return;
    const handled = this.#call('event', event as { type: string })
      .then(undefined, (error: unknown) => this.#host('rescue', event as { type: string }, error));
    this.#connectionBusy = handled;
    handled.then(this.#onHandled, this.#end);
  }

  #eventHandled(): void {
    this.#connectionBusy = null;
    this.openLayerLane();
    this.#readEvent();
  }

  /** What the handler of `event` returns, as a promise (a synchronous throw becomes a rejection). */
  #call(lane: 'event' | 'layer', event: { type: string }): Promise<unknown> {
    try {
      return Promise.resolve(this.#host(lane, event));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Ends the instance (with the first error, if any); bound once, it is also a callback. */
  readonly #end = this.#ending.bind(this);

  #ending(error?: unknown): void {
    if (error !== undefined && this.#failure === undefined) this.#failure = error;
    if (this.#ended) return;
    this.#ended = true;
    if (this.#tap !== null && this.#layerBusy === null) this.#tap.close();
    this.#abort?.abort(new StopConsumer());
    // As try/finally: the instance's end runs either way, and a failure of its own wins.
    this.#finish().then(
      () => this.#host('end').then(this.#resolve, this.#reject),
      (failure: unknown) => this.#host('end').then(() => this.#reject!(failure), this.#reject),
    );
  }

  async #finish(): Promise<void> {
    await Promise.allSettled([this.#connectionBusy, this.#layerBusy]);
    const failure = this.#failure;
    if (failure !== undefined && !(failure instanceof StopConsumer)) throw failure;
  }

  /** The layer lane for a layer without taps: one `receive()` per message, aborted when the instance ends. */
  async #receiveLane(layer: ChannelLayer, channel: string): Promise<void> {
    const abort = (this.#abort = new AbortController());
    const signal = abort.signal;
    await new Promise<void>((resolve) => {
      this.#openReceiveLane = resolve;
      signal.addEventListener('abort', () => resolve(), { once: true });
    });
    while (!signal.aborted && !this.#stopping) {
      let message: LayerMessage;
      try {
        // Injected messages go first (they are queued before the lane opens: a recovery's replay).
        message = this.#injected?.shift() ?? await layer.receive(channel, signal);
      } catch (error) {
        if (signal.aborted) return;
        throw error;
      }
      try {
        await (this.#layerBusy = this.#call('layer', message));
      } catch (error) {
        await (this.#layerBusy = this.#host('rescue', message, error));
      } finally {
        this.#layerBusy = null;
      }
    }
  }

  /** The tap's listener, bound once: called with a message once the lane armed it (queued if injected messages keep the lane busy). */
  readonly #onTapMessage = this.#tapMessage.bind(this);

  #tapMessage(message: LayerMessage): void {
    this.#tapArmed = false;
    if (this.#serving || this.#layerBusy !== null) (this.#injected ??= []).push(message);
    else this.#serveTap(message);
  }

  /** True while {@link #serveTap} runs handlers synchronously. */
  #serving = false;

  /**
   * Runs handlers until one returns a pending promise or nothing is queued,
   * then arms the tap. A pending handler makes later messages queue on the
   * channel; they are taken in order once it settles.
   */
  #serveTap(message: LayerMessage | undefined): void {
    this.#serving = true;
    try {
      while (message !== undefined) {
        if (this.#ended || this.#stopping) return this.#closeTap();
        let result: unknown;
        try {
          result = this.#host('layer', message);
        } catch (error) {
          this.#layerMessage = message;
          this.#layerBusy = this.#rescueLayerHandler(error);
          return;
        }
        // A send complete before it returned (settled.ts) leaves nothing to wait for.
        if (result !== SETTLED && isThenable(result)) {
          this.#layerMessage = message;
          this.#layerBusy = Promise.resolve(result).then(this.#layerHandlerDone ??= this.#afterLayerHandler.bind(this), this.#layerHandlerFailed ??= this.#rescueLayerHandler.bind(this));
          return;
        }
        message = this.#nextLayerMessage();
      }
      if (this.#ended || this.#stopping) return this.#closeTap();
      if (!this.#tapArmed) {
        this.#tapArmed = true;
        this.#tap!.arm();
      }
    } finally {
      this.#serving = false;
    }
  }

  /** Callbacks for a pending layer handler, made once per instance (a closure per message would be garbage per delivery). */
  #layerHandlerDone: (() => void) | null = null;
  #layerHandlerFailed: ((error: unknown) => Promise<void>) | null = null;

  #afterLayerHandler(): void {
    this.#layerBusy = null;
    this.#layerMessage = null;
    this.#serveTap(this.#nextLayerMessage());
  }

  /** A layer handler failed: the lane goes on once the rescue settles, or the instance ends with what it rethrows. */
  #rescueLayerHandler(error: unknown): Promise<void> {
    return this.#host('rescue', this.#layerMessage!, error).then(() => this.#afterLayerHandler(), (fatal: unknown) => this.#closeTap(fatal));
  }

  #closeTap(error?: unknown): void {
    this.#layerBusy = null;
    this.#layerMessage = null;
    this.#tap!.close();
    this.#end(error);
  }
}
