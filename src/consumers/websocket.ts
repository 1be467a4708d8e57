/**
 * `WebsocketConsumer`: Django's `AsyncWebsocketConsumer`.
 *
 * Turns the `websocket.*` events into `connect`, `receive` and `disconnect`
 * calls, joins the static `groups` on connect and leaves them on disconnect,
 * and offers `accept`, `send` and `close`. Closing before accepting refuses
 * the handshake (HTTP 403 from the server).
 *
 * Group events are handled by methods named for their type, or rendered by
 * the class's static `renders` (see `broadcast.ts`): a declared render is
 * computed once per broadcast for every member in the process, and sent
 * with `baseSend` (an override of `send()` does not see it).
 */
import type { Header, LayerMessage, WebsocketDisconnectEvent, WebsocketReceiveEvent, WebsocketSendEvent } from '../asgi.js';
import { AcceptConnection, DenyConnection, StopConsumer } from '../errors.js';
import { AsyncConsumer, requireGroupLayer } from './base.js';
import { type Render, type Renders, renderedFrame } from './broadcast.js';

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

  /** Joins the static groups, then calls `connect()`; Django's `websocket_connect`. */
  async websocket_connect(): Promise<void> {
    const groups = (this.constructor as typeof WebsocketConsumer).groups;
    if (groups.length > 0) {
      const layer = requireGroupLayer(this);
      for (const group of groups) await layer.groupAdd(group, this.channelName);
    }
    try {
      await this.connect();
    } catch (error) {
      if (error instanceof AcceptConnection) await this.accept();
      else if (error instanceof DenyConnection) await this.close();
      else throw error;
    }
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
  async send(data: string | Uint8Array, close: boolean | number = false): Promise<void> {
    const event: WebsocketSendEvent = typeof data === 'string'
      ? { type: 'websocket.send', text: data }
      : { type: 'websocket.send', bytes: data };
    await this.baseSend(event);
    if (close !== false) await this.close(close === true ? undefined : close);
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

  /** Leaves the static groups, calls `disconnect(code)` and ends the instance. */
  async websocket_disconnect(event: WebsocketDisconnectEvent): Promise<void> {
    const groups = (this.constructor as typeof WebsocketConsumer).groups;
    if (groups.length > 0) {
      const layer = requireGroupLayer(this);
      for (const group of groups) await layer.groupDiscard(group, this.channelName);
    }
    await this.disconnect(event.code);
    throw new StopConsumer();
  }

  /** Called once the connection is gone, with its close code (1005 when the client gave none). */
  async disconnect(_code: number): Promise<void> {}
}
