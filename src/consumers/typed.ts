/**
 * `TypedJsonConsumer`: a JSON consumer whose messages, group events and
 * requests are declared with schemas (`schema.ts`) and validated before any
 * handler sees them.
 *
 * How it works.
 * - **From the client.** A decoded message is checked against the
 *   protocol's `messages` (one schema, or a map by `type`). A valid one
 *   reaches `receiveJson` as the schema's output; an invalid one never
 *   does: `invalidMessage(issues)` answers the seeds' error frame with a
 *   stable `code` and the `issues` added, logs one debug line, and the
 *   connection lives on.
 * - **Requests** (`{"$sy":"q"...}`, `requests.ts`) are validated by their
 *   input schema and answered with what the handler returns, within
 *   `requestTimeout`; a handler that throws answers `handler_error`.
 * - **From the channel layer.** An event whose `type` the protocol declares
 *   is validated on receipt (another process may run older code), once per
 *   broadcast per process: every member gets the same frozen, validated
 *   object, so declared renders still render once. An invalid one is
 *   dropped with a warn line and counted in {@link typedCounts}; with
 *   recovery on, the client's position still moves past it.
 */
import type { LayerMessage } from '../asgi.js';
import { LayerUnavailableError } from '../errors.js';
import { type ChannelLayer, EXCEPT_KEY, type GroupSendOptions } from '../layers/base.js';
import { logger } from '../log.js';
import { requireGroupLayer } from './base.js';
import { JsonWebsocketConsumer } from './json.js';
import { RequestError, type RequestFrame, errorReplyFrame, replyFrame, requestIn } from './requests.js';
import {
  type Checked, type GroupEvent, type Issue, type ProtocolSpec, type ReceivedMessage, type RequestArgument, type RequestReply, type RequestSchemas,
  type Schema, type SchemaMap, type ServerFrame, check, describeIssues, isSchema,
} from './schema.js';
import { logLayerUnavailable } from './unavailable.js';

/** What typed consumers refused in this process since it started (a metrics layer can export them). */
export const typedCounts = {
  /** Client messages that failed their schema (answered with an error frame). */
  invalidMessages: 0,
  /** Group events that failed their schema on receipt (dropped; counted once per broadcast per process). */
  invalidEvents: 0,
  /** Requests answered with an error, by code (`invalid_message`, `handler_error`, `timeout`...). */
  requestErrors: {} as Record<string, number>,
};

/**
 * The request handlers of a consumer for protocol `T`: one function per
 * declared request, given the validated input, returning the reply. Each
 * is called with the consumer as `this`; `This` types it, for handlers
 * declared once on the class (`static requests`, see {@link TypedJsonConsumer}).
 */
export type RequestHandlers<T, This = unknown> = ProtocolSpec extends T ? Record<string, (this: This, input: never) => unknown>
  : T extends { requests: infer R } ? { [K in keyof R & string]: (this: This, input: RequestArgument<T, K>) => RequestReply<T, K> | Promise<RequestReply<T, K>> }
  : Record<string, never>;

/** Keys a layer or Switchyard adds to an event (`__switchyard_position__`...): not the schema's business. */
const isStamp = (key: string) => key.startsWith('__');

/** The message without `type` and stamps: what a map's schema describes. */
function fieldsOf(content: object): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const key of Object.keys(content)) if (key !== 'type' && !isStamp(key)) fields[key] = (content as Record<string, unknown>)[key];
  return fields;
}

/** The validated message: `{ type, ...output }`, the stamps of the original kept. */
function tagged(content: object, type: string, result: Checked): Checked {
  if (result.issues !== undefined) return result;
  const value = result.value;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { value: { ...content, type } };
  return { value: { ...content, ...value, type } };
}

function then<T, U>(value: T | Promise<T>, next: (value: T) => U): U | Promise<Awaited<U>> {
  return value instanceof Promise ? value.then(next) as Promise<Awaited<U>> : next(value);
}

