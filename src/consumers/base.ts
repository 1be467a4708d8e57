/**
 * `AsyncConsumer`: one instance per connection, events turned into method calls.
 *
 * How it works. An instance serves two streams ("lanes"): the connection's
 * ASGI events from `receive()`, and, when a channel layer is configured,
 * messages arriving on the instance's own `channelName`. Each lane is served
 * in arrival order, one handler at a time; the two lanes run concurrently,
 * so a slow group handler never delays `websocket.disconnect` (Django
 * serializes both, django/channels#1924). The layer lane opens once the first
 * connection event (the connect) has been handled, so a group message never
 * reaches a socket before it is accepted.
 *
 * An event's `type` names its handler: `chat.message` → `chat_message`
 * (Django's rule, in {@link handlerName}). Types that start with `_`, and
 * types naming the framework's own methods (`close`, `send`, `groupSend`...)
 * are refused, so a layer message cannot call them.
 *
 * Hot path. A broadcast reaches hundreds of instances per message, so the
 * layer lane is a loop, not a promise chain: with a layer that offers taps
 * (the in-memory layer), an idle instance is called with the next message
 * (in one microtask per send for all members), its handler runs at once,
 * and only a handler that returns a pending promise makes the lane wait
 * (queued messages are then taken in order); `SENT`, the server's answer to
 * a frame already handed to the socket, does not. Handler names are
 * computed once per message type.
 *
 * Group memberships made through `this.channelLayer` are remembered and
 * dropped when the instance ends, however it ends: a consumer that crashes
 * leaves no zombie member behind (django/channels#1466).
 */
import { SENT, type Application, type LayerMessage, type Receive, type ReceiveEvent, type Scope, type Send, type SendEvent } from '../asgi.js';
import { InvalidChannelLayerError, NoHandlerError, StopConsumer } from '../errors.js';
import { type ChannelLayer, type ChannelTap, TAP_DELIVER, isTappable } from '../layers/base.js';
import { getChannelLayer } from '../layers/registry.js';
import { MembershipTrackingLayer } from './memberships.js';

/** Any event a consumer can be handed: an ASGI event or a layer message. */
export type ConsumerEvent = ReceiveEvent | LayerMessage;

/** Names of methods the framework defines; a message `type` may not reach them. */
const frameworkMethods = new Set<string>();
/** Framework methods that *are* event handlers (`websocket_connect`...). */
const EVENT_HANDLER = /^(websocket|http|lifespan)_[a-z_]+$/;

/** Marks every method of a framework class as unreachable through a message `type`. */
export function reserveFrameworkMethods(prototype: object): void {
  for (const name of Object.getOwnPropertyNames(prototype)) {
    if (name !== 'constructor' && !EVENT_HANDLER.test(name)) frameworkMethods.add(name);
  }
}

/**
 * The method name that handles a message type: dots become underscores.
 * Throws for a missing type or a name that would start with `_`.
 */
export function handlerName(message: { type?: unknown }): string {
  const type = message.type;
  if (typeof type === 'string') {
    const known = handlerNames.get(type);
    if (known !== undefined) return known;
  }
  if (typeof type !== 'string' || type === '') {
    throw new TypeError("Incoming message has no 'type' attribute");
  }
  const name = type.replaceAll('.', '_');
  if (name.startsWith('_')) throw new TypeError('Malformed type in message (leading underscore)');
  // Bounded, so that a stream of made-up types cannot grow it without end.
  if (handlerNames.size < 1024) handlerNames.set(type, name);
  return name;
}

/** Message type → handler name, for the types seen so far. */
const handlerNames = new Map<string, string>();

/** True for a pending or settled promise (or any thenable) returned by a handler. */
function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === 'object' && typeof (value as PromiseLike<unknown>).then === 'function';
}

type Handler = (this: AsyncConsumer, event: ConsumerEvent) => unknown;

/** Constructor type used by {@link AsyncConsumer.asApp}. */
export type ConsumerClass<C extends AsyncConsumer> = (new () => C) & { channelLayerAlias: string };

