/**
 * `WebsocketConsumer`: Django's `AsyncWebsocketConsumer`.
 *
 * Turns the `websocket.*` events into `connect`, `receive` and `disconnect`
 * calls, joins the static `groups` on connect and leaves them on disconnect,
 * and offers `accept`, `send` and `close`. Closing before accepting refuses
 * the handshake (HTTP 403 from the server).
 *
 * A channel layer that is away (Redis down: `LayerUnavailableError`) does
 * not crash the connection. A handler of an open connection that lets that
 * error escape is handed to `layerUnavailable(error, event)`, whose default
 * logs at warn (the first failure in full, then a summary a minute) and
 * keeps the connection; the next frame is served as usual. Before accept the
 * handshake is refused with 503 (there is no connection to keep yet); on
 * disconnect the instance ends as usual, `disconnect()` called.
 *
 * Group events are handled by methods named for their type, or rendered by
 * the class's static `renders` (see `broadcast.ts`): a declared render is
 * computed once per broadcast for every member in the process, and sent
 * with `baseSend` (an override of `send()` does not see it).
 *
 * A client that asks for recovery (`switchyard.recover=1` on its URL) gets
 * its groups' events once each, in order, marked with their position, and
 * what it missed replayed when it comes back (`recovery.ts`,
 * `docs/recovery.md`). The class's `slowConsumer` policy says what its
 * channel does while the client cannot keep up; `disconnect` closes 4008.
 */
import { type Header, type LayerMessage, type SendEvent, type WebsocketScope, type WebsocketDisconnectEvent, type WebsocketReceiveEvent, utf8 } from '../asgi.js';
import { AcceptConnection, DenyConnection, LayerUnavailableError, StopConsumer } from '../errors.js';
import { AsyncConsumer, type ConsumerEvent, requireGroupLayer } from './base.js';
import { type Render, type Renders, renderedFrame } from './broadcast.js';
import { MembershipTrackingLayer } from './memberships.js';
import { RecoverySession, requestedPositions } from './recovery.js';
import { logLayerUnavailable } from './unavailable.js';
import { logger } from '../log.js';
import { SLOW_CONSUMER_CLOSE_CODE } from '../layers/slow-consumers.js';

/** Renders a whole layer event as JSON (its `type` included): `forward()`'s default. */
const wholeEventAsJson = (event: LayerMessage): string => JSON.stringify(event);

/**
 * A WebSocket consumer with Django's API, in camelCase.
 *
 * @example
 * ```ts
 * import { WebsocketConsumer } from 'switchyard';
 *
 * class Chat extends WebsocketConsumer {
 *   static override groups = ['lobby'];
 *   override async receive(data: string | Uint8Array) {
 *     await this.channelLayer!.groupSend('lobby', { type: 'chat.message', text: String(data) });
 *   }
 *   async chat_message(event: { text: string }) { await this.send(event.text); }
 * }
 * ```
 *
 * @example The layer away: answer an error frame, keep the connection
 * ```ts
 * import { type ConsumerEvent, type LayerUnavailableError, WebsocketConsumer } from 'switchyard';
 *
 * class Chat extends WebsocketConsumer {
 *   override async receive(data: string | Uint8Array) {
 *     await this.channelLayer!.groupSend('lobby', { type: 'chat.message', text: String(data) });
 *   }
 *   override async layerUnavailable(error: LayerUnavailableError, event: ConsumerEvent) {
 *     await super.layerUnavailable(error, event); // the rate-limited warn line
 *     await this.send(JSON.stringify({ type: 'error', message: 'Temporarily unavailable: try again in a moment' }));
 *     // or: await this.close(1013, 'try again later');
 *   }
 * }
 * ```
 *
 * @example A declared render: no handler method, rendered once per broadcast
 * ```ts
 * import { WebsocketConsumer } from 'switchyard';
 *
 * interface ChatEvent { type: 'chat_message'; message: string; username: string }
 * class Chat extends WebsocketConsumer {
 *   static override groups = ['lobby'];
 *   static override renders = {
 *     chat_message: (e: ChatEvent) => JSON.stringify({ message: e.message, username: e.username }),
 *   };
 * }
 * ```
 */
export class WebsocketConsumer extends AsyncConsumer {
  /** Groups every instance joins on connect and leaves on disconnect. */
  static groups: string[] = [];
  /**
   * How group events render, by handler name (`chat_message` for type
   * `chat.message`): each is sent as a text (`string`) or binary frame,
   * computed once per broadcast for every member in the process. A method
   * of the same name takes precedence.
   */
  static renders: Renders = {};

