/**
 * Message serializers: how a layer message becomes the bytes channels_redis
 * stores (before the random prefix and encryption are added, see `wire.ts`).
 *
 * How it works: `msgpack` (the default) packs like Python's msgpack 1.x with
 * `use_bin_type=True`: str family for strings, bin for bytes, the smallest int
 * encoding (int64 past 32 bits), float64 for non-integers, nil for
 * `null`/`undefined`, maps in insertion order. Values Python could not carry or
 * decode (Map, Set, Date, class instances, functions) are refused at the
 * sender with `InvalidMessageError` instead of poisoning the receiver. `json`
 * writes what Python's `json.dumps` writes (`ensure_ascii`, `", "`/`": "`).
 * Custom formats are registered with {@link registerSerializer}. Spec §2.3, §2.11.
 */
import { Packr, Unpackr } from 'msgpackr';
import { ImproperlyConfigured, InvalidMessageError } from '../errors.js';

/**
 * Turns a message into bytes and back. Implement both to register a custom format.
 *
 * @example
 * ```ts
 * const upper: MessageSerializer = { serialize: (m) => Buffer.from(JSON.stringify(m)), deserialize: (b) => JSON.parse(String(b)) };
 * ```
 */
export interface MessageSerializer {
  /** The message (a plain object) as bytes. Throw `InvalidMessageError` for what cannot be carried. */
  serialize(message: Readonly<Record<string, unknown>>): Uint8Array;
  /** Bytes back into a value (a plain object for a well-formed message). */
  deserialize(body: Uint8Array): unknown;
}

/**
 * No serializer is registered under the requested format (channels_redis's `SerializerDoesNotExist`).
 *
 * @example
 * ```ts
 * try { getSerializer('yaml'); } catch (error) { if (error instanceof SerializerDoesNotExist) console.log(error.format); }
 * ```
 */
export class SerializerDoesNotExist extends ImproperlyConfigured {
  readonly format: string;
  constructor(format: string) {
    super(`No serializer is registered for format ${JSON.stringify(format)} (known: ${[...registry.keys()].join(', ')})`);
    this.format = format;
  }
}

const packr = new Packr({ useRecords: false, variableMapSize: true, encodeUndefinedAsNil: true, moreTypes: false });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });
const INT32_LIMIT = 2 ** 32;

/**
 * Checks a value can cross to Python; returns true when it holds integers past
 * 32 bits (which msgpackr would write as floats unless they are BigInts).
 */
function check(value: unknown, path: string, depth: number): boolean {
  if (depth > 512) throw new InvalidMessageError(`Message is nested too deeply at ${path}`);
  switch (typeof value) {
    case 'string':
    case 'boolean':
    case 'undefined':
      return false;
    case 'number':
      return Number.isInteger(value) && Math.abs(value) >= INT32_LIMIT;
    case 'bigint':
      if (value < -(2n ** 63n) || value >= 2n ** 64n) throw new InvalidMessageError(`Integer out of the 64-bit range at ${path}`);
      return false;
    case 'object': {
      if (value === null || value instanceof Uint8Array) return false;
      let big = false;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) big = check(value[i], `${path}[${i}]`, depth + 1) || big;
        return big;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) {
        const kind = (value as object).constructor?.name ?? 'object';
        throw new InvalidMessageError(`A ${kind} at ${path} cannot be sent through a Redis channel layer (use plain objects, arrays, strings, numbers, booleans, null and Uint8Array)`);
      }
      for (const key of Object.keys(value)) big = check((value as Record<string, unknown>)[key], `${path}.${key}`, depth + 1) || big;
      return big;
    }
    default:
      throw new InvalidMessageError(`A ${typeof value} at ${path} cannot be sent through a Redis channel layer`);
  }
}

/** A copy with integers past 32 bits turned into BigInts (so they stay integers on the wire). */
function withBigInts(value: unknown): unknown {
  if (typeof value === 'number') return Number.isInteger(value) && Math.abs(value) >= INT32_LIMIT ? BigInt(value) : value;
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return value;
  if (Array.isArray(value)) return value.map(withBigInts);
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) out[key] = withBigInts((value as Record<string, unknown>)[key]);
  return out;
}

/**
 * The default serializer: msgpack as Python's `msgpack.packb(use_bin_type=True)`.
 *
 * @example
 * ```ts
 * msgpackSerializer.serialize({ a: true, b: null, c: { d: [] } }); // 83 a1 61 c3 a1 62 c0 a1 63 81 a1 64 90
 * ```
 */
export const msgpackSerializer: MessageSerializer = {
  serialize(message) {
    const value = check(message, 'message', 0) ? withBigInts(message) : message;
    return packr.pack(value);
  },
  deserialize(body) {
    return unpackr.unpack(body);
  },
};

const ESCAPES: Record<string, string> = { '"': '\\"', '\\': '\\\\', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function pyJson(value: unknown, path: string): string {
  switch (typeof value) {
    case 'string':
      return '"' + value.replace(/["\\\u0000-\u001f\u007f-\uffff]/g, (c) => ESCAPES[c] ?? '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0')) + '"';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) return Number.isNaN(value) ? 'NaN' : value > 0 ? 'Infinity' : '-Infinity';
      return String(value);
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) return '[' + value.map((v, i) => pyJson(v, `${path}[${i}]`)).join(', ') + ']';
      const proto = Object.getPrototypeOf(value);
      if (proto === Object.prototype || proto === null) {
        return '{' + Object.keys(value).map((k) => `${pyJson(k, path)}: ${pyJson((value as Record<string, unknown>)[k], `${path}.${k}`)}`).join(', ') + '}';
      }
    }
  }
  throw new InvalidMessageError(`The value at ${path} is not JSON serializable (the json serializer carries no bytes)`);
}

/**
 * The `json` serializer: Python's `json.dumps(message).encode()`, bytes refused.
 *
 * @example
 * ```ts
 * new TextDecoder().decode(jsonSerializer.serialize({ a: true })); // '{"a": true}'
 * ```
 */
export const jsonSerializer: MessageSerializer = {
  serialize(message) {
    return Buffer.from(pyJson(message, 'message'), 'latin1');
  },
  deserialize(body) {
    return JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));
  },
};

const registry = new Map<string, MessageSerializer>([
  ['msgpack', msgpackSerializer],
  ['json', jsonSerializer],
]);

/**
 * Registers a serializer under a format name (`serializerFormat` option).
 * Throws `TypeError` unless it has both `serialize` and `deserialize`.
 *
 * @example
 * ```ts
 * registerSerializer('cbor', { serialize: (m) => cbor.encode(m), deserialize: (b) => cbor.decode(b) });
 * ```
 */
export function registerSerializer(format: string, serializer: MessageSerializer): void {
  const candidate = serializer as Partial<MessageSerializer> | null;
  if (typeof candidate?.serialize !== 'function' || typeof candidate.deserialize !== 'function') {
    throw new TypeError(`Serializer ${JSON.stringify(format)} must have serialize() and deserialize() methods`);
  }
  registry.set(format, serializer);
}

/**
 * The serializer of a format; throws {@link SerializerDoesNotExist}.
 *
 * @example
 * ```ts
 * getSerializer('json') === jsonSerializer; // true
 * ```
 */
export function getSerializer(format: string): MessageSerializer {
  const serializer = registry.get(format);
  if (serializer === undefined) throw new SerializerDoesNotExist(format);
  return serializer;
}

/** Whether `serializer` is the built-in msgpack one (which allows a faster group send). */
export function isMsgpack(serializer: MessageSerializer): boolean {
  return serializer === msgpackSerializer;
}
