/**
 * What a channel layer message may hold: one set of rules for every layer,
 * so a test that passes on the in-memory layer means the same on Redis.
 *
 * The rules are what channels_redis's msgpack carries round-trip to a Python
 * peer and back without change:
 *
 * | allowed | |
 * |---|---|
 * | `null`, `true`/`false`, strings | as they are |
 * | finite numbers | integers beyond 32 bits travel as msgpack int64/uint64 (past 64 bits as float64, exact for JavaScript, a float for Python); `-0` is accepted and arrives as `0` on Redis (`-0 === 0`, and JSON writes both as `0`) |
 * | `Uint8Array` (a `Buffer` is one) | msgpack `bin`, Python `bytes` |
 * | plain arrays, plain objects with string keys | nested up to 512 levels |
 *
 * Everything else is refused with `InvalidMessageError` naming the path of
 * the field (`message.user.joined: Date is not allowed...`): `undefined`
 * (Redis delivers `null`; a hole in an array is `undefined` too), `NaN` and
 * `±Infinity` (msgpack would carry them, but most messages end up as JSON,
 * where they silently become `null`), `bigint` (it arrives as a number),
 * functions and symbols (dropped), class instances (`Date`, `Map`, `Set`,
 * `RegExp`, your own classes: Python cannot decode them, or they arrive as
 * plain objects), other typed arrays, `ArrayBuffer`. Symbol-keyed properties
 * are not checked (looking for them would double the cost of the walk): like
 * `JSON.stringify`, the Redis layers leave them out.
 *
 * How it works: one recursive walk, no allocation for valid input beyond the
 * path strings of a failure. The in-memory layer freezes containers in the
 * same walk (post-order, so a container holding a refused value is left
 * unfrozen and can be fixed); the msgpack serializer learns from the same
 * walk whether it must write wide integers as int64.
 */
import type { LayerMessage } from '../asgi.js';
import { InvalidMessageError } from '../errors.js';

/** Deeper than this is refused (and a cyclic message ends here instead of overflowing the stack). */
export const MAX_MESSAGE_DEPTH = 512;

/** A flag {@link checkMessageValues} returns: some integer lies outside the signed/unsigned 32-bit range. */
export const WIDE_INTEGERS = 1;

const INT32_MIN = -(2 ** 31);
const UINT32_LIMIT = 2 ** 32;
const INT64_MIN = -(2 ** 63);
const UINT64_LIMIT = 2 ** 64;

/**
 * True for an integer msgpack must write as int64/uint64 (outside 32 bits,
 * inside 64); integers past 64 bits travel as float64, exact for JavaScript.
 *
 * @example
 * ```ts
 * import { isWideInteger } from './validate.js';
 *
 * isWideInteger(2 ** 40); // true
 * ```
 */
export function isWideInteger(value: number): boolean {
  return (value >= UINT32_LIMIT || value < INT32_MIN) && value >= INT64_MIN && value < UINT64_LIMIT && Number.isInteger(value);
}

/** Thrown by the fast walk (no paths): the caller walks again with paths to say where. */
const REFUSED = new Error('refused');

function refuse(path: string | null, what: string, why: string): never {
  if (path === null) throw REFUSED;
  throw new InvalidMessageError(`${path}: ${what} is not allowed in a channel layer message (${why})`);
}

function describe(value: object): string {
  const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof name === 'string' && name !== '' ? name : 'an object with a custom prototype';
}

/** Why a non-plain object is refused, per kind: the message says what to send instead. */
function refuseObject(path: string | null, value: object): never {
  if (value instanceof Date) refuse(path, 'Date', 'Python cannot decode it: send date.toISOString() or a timestamp number');
  if (value instanceof Map || value instanceof Set) refuse(path, describe(value), 'it arrives as something else on Redis: send a plain object or an array');
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) refuse(path, describe(value), 'only Uint8Array or Buffer travel as bytes');
  refuse(path, `a ${describe(value)} instance`, 'only plain objects, arrays, strings, finite numbers, booleans, null and Uint8Array cross to Redis and Python');
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