  /** True once `accept()` has been sent. */
  accepted = false;
  /** True once `close()` has been sent. */
  closed = false;
  /** Recovery, when the client asked for it and the layer keeps history (`docs/recovery.md`). */
  #recovery: RecoverySession | null = null;

  /**
   * Joins the static groups, then calls `connect()`; Django's `websocket_connect`.
   * A layer away before accept refuses the handshake with 503.
   */
  async websocket_connect(): Promise<void> {
    this.#startRecovery();
    try {
      const groups = (this.constructor as typeof WebsocketConsumer).groups;
      if (groups.length > 0) {
        const layer = requireGroupLayer(this);
        for (const group of groups) await layer.groupAdd(group, this.channelName);
      }
      await this.connect();
    } catch (error) {
      if (error instanceof AcceptConnection) await this.accept();
      else if (error instanceof DenyConnection) await this.close();
      else if (error instanceof LayerUnavailableError && !this.accepted && !this.closed) await this.#refuseUnavailable(error);
      else throw error; // once accepted, a LayerUnavailableError goes to layerUnavailable()
    }
  }

  /** A client that put `switchyard.recover=1` on its URL, on a layer that keeps history: recovery for its groups. */
  #startRecovery(): void {
    const layer = this.channelLayer;
    if (!(layer instanceof MembershipTrackingLayer) || layer.readHistory === undefined) return;
    const requested = requestedPositions(this.scope);
    if (requested === null) return;
    // The layer itself, not this instance's wrapper: members catching up at once share history reads.
    const session = new RecoverySession(
      this, layer.inner, requested,
      (messages) => this.injectLayerMessages(messages as LayerMessage[]),
      (message) => super.handleLayerMessage(message),
    );
    this.#recovery = session;
    layer.observer = session;
  }

  /** Layer messages go through recovery when it is on (once each, marked with their position). */
  protected override handleLayerMessage(message: LayerMessage): unknown {
    return this.#recovery === null ? super.handleLayerMessage(message) : this.#recovery.deliver(message);
  }

  /** Sends a raw ASGI event; with recovery on, a group event's text frame goes out marked with its position. */
  override baseSend(event: SendEvent): Promise<void> {
    return super.baseSend(this.#recovery === null || event.type !== 'websocket.send' ? event : this.#recovery.mark(event));
  }

  /** Called when the client asks to connect; accepts by default. Throw `DenyConnection` or call `close()` to refuse. */
  async connect(): Promise<void> {
    await this.accept();
  }

  /** Accepts the connection, optionally choosing a subprotocol and adding response headers. */
  async accept(subprotocol: string | null = null, headers?: Header[]): Promise<void> {
    this.accepted = true;
    await this.baseSend(headers && headers.length > 0
      ? { type: 'websocket.accept', subprotocol, headers }
      : { type: 'websocket.accept', subprotocol });
  }

  /** Routes a frame to `receive()`: text when `text` is set (not null), bytes otherwise. */
  async websocket_receive(event: WebsocketReceiveEvent): Promise<void> {
    if (event.text !== undefined && event.text !== null) await this.receive(event.text);
    else if (event.bytes !== undefined && event.bytes !== null) await this.receive(event.bytes);
    else throw new TypeError('websocket.receive event has neither text nor bytes');
  }

  /** Called with each frame: a `string` for text frames, a `Uint8Array` for binary ones. */
  async receive(_data: string | Uint8Array): Promise<void> {}

  /**
   * Sends a text (`string`) or binary (`Uint8Array`) frame. With `close`, closes
   * afterwards (a number is the close code).
   */
  send(data: string | Uint8Array, close: boolean | number = false): Promise<void> {
    // Not async: a frame the server wrote at once answers with the server's own settled promise
    // (settled.ts), so a handler that awaits it costs no promise of this method's.
    let sent: Promise<void>;
    try {
      sent = this.baseSend(typeof data === 'string' ? { type: 'websocket.send', text: data } : { type: 'websocket.send', bytes: data });
    } catch (error) {
      return Promise.reject(error);
    }
    return close === false ? sent : sent.then(() => this.close(close === true ? undefined : close));
  }

  /**
   * Sends a rendering of a layer event, computed once per event and `render`
   * for the whole process.
   *
   * @deprecated Declare the render instead (`static renders = { chat_message: render }`),
   * or write the handler plainly (`await this.send(render(event))`).
   */
  forward<E extends LayerMessage>(event: E, render: Render<E> = wholeEventAsJson): Promise<void> {
    return this.baseSend(renderedFrame(event, render));
  }

  /** Closes the connection (before `accept()`, refuses the handshake). */
  async close(code?: number, reason?: string): Promise<void> {
    this.closed = true;
    const event: { type: 'websocket.close'; code?: number; reason?: string } = { type: 'websocket.close' };
    if (code !== undefined) event.code = code;
    if (reason) event.reason = reason;
    await this.baseSend(event);
  }

  /**
   * Leaves the static groups, calls `disconnect(code)` and ends the instance,
   * even when the layer is away (the client is gone: nothing to keep).
   */
  async websocket_disconnect(event: WebsocketDisconnectEvent): Promise<void> {
    this.#recovery?.end();
    const groups = (this.constructor as typeof WebsocketConsumer).groups;
    if (groups.length > 0) {
      const layer = requireGroupLayer(this);
      try {
        for (const group of groups) await layer.groupDiscard(group, this.channelName);
      } catch (error) {
        if (!(error instanceof LayerUnavailableError)) throw error;
        logLayerUnavailable(this, error, event, 'leaving the groups on disconnect');
      }
    }
    try {
      await this.disconnect(event.code);
    } catch (error) {
      if (!(error instanceof LayerUnavailableError)) throw error;
      logLayerUnavailable(this, error, event, 'the instance ends');
    }
    throw new StopConsumer();
  }

  /** The `disconnect` slow-consumer policy acted: closes with 4008, `slow consumer`, logged at warn. */
  protected override async tooSlow(): Promise<void> {
    logger.warn({ path: (this.scope as WebsocketScope).path, channel: this.channelName }, `WebSocket consumer cannot keep up: closing with ${SLOW_CONSUMER_CLOSE_CODE} (slowConsumer: disconnect)`);
    if (!this.closed) await this.close(SLOW_CONSUMER_CLOSE_CODE, 'slow consumer');
  }

  /**
   * A layer message `{ type: 'websocket.admin_close', code, reason }` sent to
   * this instance's channel (the admin dashboard's "disconnect", or a group's
   * "close all", `switchyard/admin`) closes the connection with that code,
   * which must be an application code (4000-4999; anything else closes with
   * 4000), and reason.
   */
  async websocket_admin_close(event: { code?: unknown; reason?: unknown }): Promise<void> {
    const code = typeof event.code === 'number' && Number.isInteger(event.code) && event.code >= 4000 && event.code <= 4999 ? event.code : 4000;
    const reason = typeof event.reason === 'string' ? event.reason : '';
    logger.info({ path: (this.scope as WebsocketScope).path, channel: this.channelName, code, reason }, 'WebSocket closed by an administrator');
    if (!this.closed) await this.close(code, reason);
  }

  /** Called once the connection is gone, with its close code (1005 when the client gave none). */
  async disconnect(_code: number): Promise<void> {}

  /**
   * Called when a handler of the open connection (`receive`, a group event's
   * handler, `connect` after `accept`) lets a `LayerUnavailableError` escape:
   * the channel layer's backing service (Redis) cannot be reached. The
   * default logs it at warn (rate-limited) and keeps the connection; the
   * next event is served as usual. Override to tell the client (an error
   * frame) or to close; throw to end the instance (the server closes 1011).
   */
  override async layerUnavailable(error: LayerUnavailableError, event: ConsumerEvent): Promise<void> {
    logLayerUnavailable(this, error, event, 'the connection is kept');
  }

  /**
   * The handshake cannot be served while the layer is away: 503 where the
   * server can answer one, else a refusal (403); the instance then ends.
   */
  async #refuseUnavailable(error: LayerUnavailableError): Promise<void> {
    logLayerUnavailable(this, error, { type: 'websocket.connect' }, 'handshake refused (503)');
    this.stopAfterHandler();
    const extensions = (this.scope as WebsocketScope).extensions;
    if (extensions?.['websocket.http.response'] === undefined) return this.close();
    this.closed = true;
    await this.baseSend({ type: 'websocket.http.response.start', status: 503, headers: [[utf8('content-type'), utf8('text/plain; charset=utf-8')]] });
    await this.baseSend({ type: 'websocket.http.response.body', body: utf8('Service Unavailable\n') });
  }
}
