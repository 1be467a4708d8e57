/**
 * Protocols: what a consumer and its clients say to each other, declared
 * once with Standard Schema schemas (zod, valibot, arktype... any library
 * that implements `~standard`), and the types both sides infer from it.
 *
 * How it works. {@link defineProtocol} checks the shape of a declaration
 * and returns it unchanged, so `typeof protocol` keeps every schema's
 * type: the server (`TypedJsonConsumer`, `typed.ts`) validates with the
 * schemas at run time, and the client (`switchyard/client`) imports only
 * the types (no code generation, no schema library in the page). The type
 * helpers below turn a protocol, or a consumer class that declares one,
 * into the shapes of each direction.
 *
 * Only types and two small functions live here; the client imports types
 * from this module, never values.
 */
import type { StandardSchemaV1 } from '@standard-schema/spec';

/** Any Standard Schema (zod 4, valibot 1, arktype 2...). */
export type Schema = StandardSchemaV1;
/** A map from a message's `type` to the schema of the rest of the message. */
export type SchemaMap = Readonly<Record<string, Schema>>;
/** A request's schemas: what the client sends (`input`) and, optionally, what the reply is (`output`). */
export interface RequestSchemas { readonly input: Schema; readonly output?: Schema }

/**
 * What a protocol declares; every part is optional.
 * - `messages`: what clients send, either one schema or a map by `type`
 *   (the schema then describes the message without its `type`);
 * - `events`: group events by `type` (what `groupSend` carries between consumers);
 * - `requests`: request/reply, by name: a schema of the input, or `{ input, output }`;
 * - `frames`: what the consumer sends to clients (types only: not validated).
 */
export interface ProtocolSpec {
  readonly messages?: Schema | SchemaMap;
  readonly events?: SchemaMap;
  readonly requests?: Readonly<Record<string, Schema | RequestSchemas>>;
  readonly frames?: Schema | SchemaMap;
}

// ---- type helpers ------------------------------------------------------------------------

type In<S> = S extends Schema ? StandardSchemaV1.InferInput<S> : never;
type Out<S> = S extends Schema ? StandardSchemaV1.InferOutput<S> : never;
type Simplify<T> = { [K in keyof T]: T[K] } & {};
/** `{ type: K } & fields` for each `K` of a map. */
type Tagged<M, Infer extends 'in' | 'out'> = {
  [K in keyof M & string]: Simplify<{ type: K } & (Infer extends 'in' ? In<M[K]> : Out<M[K]>)>
}[keyof M & string];
/** One schema, or a map by `type`, as the values it describes. */
type OneOrMap<S, Infer extends 'in' | 'out'> = S extends Schema ? (Infer extends 'in' ? In<S> : Out<S>) : S extends SchemaMap ? Tagged<S, Infer> : unknown;

/**
 * The protocol of `T`: `T` itself when it is a protocol, the static
 * `protocol` of a consumer class, or `unknown` (untyped) otherwise.
 */
export type ProtocolOf<T> = unknown extends T ? unknown : T extends { protocol: infer P extends ProtocolSpec } ? P : T extends ProtocolSpec ? T : unknown;

/** What a client sends (the schemas' input): `unknown` when untyped. */
export type ClientMessage<T> = ProtocolOf<T> extends { messages: infer M } ? OneOrMap<M, 'in'> : unknown;
/** A client message as the consumer's `receiveJson` gets it (validated: the schemas' output). */
export type ReceivedMessage<T> = ProtocolOf<T> extends { messages: infer M } ? OneOrMap<M, 'out'> : unknown;
/** The group events a consumer sends (`groupSend`), `{ type, ...fields }`. */
export type GroupEvent<T> = ProtocolOf<T> extends { events: infer E } ? Tagged<E, 'in'> : never;
/** One group event as its handler gets it (validated). */
export type EventOf<T, K extends string> = ProtocolOf<T> extends { events: infer E } ? K extends keyof E ? Simplify<{ type: K } & Out<E[K]>> : never : never;
/** What the consumer sends to its clients, error frames included. */
export type ServerFrame<T> = ProtocolOf<T> extends { frames: infer F } ? OneOrMap<F, 'in'> | ErrorFrame : unknown;
/** The names of the requests: `string` when untyped. */
export type RequestName<T> = ProtocolOf<T> extends { requests: infer R } ? keyof R & string : string;

type InputSchema<R> = R extends RequestSchemas ? R['input'] : R;
type RequestOf<T, K> = ProtocolOf<T> extends { requests: infer R } ? K extends keyof R ? R[K] : never : never;
/** What the client passes to a request (the input schema's input). */
export type RequestInput<T, K extends string> = unknown extends ProtocolOf<T> ? unknown : In<InputSchema<RequestOf<T, K>>>;
/** What the handler gets (the input schema's output). */
export type RequestArgument<T, K extends string> = Out<InputSchema<RequestOf<T, K>>>;
/** What the handler returns and the client gets: the `output` schema's type, `unknown` when there is none. */
export type RequestReply<T, K extends string> = RequestOf<T, K> extends { output: infer O extends Schema } ? Out<O> : unknown;

