/**
 * The broadcast seam: a group event is rendered once, and every local member
 * sends the same string.
 *
 * How a broadcast flows. `groupSend` freezes the message once and the layer
 * hands that one object to every member's consumer (in one microtask for
 * the in-memory layer). A consumer class declares how an event type renders
 * (`static renders = { chat_message: (e) => JSON.stringify(...) }`); the
 * handler made here for that type renders through {@link renderedFrame},
 * which remembers the last event each render function rendered, so the
 * first member renders and the others send the same frozen frame, the same
 * string instance as its `text`. The
 * server then frames that text once (it compares it with the last text it
 * framed, an O(1) check for the same string) and writes the same bytes to
 * every socket. Nothing here is visible to the ASGI contract: a frame is a
 * plain `{ type: 'websocket.send', text }`.
 *
 * A plainly written handler (`async chat_message(e) { await
 * this.send(JSON.stringify(...)) }`) works too: the server still frames
 * equal texts once; each member then pays its own stringify and promise.
 */
import type { LayerMessage, WebsocketSendEvent } from '../asgi.js';

/** How a consumer turns a layer event into a frame: text (a `string`) or binary (a `Uint8Array`). */
export type Render<E extends LayerMessage = LayerMessage> = (event: E) => string | Uint8Array;

/**
 * Declared renders of a consumer class: handler name (`chat_message` for
 * type `chat.message`) → render function. Keep each a module-level function
 * or a property of the static map, not a fresh closure per call.
 */
export type Renders = Readonly<Record<string, Render<never>>>;

/** What a declared render's handler needs of its consumer. */
interface Sender { baseSend(event: WebsocketSendEvent): Promise<void> }

/** The frame a render's output is sent as; frozen, so that every member can send the same object. */
function frameOf(output: string | Uint8Array): WebsocketSendEvent {
  return Object.freeze(typeof output === 'string' ? { type: 'websocket.send', text: output } : { type: 'websocket.send', bytes: output });
}

// The most recent render of all: a broadcast's members hit it one after the other, with no lookup.
let lastEvent: object | null = null;
let lastRender: unknown = null;
let lastFrame: WebsocketSendEvent | null = null;

/**
 * One slot per render function: its last event and frame. A layer hands a
 * broadcast's members the same frozen event one after the other, so the last
 * event is enough to render once per broadcast (no allocation per broadcast).
 * Interleaved broadcasts render again: correct, only less shared.
 */
const slots = new WeakMap<Render<never>, { event: object; frame: WebsocketSendEvent }>();

/**
 * The `websocket.send` event of `render(event)`, computed once per frozen
 * event (as a layer delivers it) and render function: every later call gets
 * the same object, whose `text` is the same string.
 */
export function renderedFrame<E extends LayerMessage>(event: E, render: Render<E>): WebsocketSendEvent {
  if (event === lastEvent && render === lastRender) return lastFrame!;
  // A mutable event may change between calls: not shared.
  if (!Object.isFrozen(event)) return frameOf(render(event));
  const key = render as Render<never>;
  const slot = slots.get(key);
  let frame: WebsocketSendEvent;
  if (slot !== undefined && slot.event === event) frame = slot.frame;
  else {
    frame = frameOf(render(event));
    if (slot !== undefined) {
      slot.event = event;
      slot.frame = frame;
    } else slots.set(key, { event, frame });
  }
  lastEvent = event;
  lastRender = render;
  lastFrame = frame;
  return frame;
}

/** The declared renders of a consumer class (its static `renders`), if any. */
export function rendersOf(consumerClass: object): Renders | undefined {
  return (consumerClass as { renders?: Renders }).renders;
}

/** One handler per render function, shared by every class that declares it. */
const handlers = new WeakMap<Render<never>, (this: object, event: { type: string }) => Promise<void>>();

/** The handler of a declared render: renders once per broadcast, sends the shared frame. */
export function renderedHandler(render: Render<never>): (this: object, event: { type: string }) => Promise<void> {
  let handler = handlers.get(render);
  if (handler === undefined) {
    const as = render as Render;
    handler = function (this: object, event: { type: string }) {
      return (this as Sender).baseSend(renderedFrame(event as LayerMessage, as));
    };
    handlers.set(render, handler);
  }
  return handler;
}