/** Validates a message with one schema, or with the schema of its `type` in a map. */
export function checkMessage(schemas: Schema | SchemaMap, content: unknown): Checked | Promise<Checked> {
  if (isSchema(schemas)) return check(schemas, content);
  if (typeof content !== 'object' || content === null || Array.isArray(content)) return { issues: [{ path: '', message: 'Expected an object with a "type"' }] };
  const type = (content as { type?: unknown }).type;
  if (typeof type !== 'string' || !Object.hasOwn(schemas, type)) {
    return { issues: [{ path: 'type', message: `Expected one of: ${Object.keys(schemas).map((t) => JSON.stringify(t)).join(', ')}` }] };
  }
  return then(check(schemas[type]!, fieldsOf(content)), (result) => tagged(content, type, result));
}

/** Per event object (a broadcast's members share one): its schema and verdict, the validated event or null. */
const verdicts = new WeakMap<object, { schema: Schema; verdict: LayerMessage | null | Promise<LayerMessage | null> }>();

function eventVerdict(message: LayerMessage, schema: Schema, consumer: string): LayerMessage | null | Promise<LayerMessage | null> {
  const known = verdicts.get(message);
  if (known !== undefined && known.schema === schema) return known.verdict;
  const verdict = then(check(schema, fieldsOf(message)), (result): LayerMessage | null => {
    if (result.issues === undefined) return Object.freeze((tagged(message, message.type, result) as { value: LayerMessage }).value);
    typedCounts.invalidEvents++;
    logger.warn({ type: message.type, issues: result.issues.slice(0, 5), consumer }, `group event dropped: it does not match the protocol's schema (${describeIssues(result.issues)})`);
    return null;
  });
  // A mutable event may change between members: only a frozen one (as layers deliver them) is shared.
  if (Object.isFrozen(message)) verdicts.set(message, { schema, verdict });
  return verdict;
}

/** The answer to a `$sy:"q"` frame that cannot be answered by id. */
const MALFORMED_REQUEST = { type: 'error', message: 'Malformed request: "id" must be a non-negative integer and "r" a request name', code: 'bad_request' } as const;

/** A name from the client, cut short for an error message or a log line. */
const shown = (name: string) => JSON.stringify(name.length > 64 ? `${name.slice(0, 64)}…` : name);

/**
 * `groupSend` for code outside a consumer (an HTTP view, a worker), typed
 * by a protocol's events and validated before it is sent: a wrong field is
 * a compile-time error, and a value the schema refuses at run time throws a
 * `TypeError` naming the field (nothing is sent).
 *
 * @example
 * ```ts
 * import { z } from 'zod';
 * import { InMemoryChannelLayer, defineProtocol, groupSender } from 'switchyard';
 *
 * const room = defineProtocol({ events: { chat_message: z.object({ text: z.string(), user: z.string() }) } });
 * const send = groupSender(new InMemoryChannelLayer(), room);
 * await send('room', { type: 'chat_message', text: 'from the admin page', user: 'admin' });
 * ```
 */
export function groupSender<P extends ProtocolSpec>(layer: ChannelLayer, protocol: P): (group: string, event: GroupEvent<P>, options?: GroupSendOptions) => Promise<void> {
  return async (group, event, options) => {
    const message = event as LayerMessage;
    const schema = protocol.events !== undefined && Object.hasOwn(protocol.events, message.type) ? protocol.events[message.type] : undefined;
    if (schema === undefined) throw new TypeError(`groupSend: the protocol declares no event ${shown(String(message.type))}`);
    const result = await check(schema, fieldsOf(message));
    if (result.issues !== undefined) throw new TypeError(`groupSend: ${message.type}: ${describeIssues(result.issues)}`);
    await layer.groupSend(group, message, options);
  };
}