/** The error frame a consumer sends: the seeds' `{type, message}`, with a stable `code` and the `issues` when it is about a message. */
export interface ErrorFrame {
  type: 'error';
  message: string;
  code?: string;
  issues?: Issue[];
}

/** One problem with a message: where (`path`, dotted: `"user.name"`, `""` for the whole) and what. */
export interface Issue { path: string; message: string }

// ---- run time ----------------------------------------------------------------------------

/** A Standard Schema: an object with a `~standard` carrying `validate`. */
export function isSchema(value: unknown): value is Schema {
  const props = (value as { '~standard'?: { validate?: unknown } } | null)?.['~standard'];
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof props?.validate === 'function';
}

const PARTS = ['messages', 'events', 'requests', 'frames'];

/**
 * Declares a protocol: the schemas of what clients send (`messages`), of
 * the group events (`events`), of the requests, and of what the consumer
 * sends (`frames`). Returns the declaration itself, so that `typeof` it
 * carries every type. A misspelt part or a value that is not a Standard
 * Schema throws a `TypeError` naming it.
 *
 * @example
 * ```ts
 * import { z } from 'zod';
 * import { defineProtocol } from 'switchyard';
 *
 * export const chat = defineProtocol({
 *   messages: { say: z.object({ text: z.string().min(1).max(1000) }) },
 *   events: { chat_message: z.object({ text: z.string(), user: z.string() }) },
 *   requests: { rename: { input: z.object({ name: z.string().min(1) }), output: z.object({ name: z.string() }) } },
 *   frames: { said: z.object({ text: z.string(), user: z.string() }) },
 * });
 * ```
 */
export function defineProtocol<const P extends ProtocolSpec>(protocol: P): P {
  if (typeof protocol !== 'object' || protocol === null) throw new TypeError('defineProtocol() takes an object: { messages, events, requests, frames }');
  for (const [part, value] of Object.entries(protocol)) {
    if (!PARTS.includes(part)) throw new TypeError(`defineProtocol(): unknown part "${part}" (expected ${PARTS.join(', ')})`);
    if (value === undefined) continue;
    if ((part === 'messages' || part === 'frames') && isSchema(value)) continue;
    if (typeof value !== 'object' || value === null || isSchema(value)) throw new TypeError(`defineProtocol(): "${part}" must be ${part === 'messages' || part === 'frames' ? 'a schema or ' : ''}a map of schemas`);
    for (const [name, schema] of Object.entries(value as object)) {
      const ok = part === 'requests' ? isSchema(schema) || (isSchema((schema as RequestSchemas)?.input) && ((schema as RequestSchemas).output === undefined || isSchema((schema as RequestSchemas).output)))
        : isSchema(schema);
      if (!ok) throw new TypeError(`defineProtocol(): ${part}.${name} is not a Standard Schema${part === 'requests' ? ' (nor { input, output } of schemas)' : ''}`);
    }
  }
  return protocol;
}

/** What a validation gives: the value, or the issues (as the wire carries them). */
export type Checked<T = unknown> = { value: T; issues?: undefined } | { issues: Issue[] };

/** A Standard Schema path as the wire shows it: `"user.name"`, `"items.0"`. */
function pathOf(path: StandardSchemaV1.Issue['path']): string {
  if (path === undefined) return '';
  return path.map((segment) => String(typeof segment === 'object' && segment !== null ? segment.key : segment)).join('.');
}

function checked<T>(result: StandardSchemaV1.Result<T>): Checked<T> {
  if (result.issues === undefined) return { value: result.value };
  return { issues: result.issues.map((issue) => ({ path: pathOf(issue.path), message: issue.message })) };
}

/**
 * Validates `value` with `schema`: synchronously when the schema is (so a
 * handler can start in the same turn), else a promise. A schema that throws
 * is reported as one issue, not as a crash.
 */
export function check<T>(schema: StandardSchemaV1<unknown, T>, value: unknown): Checked<T> | Promise<Checked<T>> {
  let result: StandardSchemaV1.Result<T> | Promise<StandardSchemaV1.Result<T>>;
  try {
    result = schema['~standard'].validate(value);
  } catch (error) {
    return { issues: [{ path: '', message: `Validation failed: ${error instanceof Error ? error.message : String(error)}` }] };
  }
  if (result instanceof Promise) return result.then(checked, (error: unknown) => ({ issues: [{ path: '', message: `Validation failed: ${error instanceof Error ? error.message : String(error)}` }] }));
  return checked(result);
}

/** The one line an error frame's `message` gives: the first issue, with its path. */
export function describeIssues(issues: readonly Issue[]): string {
  const first = issues[0];
  if (first === undefined) return 'Invalid message';
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
  return `Invalid message: ${first.path === '' ? '' : `${first.path}: `}${first.message}${more}`;
}