function child(path: string | null, key: string | number): string | null {
  if (path === null) return null;
  if (typeof key === 'number') return `${path}[${key}]`;
  return IDENTIFIER.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

/**
 * Walks one value; throws at the first refused value. Returns flags
 * ({@link WIDE_INTEGERS}). `path` is null on the fast walk (no strings are
 * built; a refusal throws REFUSED) and a string on the walk that names the
 * field. With `freeze`, plain containers are frozen once their contents passed.
 */
function walk(value: unknown, path: string | null, depth: number, freeze: boolean): number {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return 0;
    case 'number':
      // NaN and ±Infinity are the numbers for which x - x is not 0.
      if (value - value !== 0) refuse(path, String(value), 'JSON, where most messages end up, turns it into null: send null or a string');
      return isWideInteger(value) ? WIDE_INTEGERS : 0;
    case 'undefined':
      refuse(path, 'undefined', 'Redis delivers it as null: leave the key out or send null');
    case 'bigint':
      refuse(path, 'bigint', 'it arrives as a number: send a number or a string');
    case 'object': {
      if (value === null || value instanceof Uint8Array) return 0;
      if (depth >= MAX_MESSAGE_DEPTH) {
        if (path === null) throw REFUSED;
        throw new InvalidMessageError(`${path}: the message is nested more than ${MAX_MESSAGE_DEPTH} levels deep (or holds a cycle)`);
      }
      let flags = 0;
      if (Array.isArray(value)) {
        if (Object.getPrototypeOf(value) !== Array.prototype) refuseObject(path, value);
        for (let i = 0; i < value.length; i++) flags |= walk(value[i], child(path, i), depth + 1, freeze);
      } else {
        const proto: unknown = Object.getPrototypeOf(value);
        if (proto !== Object.prototype && proto !== null) refuseObject(path, value);
        // for...in rather than Object.keys: no array per object (a plain object has no inherited enumerable keys).
        for (const key in value) flags |= walk((value as Record<string, unknown>)[key], child(path, key), depth + 1, freeze);
      }
      if (freeze && !Object.isFrozen(value)) Object.freeze(value);
      return flags;
    }
    default:
      refuse(path, `a ${typeof value}`, 'it cannot be serialized: Redis drops it or fails');
  }
}

/** The fast walk, then (only when it refused) the walk that names the offending field. */
function check(value: unknown, path: string, freeze: boolean): number {
  try {
    return walk(value, null, 0, freeze);
  } catch (error) {
    if (error !== REFUSED) throw error;
    walk(value, path, 0, false);
    throw new InvalidMessageError(`${path}: refused`); // not reached: the named walk refuses the same value
  }
}

/**
 * Throws `InvalidMessageError` unless the message is a plain object with a
 * string `type` and no reserved `__asgi_channel__` key. Only the top level:
 * {@link requireValidMessage} checks the values too.
 *
 * @example
 * ```ts
 * import { requireMessageShape } from './validate.js';
 *
 * requireMessageShape({ type: 'chat.message', at: new Date() }); // passes: the shape is right
 * ```
 */
export function requireMessageShape(message: unknown): asserts message is LayerMessage {
  if (message === null || typeof message !== 'object' || Array.isArray(message)) {
    throw new InvalidMessageError('A channel layer message must be a plain object');
  }
  const proto: unknown = Object.getPrototypeOf(message);
  if (proto !== Object.prototype && proto !== null) {
    throw new InvalidMessageError('A channel layer message must be a plain object, not a class instance');
  }
  if (typeof (message as { type?: unknown }).type !== 'string') {
    throw new InvalidMessageError("A channel layer message must have a string 'type'");
  }
  if ('__asgi_channel__' in message) {
    throw new InvalidMessageError("'__asgi_channel__' is reserved for the channel layer");
  }
}

/**
 * Checks every value of a message (or any value) against the rules above,
 * in one walk; returns flags ({@link WIDE_INTEGERS}) for serializers. With
 * `freeze`, each plain object and array is frozen once its contents passed
 * (the in-memory layer delivers one frozen object to every receiver).
 *
 * @example
 * ```ts
 * import { checkMessageValues } from './validate.js';
 *
 * checkMessageValues({ type: 'x', user: { joined: new Date() } });
 * // InvalidMessageError: message.user.joined: Date is not allowed in a channel layer message (...)
 * ```
 */
export function checkMessageValues(value: unknown, options: { path?: string; freeze?: boolean } = {}): number {
  return check(value, options.path ?? 'message', options.freeze ?? false);
}

/**
 * Throws `InvalidMessageError` unless the message has the right shape
 * ({@link requireMessageShape}) and holds only what every layer carries
 * unchanged (see this module's rules). Every layer runs this on `send` and
 * `groupSend` (the in-memory layer unless `validateMessages: false`).
 *
 * @example
 * ```ts
 * import { requireValidMessage } from 'switchyard';
 *
 * requireValidMessage({ type: 'chat.message', text: 'hi', at: Date.now() }); // ok
 * requireValidMessage({ type: 'chat.message', nick: undefined });
 * // InvalidMessageError: message.nick: undefined is not allowed in a channel layer message (Redis delivers it as null: ...)
 * ```
 */
export function requireValidMessage(message: unknown): asserts message is LayerMessage {
  requireMessageShape(message);
  check(message, 'message', false);
}
