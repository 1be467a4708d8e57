/**
 * `AsyncConsumer`: one instance per connection, events turned into method calls
 * (Django Channels' `consumer.py`).
 *
 * `run()` names the instance's channel on the configured layer, serves the
 * connection's events and the channel's messages (two lanes, see
 * `lanes.ts`) until the instance ends, then calls `cleanup()` and leaves the
 * groups the instance joined, however it ended: a consumer that crashes
 * leaves no zombie member behind (django/channels#1466).
 *
 * A handler that lets a `LayerUnavailableError` escape (Redis away) is
 * handed to `layerUnavailable(error, event)`: here it ends the instance, as
 * any error does; `WebsocketConsumer` keeps the connection instead. Every
 * other error ends the instance (a WebSocket closes with 1011).
 *
 * An event's `type` names its handler: `chat.message` → `chat_message`
 * (Django's rule). Only methods of the user's subclasses, the framework's
 * event handlers (`websocket_connect`...) and declared renders handle
 * events; a layer message cannot call `close`, `send` or `groupSend`
 * (`handlers.ts`).
 */
import type { Application, LayerMessage, Receive, ReceiveEvent, Scope, Send, SendEvent } from '../asgi.js';
import { InvalidChannelLayerError, LayerUnavailableError, NoHandlerError } from '../errors.js';
import { type ChannelLayer, EXCEPT_KEY } from '../layers/base.js';
import { getChannelLayer } from '../layers/registry.js';
import { type SlowConsumer, type SlowConsumerConfig, compileSlowConsumer, groupOf } from '../layers/slow-consumers.js';
import { handlerName, handlerOfType } from './handlers.js';
import { type LaneHost, Lanes } from './lanes.js';
import { MembershipTrackingLayer } from './memberships.js';
import { tracerHooks } from '../tracing/hooks.js';