/** Own, non-method properties a consumer accepts through `asApp(initKwargs)`. */
export type InitKwargs<C> = Partial<{ [K in keyof C as C[K] extends (...args: never[]) => unknown ? never : K]: C[K] }>;

/** An application made by `asApp()`, which remembers its consumer class (as Django's `as_asgi()`). */
export interface ConsumerApplication<C extends AsyncConsumer = AsyncConsumer> extends Application {
  consumerClass: ConsumerClass<C>;
  consumerInitKwargs: InitKwargs<C>;
}

/**
 * The base consumer: dispatches each event to the method named by its type.
 *
 * @example
 * ```ts
 * import { AsyncConsumer, StopConsumer, type WebsocketReceiveEvent } from 'switchyard';
 *
 * class Echo extends AsyncConsumer {
 *   async websocket_connect() { await this.baseSend({ type: 'websocket.accept' }); }
 *   async websocket_receive(event: WebsocketReceiveEvent) { await this.baseSend({ type: 'websocket.send', text: event.text }); }
 *   async websocket_disconnect() { throw new StopConsumer(); }
 * }
 * const app = Echo.asApp();
 * ```
 */
export class AsyncConsumer {
  /** Which configured channel layer this consumer uses. */
  static channelLayerAlias = 'default';

  /** The connection's scope. */
  scope!: Scope;
  /** The channel layer, or `null` when none is configured under the alias. */
  channelLayer: ChannelLayer | null = null;
  /** This instance's own channel on the layer (empty when there is no layer). */
  channelName = '';

  #send!: Send;
  #receive!: Receive;
  #stopping = false;
  #failure: unknown = undefined;
  /** Groups joined through `this.channelLayer` (an array: a consumer joins a few, and a Set costs ~200 bytes). */
  readonly #joined: string[] = [];
  /** The handler running on each lane, if any: the end of the instance waits for them. */
  #connectionHandling: Promise<unknown> | null = null;
  #layerHandling: Promise<unknown> | null = null;
  /** Set when the instance ends: both lanes stop (a handler in flight finishes first). */
  #ended = false;
  /** Settle run()'s promise. */
  #resolveRun: (() => void) | null = null;
  #rejectRun: ((error: unknown) => void) | null = null;
  /** The layer lane is open (after the first connection event, or openLayerLane()). */
  #layerOpen = false;
  /** The layer lane's tap, when the layer offers taps. */
  #tap: ChannelTap | null = null;
  /** The receive() lane (layers without taps): its opening and its cancellation. */
  #openReceiveLane: (() => void) | null = null;
  #abortReceiveLane: AbortController | null = null;

  /**
   * Returns an ASGI application that makes one instance per connection,
   * with `initKwargs` assigned onto it.
   */
  static asApp<C extends AsyncConsumer>(this: ConsumerClass<C>, initKwargs: InitKwargs<C> = {}): ConsumerApplication<C> {
    const consumerClass = this;
    // Not async: run()'s promise is the app's (one suspended frame less per connection).
    const app = ((scope: Scope, receive: Receive, send: Send) => {
      const instance = new consumerClass();
      Object.assign(instance, initKwargs);
      return instance.run(scope, receive, send);
    }) as ConsumerApplication<C>;
    app.consumerClass = consumerClass;
    app.consumerInitKwargs = initKwargs;
    Object.defineProperty(app, 'name', { value: consumerClass.name });
    return app;
  }

  /**
   * Serves one connection to its end (Django's `__call__`). Written as a
   * promise chain rather than an async function: an idle connection then
   * holds no suspended frame here.
   */
  run(scope: Scope, receive: Receive, send: Send): Promise<void> {
    // One promise for the instance's whole life, settled by #end: no promise adopting
    // another per connection while the channel is being named.
    return new Promise<void>((resolve, reject) => {
      this.#resolveRun = resolve;
      this.#rejectRun = reject;
      this.scope = scope;
      this.#send = send;
      this.#receive = receive;
      const layer = getChannelLayer((this.constructor as typeof AsyncConsumer).channelLayerAlias);
      if (layer === null) return this.#serve(null);
      layer.newChannel().then((name) => {
        this.channelName = name;
        this.channelLayer = this.#trackMemberships(layer);
        this.#serve(layer);
      }).catch(reject);
    });
  }

