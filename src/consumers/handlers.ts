/**
 * Which method handles a message, decided in one place.
 *
 * Django's rule names the method: the message `type` with dots turned into
 * underscores (`chat.message` → `chat_message`), refused when it starts with
 * `_`. Switchyard adds one rule, so that a layer message can never call the
 * framework (`close`, `send`, `groupSend`...): a handler is a method defined
 * on the user's subclasses under a name the framework does not define (an
 * override of `receive` or `connect` is not a handler), or one of the
 * framework's event handlers (`websocket_*`, `http_*`, `lifespan_*`). A consumer may instead declare how
 * a message type renders (`static renders`, see `broadcast.ts`); a method of
 * that name wins over the declared render.
 *
 * The lookup walks the prototype chain once per class and type; the answer
 * is kept in a table per class.
 */
import { rendersOf, renderedHandler } from './broadcast.js';

/** A handler as the lanes call it, with the consumer as `this`. */
export type Handler = (this: object, event: { type: string }) => unknown;

/** The framework's event handlers: the only framework methods a message type may name. */
const EVENT_HANDLER = /^(websocket|http|lifespan)_[a-z_]+$/;

/** Prototypes of the framework's consumer classes (see {@link frameworkClasses}). */
const framework = new WeakSet<object>();

/** Names the framework's consumer classes; their methods are not handlers (bar the event handlers). */
export function frameworkClasses(...classes: Array<{ prototype: object }>): void {
  for (const { prototype } of classes) framework.add(prototype);
}

/** Message type → handler name, for the types seen so far (bounded: made-up types cannot grow it without end). */
const names = new Map<string, string>();

/**
 * The method name that handles a message type: dots become underscores.
 * Throws for a missing type or a name that would start with `_`.
 *
 * @example
 * ```ts
 * import { handlerName } from 'switchyard';
 * handlerName({ type: 'chat.message' }); // "chat_message"
 * ```
 */
export function handlerName(message: { type?: unknown }): string {
  const type = message.type;
  if (typeof type === 'string') {
    const known = names.get(type);
    if (known !== undefined) return known;
  }
  if (typeof type !== 'string' || type === '') throw new TypeError("Incoming message has no 'type' attribute");
  const name = type.replaceAll('.', '_');
  if (name.startsWith('_')) throw new TypeError('Malformed type in message (leading underscore)');
  if (names.size < 1024) names.set(type, name);
  return name;
}

/** Per consumer class: handler name → its handler, or null when the name has none. */
const tables = new WeakMap<object, Map<string, Handler | null>>();

/**
 * The handler of `name` for instances of `consumerClass`, or null: a method
 * the user's classes define, a framework event handler, or a declared render.
 */
export function findHandler(consumerClass: abstract new () => object, name: string): Handler | null {
  let table = tables.get(consumerClass);
  if (table === undefined) tables.set(consumerClass, (table = new Map()));
  let handler = table.get(name);
  if (handler === undefined) {
    handler = lookUp(consumerClass, name);
    if (table.size < 1024) table.set(name, handler);
  }
  return handler;
}

function lookUp(consumerClass: abstract new () => object, name: string): Handler | null {
  let own: PropertyDescriptor | undefined;
  for (let proto: object | null = consumerClass.prototype; proto !== null && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    const descriptor = Object.getOwnPropertyDescriptor(proto, name);
    if (descriptor === undefined) continue;
    // A name the framework defines is not a handler even where the user's class overrides it
    // (`receive`, `connect`, `disconnect`...): only the framework's event handlers are.
    if (framework.has(proto)) return EVENT_HANDLER.test(name) ? ((own ?? descriptor).value as Handler) : null;
    own ??= descriptor;
  }
  if (own !== undefined) return typeof own.value === 'function' ? (own.value as Handler) : null;
  const renders = rendersOf(consumerClass);
  return renders !== undefined && Object.hasOwn(renders, name) ? renderedHandler(renders[name]!) : null;
}

// The last class and type looked up, and the answer: a broadcast asks for the same pair once per member, in a row.
let lastClass: object | null = null;
let lastType: unknown = null;
let lastHandler: Handler | null = null;

/** {@link findHandler} for a message's type (its name by {@link handlerName}); the last answer is kept. */
export function handlerOfType(consumerClass: abstract new () => object, message: { type?: unknown }): Handler | null {
  const type = message.type;
  if (consumerClass === lastClass && type === lastType) return lastHandler;
  const handler = findHandler(consumerClass, handlerName(message));
  lastClass = consumerClass;
  lastType = type;
  lastHandler = handler;
  return handler;
}