/**
 * A JSON WebSocket consumer with a declared, validated protocol.
 *
 * Declare the protocol with `defineProtocol()` and give it both as the type
 * argument and as the static `protocol`. `receiveJson` gets valid client
 * messages only; group event handlers (named by Django's rule) get valid
 * events only; `groupSend` is checked at compile time against the
 * protocol's events; `requests` answers the client's requests.
 *
 * @example
 * ```ts
 * import { z } from 'zod';
 * import { TypedJsonConsumer, defineProtocol, type EventOf, type ReceivedMessage, type RequestHandlers } from 'switchyard';
 *
 * export const room = defineProtocol({
 *   messages: { say: z.object({ text: z.string().min(1) }) },
 *   events: { chat_message: z.object({ text: z.string(), user: z.string() }) },
 *   requests: { rename: { input: z.object({ name: z.string().min(1).max(30) }), output: z.object({ name: z.string() }) } },
 *   frames: { said: z.object({ text: z.string(), user: z.string() }) },
 * });
 *
 * export class Room extends TypedJsonConsumer<typeof room> {
 *   static override protocol = room;
 *   static override groups = ['room'];
 *   user = 'anonymous';
 *
 *   override async receiveJson(message: ReceivedMessage<typeof room>) {
 *     await this.groupSend('room', { type: 'chat_message', text: message.text, user: this.user });
 *   }
 *
 *   async chat_message(event: EventOf<typeof room, 'chat_message'>) {
 *     await this.sendJson({ type: 'said', text: event.text, user: event.user });
 *   }
 *
 *   // Once for the class; `this` is the connection's consumer.
 *   static override requests = {
 *     rename({ name }) {
 *       return { name: (this.user = name) };
 *     },
 *   } satisfies RequestHandlers<typeof room, Room>;
 * }
 * ```
 */
export class TypedJsonConsumer<P extends ProtocolSpec = ProtocolSpec> extends JsonWebsocketConsumer {
  /** The protocol (`defineProtocol()`); the same value as the class's type argument. */
  static protocol: ProtocolSpec = {};
  /** Ms a request handler may take; a slower one is answered `timeout` (and its result, later, ignored). */
  static requestTimeout = 10_000;

  /**
   * The request handlers of the whole class, by request name, each called
   * with the consumer as `this`: declared once, where an instance's own
   * `requests` object (and its closures) would be made for every
   * connection. An instance's `requests`, when it has them, are used instead.
   * Type them with `satisfies RequestHandlers<typeof protocol, TheConsumer>`.
   */
  static requests?: Readonly<Record<string, (input: never) => unknown>>;

  /** The request handlers, by request name (or, for all connections at once, the static `requests`). */
  requests?: RequestHandlers<P>;

  /** Called with each valid message from the client, as its schema outputs it. */
  override async receiveJson(_message: ReceivedMessage<P>): Promise<void> {}

  /** Sends a frame of the protocol (or an error frame) as JSON. */
  override async sendJson(content: ServerFrame<P>, close: boolean | number = false): Promise<void> {
    await super.sendJson(content, close);
  }

  /**
   * Sends a protocol event to a group (the channel layer's `groupSend`):
   * a misspelt field or a wrong type is a compile-time error.
   */
  groupSend(group: string, event: GroupEvent<P>, options?: GroupSendOptions): Promise<void> {
    return requireGroupLayer(this).groupSend(group, event as LayerMessage, options);
  }

  /**
   * Called instead of `receiveJson` for a message that fails its schema.
   * Sends `{"type":"error","message":"Invalid message: <path>: <problem>","code":"invalid_message","issues":[...]}`;
   * override to answer otherwise (a protocol whose clients expect another frame).
   */
  async invalidMessage(issues: Issue[], _content: unknown): Promise<void> {
    await this.sendJson({ type: 'error', message: describeIssues(issues), code: 'invalid_message', issues } as ServerFrame<P>);
  }

  /** Requests are answered; other messages are validated, then handed to `receiveJson`. */
  protected override receiveDecoded(content: unknown): Promise<void> {
    const request = requestIn(content);
    if (request === 'malformed') return this.sendJson(MALFORMED_REQUEST as ServerFrame<P>);
    if (request !== null) return this.#answer(request);
    const schemas = this.#protocol().messages;
    if (schemas === undefined) return this.receiveJson(content as ReceivedMessage<P>);
    return then(checkMessage(schemas, content), (result) => {
      if (result.issues === undefined) return this.receiveJson(result.value as ReceivedMessage<P>);
      typedCounts.invalidMessages++;
      logger.debug({ path: this.scope.path, issues: result.issues.slice(0, 5) }, 'invalid message: it does not match the protocol');
      return this.invalidMessage(result.issues, content);
    });
  }