  /**
   * Runs both lanes. The first lane to end (StopConsumer, an error, the
   * connection going away) ends the other; a lane parked waiting for a
   * message is not waited for, a handler in flight is.
   */
  #serve(layer: ChannelLayer | null): void {
    this.#nextConnectionEvent();
    if (layer !== null) {
      if (isTappable(layer)) this.#startTapLane(layer.tap(this.channelName));
      else this.#startReceiveLane(layer);
    }
  }


  /**
   * Ends the instance: the first lane to end, or fail, calls it. An arrow
   * (like the other callbacks below): they share one context per instance.
   */
  readonly #end = (error?: unknown): void => {
    if (error !== undefined && this.#failure === undefined) this.#failure = error;
    if (this.#ended) return;
    this.#ended = true;
    this.#stopLayerLane();
    this.#finish().then(this.#resolveRun, this.#rejectRun);
  };

  /** After the end: waits for the handlers in flight, leaves the groups, reports a failure. */
  async #finish(): Promise<void> {
    await Promise.allSettled([this.#connectionHandling, this.#layerHandling]);
    await this.#leaveGroups();
    const failure = this.#failure;
    if (failure !== undefined && !(failure instanceof StopConsumer)) throw failure;
  }

  /** Sends a raw ASGI event to the server (Django's `base_send`). */
  baseSend(event: SendEvent): Promise<void> {
    // Not async: the server's promise is passed on as it is (one promise less per frame).
    return this.#send(event);
  }

  /** Calls the handler for an event; an event with no handler is a {@link NoHandlerError}. */
  async dispatch(event: ConsumerEvent): Promise<void> {
    await this.#invoke(event);
  }

  /**
   * Calls the handler for an event and returns what it returns (a promise for
   * async handlers), throwing synchronously when there is none. Goes through
   * `dispatch()` when a subclass overrides it.
   */
  #invoke(event: ConsumerEvent): unknown {
    if (this.dispatch !== AsyncConsumer.prototype.dispatch) return this.dispatch(event);
    const name = handlerName(event);
    const handler = (this as unknown as Record<string, unknown>)[name];
    if (typeof handler !== 'function' || frameworkMethods.has(name)) {
      throw new NoHandlerError(event.type, this.constructor.name, name);
    }
    return (handler as Handler).call(this, event);
  }

  /** Ends the instance once the current handler returns, as if it had raised `StopConsumer`. */
  protected stopAfterHandler(): void {
    this.#stopping = true;
  }

  /** Lets layer messages be dispatched before the first connection event's handler returns (SSE, long-poll). */
  protected openLayerLane(): void {
    if (this.#layerOpen) return;
    this.#layerOpen = true;
    if (this.#tap !== null) this.#serveTap(this.#tap.take());
    else this.#openReceiveLane?.();
  }

  /** Stops the layer lane when the instance ends: at once when idle, after the running handler otherwise. */
  #stopLayerLane(): void {
    if (this.#tap !== null) {
      if (this.#layerHandling === null) this.#tap.close();
    } else {
      this.#abortReceiveLane?.abort(new StopConsumer());
    }
  }

  /**
   * The connection lane: reads one event, runs its handler to the end, then
   * reads the next. Callbacks rather than an async loop, so that an idle
   * connection holds no suspended frame; the layer lane opens once the
   * first event (the connect) has been handled.
   */
  #nextConnectionEvent(): void {
    if (this.#ended || this.#stopping) return this.#end();
    this.#receive().then(this.#onConnectionEvent, this.#end);
  }

  readonly #onConnectionEvent = (event: ConsumerEvent): void => {
    if (this.#ended) return;
    let handling: Promise<unknown>;
    try {
      handling = Promise.resolve(this.#invoke(event));
    } catch (error) {
      return this.#connectionEventDone(error);
    }
    this.#connectionHandling = handling;
    handling.then(() => this.#connectionEventDone(), (error: unknown) => this.#connectionEventDone(error));
  };

  #connectionEventDone(error?: unknown): void {
    this.#connectionHandling = null;
    if (error !== undefined) this.#end(error);
    this.openLayerLane();
    if (error === undefined) this.#nextConnectionEvent();
  }

  /** The layer lane for a layer without taps: one `receive()` per message, aborted when the instance ends. */
  #startReceiveLane(layer: ChannelLayer): void {
    const abort = (this.#abortReceiveLane = new AbortController());
    const opened = new Promise<void>((resolve) => (this.#openReceiveLane = resolve));
    this.#serveLayer(layer, opened, abort.signal).then(() => this.#end(), this.#end);
  }

  async #serveLayer(layer: ChannelLayer, opened: Promise<void>, signal: AbortSignal): Promise<void> {
    await Promise.race([opened, new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }))]);
    while (!signal.aborted && !this.#stopping) {
      let message: LayerMessage;
      try {
        message = await layer.receive(this.channelName, signal);
      } catch (error) {
        if (signal.aborted) return;
        throw error;
      }
      const handling = Promise.resolve(this.#invoke(message));
      this.#layerHandling = handling;
      try {
        await handling;
      } finally {
        this.#layerHandling = null;
      }
    }
  }

  /**
   * The layer lane over a tap: while the lane is idle, a message arriving
   * runs its handler at once (the tap calls in a microtask after the send);
   * a handler still pending makes later messages queue on the channel,
   * taken in order once it settles. Per message, no closure or abort
   * listener, and no promise but the handler's and the one that waits for
   * it; per instance, the tap and two callbacks.
   */
  #startTapLane(tap: ChannelTap): void {
    this.#tap = tap;
  }

  /**
   * What runs when a pending layer handler settles: made at most once per
   * instance (a closure per message would be garbage per delivery), and only
   * for an instance whose handlers ever return a pending promise.
   */
  #afterLayerHandler: (() => void) | null = null;
  #layerHandlerFailed: ((error: unknown) => void) | null = null;

  /** Runs handlers until one is pending or nothing is queued; then arms the tap. */
  #serveTap(message: LayerMessage | undefined): void {
    const tap = this.#tap!;
    while (message !== undefined) {
      if (this.#ended || this.#stopping) return this.#finishTap();
      let result: unknown;
      try {
        result = this.#invoke(message);
      } catch (error) {
        return this.#finishTap(error);
      }
      // SENT: the handler's send is complete already (a forwarded frame), no need to wait on it.
      if (result !== SENT && isThenable(result)) {
        this.#afterLayerHandler ??= () => {
          this.#layerHandling = null;
          this.#serveTap(this.#tap!.take());
        };
        this.#layerHandlerFailed ??= (error: unknown) => this.#finishTap(error);
        this.#layerHandling = Promise.resolve(result).then(this.#afterLayerHandler, this.#layerHandlerFailed);
        return;
      }
      message = tap.take();
    }
    if (this.#ended || this.#stopping) return this.#finishTap();
    tap.arm(this);
  }

  #finishTap(error?: unknown): void {
    this.#tap!.close();
    this.#end(error);
  }

  /** Called by the tap with the next message (see {@link ChannelTap.arm}). */
  [TAP_DELIVER](message: LayerMessage): void {
    this.#serveTap(message);
  }

  /** Wraps the layer so that this instance's group joins are remembered (and left at the end). */
  #trackMemberships(layer: ChannelLayer): ChannelLayer {
    return new MembershipTrackingLayer(layer, this.channelName, this.#joined);
  }

  async #leaveGroups(): Promise<void> {
    if (this.channelLayer === null || this.#joined.length === 0) return;
    const groups = this.#joined.splice(0);
    await Promise.allSettled(groups.map((group) => this.channelLayer!.groupDiscard(group, this.channelName)));
  }
}

/** The layer of a consumer, checked to support groups (Django's `InvalidChannelLayerError`). */
export function requireGroupLayer(consumer: AsyncConsumer): ChannelLayer {
  const layer = consumer.channelLayer;
  if (layer === null || !layer.extensions.includes('groups')) {
    throw new InvalidChannelLayerError("BACKEND is unconfigured or doesn't support groups");
  }
  return layer;
}

reserveFrameworkMethods(AsyncConsumer.prototype);