/** Any event a consumer can be handed: an ASGI event or a layer message. */
export type ConsumerEvent = ReceiveEvent | LayerMessage;

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
  /**
   * What the instance's channel does with messages while the instance cannot
   * keep up (its socket does not drain): one policy, or one per group
   * pattern; null keeps Django's rule (a full channel skips the newest).
   * See `slow-consumers.ts`.
   *
   * @example
   * ```ts
   * import { WebsocketConsumer } from 'switchyard';
   *
   * class Ticker extends WebsocketConsumer {
   *   static override slowConsumer = { 'ticker.*': { coalesce: 'symbol' }, '*': 'disconnect' } as const;
   * }
   * ```
   */
  static slowConsumer: SlowConsumerConfig | null = null;

  /** The connection's scope. */
  scope!: Scope;
  /** The channel layer, or `null` when none is configured under the alias. */
  channelLayer: ChannelLayer | null = null;
  /** This instance's own channel on the layer (empty when there is no layer). */
  channelName = '';

  #send!: Send;
  // One bound method rather than arrow functions: fewer objects per connection.
  readonly #lanes = new Lanes(this.#laneCall.bind(this) as LaneHost);
  /** `this.channelLayer` as made by run(): it knows the groups joined, left when the instance ends. */
  #memberships: MembershipTrackingLayer | null = null;

  /**
   * Returns an ASGI application that makes one instance per connection,
   * with `initKwargs` assigned onto it.
   */
  static asApp<C extends AsyncConsumer>(this: ConsumerClass<C>, initKwargs: InitKwargs<C> = {}): ConsumerApplication<C> {
    const consumerClass = this;
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
   * Serves one connection to its end (Django's `__call__`).
   *
   * A promise chain, not an async function: the instance ends through the
   * lanes (see {@link #ended}), and an idle connection holds no suspended frame.
   */
  run(scope: Scope, receive: Receive, send: Send): Promise<void> {
    this.scope = scope;
    this.#send = send;
    let layer = getChannelLayer((this.constructor as typeof AsyncConsumer).channelLayerAlias);
    if (tracerHooks !== null) layer = tracerHooks.consumer(this, layer); // tracing on: a traced layer
    if (layer === null) return this.#lanes.run(receive, null, null);
    const named = layer.newChannel().then((name) => {
      this.channelName = name;
      this.channelLayer = this.#memberships = new MembershipTrackingLayer(layer, name);
      return name;
    });
    return this.#lanes.run(receive, layer, named, this.#slowConsumer());
  }

  /** What the lanes ask of the instance (see {@link LaneHost}). */
  #laneCall(call: 'event' | 'layer' | 'rescue' | 'end', event?: { type: string }, error?: unknown): unknown {
    switch (call) {
      case 'layer': return this.handleLayerMessage(event as LayerMessage);
      case 'event': return this.#invoke(event!);
      case 'rescue': return this.#rescue(error, event!);
      case 'end': return this.#ended();
    }
  }

  /** The instance's end, once its last handler returned: `cleanup()`, then leave the groups it joined, whatever cleanup did. */
  #ended(): Promise<void> {
    let cleaned: Promise<void>;
    try {
      cleaned = this.cleanup();
    } catch (error) {
      cleaned = Promise.reject(error);
    }
    return cleaned.then(
      () => this.#memberships?.leaveAll(),
      (error: unknown) => Promise.resolve(this.#memberships?.leaveAll()).then(() => { throw error; }),
    );
  }

  /**
   * Called once when the instance ends, however it ends (a normal end, an
   * error, the connection lost), after its last handler; its groups are
   * left right after. Override to release what the instance holds.
   */
  protected async cleanup(): Promise<void> {}

  /**
   * Called when a handler lets a `LayerUnavailableError` escape (the channel
   * layer's backing service, Redis, cannot be reached). Return to keep the
   * instance and go on with the next event; throw to end it. The default
   * rethrows (the instance ends, as with any error); `WebsocketConsumer`'s
   * keeps the connection.
   */
  async layerUnavailable(error: LayerUnavailableError, _event: ConsumerEvent): Promise<void> {
    throw error;
  }

  /**
   * Called when the `disconnect` slow-consumer policy acts: the instance
   * could not keep up. Here the instance ends; `WebsocketConsumer` closes
   * the connection with 4008 (`SLOW_CONSUMER_CLOSE_CODE`).
   */
  protected async tooSlow(): Promise<void> {
    this.stopAfterHandler();
  }

  /** The instance's slow-consumer policies for its channel's mailbox, if its class has any. */
  #slowConsumer(): SlowConsumer | undefined {
    const config = (this.constructor as typeof AsyncConsumer).slowConsumer;
    if (config === null) return undefined;
    const policyOf = compileSlowConsumer(config);
    let told = false;
    return {
      policyFor: (message, group) => policyOf(groupOf(message, this.#memberships?.joined ?? [], group)),
      tooSlow: () => {
        if (told) return;
        told = true;
        this.tooSlow().catch(() => {}); // the connection may be gone already
      },
    };
  }

  /** Sends a raw ASGI event to the server (Django's `base_send`). */
  baseSend(event: SendEvent): Promise<void> {
    return this.#send(event);
  }

  /** Calls the handler for an event; an event with no handler is a {@link NoHandlerError}. */
  async dispatch(event: ConsumerEvent): Promise<void> {
    await this.#handle(event);
  }

  /** Ends the instance once the current handler returns, as if it had raised `StopConsumer`. */
  protected stopAfterHandler(): void {
    this.#lanes.stopAfterHandler();
  }

  /** Lets layer messages be dispatched before the first connection event's handler returns (SSE, long-poll). */
  protected openLayerLane(): void {
    this.#lanes.openLayerLane();
  }

  /**
   * Handles a message of the instance's channel (or an injected one); the
   * layer lane calls it for each, one at a time. Returns what the handler
   * returns. `WebsocketConsumer` overrides it for recovery.
   */
  protected handleLayerMessage(message: LayerMessage): unknown {
    // A group send that left this instance out (in a group with history, it still arrives, marked).
    if ((message as Record<string, unknown>)[EXCEPT_KEY] === this.channelName) return undefined;
    return this.#invoke(message);
  }

  /** Queues messages for the layer lane, ahead of the channel's (see `Lanes.inject`). */
  protected injectLayerMessages(messages: readonly LayerMessage[]): void {
    this.#lanes.inject(messages);
  }

  /** What the lanes call: `dispatch()` when a subclass overrides it, else the handler directly. */
  #invoke(event: { type: string }): unknown {
    if (this.dispatch !== AsyncConsumer.prototype.dispatch) return this.dispatch(event as ConsumerEvent);
    return this.#handle(event);
  }

  /** A handler's error: a `LayerUnavailableError` goes to {@link layerUnavailable}; any other ends the instance. */
  async #rescue(error: unknown, event: { type: string }): Promise<void> {
    if (!(error instanceof LayerUnavailableError)) throw error;
    await this.layerUnavailable(error, event as ConsumerEvent);
  }

  #handle(event: { type: string }): unknown {
    const handler = handlerOfType(this.constructor as typeof AsyncConsumer, event);
    if (handler === null) throw new NoHandlerError(event.type, this.constructor.name, handlerName(event));
    const hooks = tracerHooks; // null unless tracing is enabled: this check is its whole cost
    return hooks === null ? handler.call(this, event) : hooks.handle(this, handlerName(event), event, handler);
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