  /** A declared event is validated (once per broadcast) before it reaches its handler or render. */
  protected override handleLayerMessage(message: LayerMessage): unknown {
    const events = this.#protocol().events;
    const schema = events !== undefined && Object.hasOwn(events, message.type) ? events[message.type] : undefined;
    if (schema === undefined) return super.handleLayerMessage(message);
    const verdict = eventVerdict(message, schema, this.constructor.name);
    if (verdict instanceof Promise) return verdict.then((valid) => this.#handleChecked(message, valid));
    return this.#handleChecked(message, verdict);
  }

  #handleChecked(message: LayerMessage, valid: LayerMessage | null): unknown {
    if (valid !== null) return super.handleLayerMessage(valid);
    // Dropped as a send that left this member out: recovery still moves the client's position past it.
    return super.handleLayerMessage(Object.freeze({ ...message, [EXCEPT_KEY]: this.channelName }));
  }

  #protocol(): ProtocolSpec {
    return (this.constructor as typeof TypedJsonConsumer).protocol;
  }

  /** Answers one request: validated input, the handler within the time limit, the reply or an error reply. */
  async #answer({ id, name, input }: RequestFrame): Promise<void> {
    const declared = this.#protocol().requests;
    const spec = declared !== undefined && Object.hasOwn(declared, name) ? declared[name] : undefined;
    const handlers = this.requests ?? (this.constructor as typeof TypedJsonConsumer).requests;
    const handler = spec === undefined ? undefined : (handlers as Record<string, unknown> | undefined)?.[name];
    if (spec === undefined || typeof handler !== 'function') {
      if (spec !== undefined) logger.warn({ request: name, consumer: this.constructor.name }, 'request declared by the protocol but without a handler in `requests`');
      return this.#fail(id, 'unknown_request', `Unknown request ${shown(name)}`);
    }
    const { input: inputSchema, output: outputSchema } = isSchema(spec) ? { input: spec, output: undefined } : spec as RequestSchemas;
    const checked = await check(inputSchema, input);
    if (checked.issues !== undefined) return this.#fail(id, 'invalid_message', describeIssues(checked.issues), checked.issues);
    const limit = (this.constructor as typeof TypedJsonConsumer).requestTimeout;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const outcome = await Promise.race([
      (async () => (handler as (input: unknown) => unknown).call(this, checked.value))().then((value) => ({ value }), (error: unknown) => ({ error })),
      new Promise<'timeout'>((resolve) => (timer = setTimeout(resolve, limit, 'timeout'))),
    ]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      logger.warn({ request: name, consumer: this.constructor.name, timeout: limit }, 'request handler too slow: answered with a timeout');
      return this.#fail(id, 'timeout', `The request took longer than ${limit} ms`);
    }
    if ('error' in outcome) return this.#failed(id, name, outcome.error);
    let reply = outcome.value;
    if (outputSchema !== undefined) {
      const out = await check(outputSchema, reply);
      if (out.issues !== undefined) {
        logger.error({ request: name, consumer: this.constructor.name, issues: out.issues.slice(0, 5) }, 'request handler returned a reply that does not match its output schema');
        return this.#fail(id, 'handler_error', 'The request failed');
      }
      reply = out.value;
    }
    await this.send(replyFrame(id, reply));
  }

  /** A handler's exception as the client sees it: its own `RequestError`, or an opaque `handler_error` (logged). */
  #failed(id: number, name: string, error: unknown): Promise<void> {
    if (error instanceof RequestError) return this.#fail(id, error.reason, error.message, error.issues);
    if (error instanceof LayerUnavailableError) {
      logLayerUnavailable(this, error, { type: `request ${name}` }, 'the request is answered "unavailable"');
      return this.#fail(id, 'unavailable', 'Temporarily unavailable: try again in a moment');
    }
    logger.error({ err: error, request: name, consumer: this.constructor.name }, 'request handler failed');
    return this.#fail(id, 'handler_error', 'The request failed');
  }

  #fail(id: number, code: string, message: string, issues?: Issue[]): Promise<void> {
    typedCounts.requestErrors[code] = (typedCounts.requestErrors[code] ?? 0) + 1;
    return this.send(errorReplyFrame(id, code, message, issues));
  }
}
