/**
 * `WebsocketConsumer`: Django's `AsyncWebsocketConsumer`.
 *
 * Turns the `websocket.*` events into `connect`, `receive` and `disconnect`
 * calls, joins the static `groups` on connect and leaves them on disconnect,
 * and offers `accept`, `send` and `close`. Closing before accepting refuses
 * the handshake (HTTP 403 from the server).
 *
 * `forward(event, render)` is the broadcast fastlane: it renders a layer event
 * to a frame once per event object and process, however many consumers
 * forward it, and hands the server the encoded bytes so it does not encode
 * them again either.
 */
import {
  ENCODED_FRAME,
  type Header,
  type LayerMessage,
  type WebsocketDisconnectEvent,
  type WebsocketReceiveEvent,
  type WebsocketSendEvent,
  utf8,
} from '../asgi.js';
import { AcceptConnection, DenyConnection, StopConsumer } from '../errors.js';
import { AsyncConsumer, requireGroupLayer, reserveFrameworkMethods } from './base.js';

/**
 * A rendered frame: the text, its UTF-8 bytes, and the `websocket.send`
 * event carrying both, all made once and shared (frozen) by every consumer
 * that forwards the same event.
 */
interface Frame { text: string; bytes: Uint8Array; event: WebsocketSendEvent }

function frameOf(text: string): Frame {
  const bytes = utf8(text);
  const event: WebsocketSendEvent = Object.freeze({ type: 'websocket.send', text, [ENCODED_FRAME]: bytes } as const);
  return { text, bytes, event };
}

/** The last frozen event a render function rendered, and its frame. */
interface LastRendered { event: object; frame: Frame }

/**
 * One slot per render function. A layer hands a broadcast's members the same
 * frozen event one after the other (in one microtask for the in-memory
 * layer), so remembering the last event is enough to render once per
 * broadcast, and costs no allocation per broadcast (a cache keyed by event
 * made a Map and a WeakMap entry for every message, a GC cost in rooms of
 * ten). Interleaved events are rendered again: correct, only less shared.
 */
const lastRendered = new WeakMap<(event: never) => string, LastRendered>();

/** The most recent render of all: a broadcast's members hit it one after the other, with no lookup. */
let latest: { event: object | null; render: unknown; frame: Frame | null } = { event: null, render: null, frame: null };

/** Renders `event` with `render`, reusing the frame when the event is frozen (delivered by a layer). */
export function renderOnce<E extends object>(event: E, render: (event: E) => string): Frame {
  if (event === latest.event && render === latest.render) return latest.frame!;
  if (!Object.isFrozen(event)) return frameOf(render(event));
  const key = render as (event: never) => string;
  const last = lastRendered.get(key);
  if (last !== undefined && last.event === event) return last.frame;
  const frame = frameOf(render(event));
  if (last !== undefined) {
    last.event = event;
    last.frame = frame;
  } else {
    lastRendered.set(key, { event, frame });
  }
  latest = { event, render, frame };
  return frame;
}

/** Renders a whole layer event as JSON (its `type` included). */
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
 */
export class WebsocketConsumer extends AsyncConsumer {
  /** Groups every instance joins on connect and leaves on disconnect. */
  static groups: string[] = [];

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
   * Sends a rendering of a layer event; the frame is computed once per event
   * for every consumer of the process that forwards it with the same `render`
   * function (keep `render` a module-level function, not a fresh closure).
   */
  forward<E extends LayerMessage>(event: E, render: (event: E) => string = wholeEventAsJson): Promise<void> {
    // Not async, and one frozen send event shared by every member: nothing is allocated per recipient.
    return this.baseSend(renderOnce(event, render).event);
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

reserveFrameworkMethods(WebsocketConsumer.prototype);
