/**
 * Message serializers: how a layer message becomes the bytes channels_redis
 * stores (before the random prefix and encryption are added, see `wire.ts`).
 *
 * How it works: `msgpack` (the default) packs like Python's msgpack 1.x with
 * `use_bin_type=True`: str family for strings, bin for bytes, the smallest int
 * encoding (int64 past 32 bits), float64 for non-integers, nil for `null`,
 * maps in insertion order. What would not come back unchanged (`undefined`,
 * Map, Set, Date, class instances, functions, bigint, NaN...) is refused at
 * the sender with `InvalidMessageError` by the rules every layer shares
 * (`layers/validate.ts`), in the same walk that finds the wide integers. `json`
 * writes what Python's `json.dumps` writes (`ensure_ascii`, `", "`/`": "`).
 * Custom formats are registered with {@link registerSerializer}. Spec §2.3, §2.11.
 */
import { Packr, Unpackr } from 'msgpackr';
import { InvalidMessageError, SerializerDoesNotExist } from '../errors.js';
import type { LayerMessage } from '../asgi.js';
import { WIDE_INTEGERS, checkMessageValues, isWideInteger, requireMessageShape, requireValidMessage } from '../layers/validate.js';

// Defined with every other error in errors.ts; re-exported where it always was.
export { SerializerDoesNotExist };

/**
 * Turns a message into bytes and back. Implement both to register a custom format.
 *
 * @example
 * ```ts
 * import type { MessageSerializer } from 'switchyard/redis';
 *
 * const upper: MessageSerializer = { serialize: (m) => Buffer.from(JSON.stringify(m)), deserialize: (b) => JSON.parse(String(b)) };
 * ```
 */
export interface MessageSerializer {
  /** The message (a plain object) as bytes. Throw `InvalidMessageError` for what cannot be carried. */
  serialize(message: Readonly<Record<string, unknown>>): Uint8Array;
  /** Bytes back into a value (a plain object for a well-formed message). */
  deserialize(body: Uint8Array): unknown;
}

const packr = new Packr({ useRecords: false, variableMapSize: true, encodeUndefinedAsNil: true, moreTypes: false });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });
/** A copy with wide integers turned into BigInts (so they stay integers on the wire). */
function withBigInts(value: unknown): unknown {
  if (typeof value === 'number') return isWideInteger(value) ? BigInt(value) : value;
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
 * import { msgpackSerializer } from 'switchyard/redis';
 *
 * msgpackSerializer.serialize({ a: true, b: null, c: { d: [] } }); // 83 a1 61 c3 a1 62 c0 a1 63 81 a1 64 90
 * ```
 */
export const msgpackSerializer: MessageSerializer = {
  serialize(message) {
    // The shared rules' walk (the layers rely on it instead of walking twice) also finds wide integers.
    const flags = checkMessageValues(message);
    return packr.pack((flags & WIDE_INTEGERS) !== 0 ? withBigInts(message) : message);
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
 * import { jsonSerializer } from 'switchyard/redis';
 *
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
 * import { registerSerializer } from 'switchyard/redis';
 *
 * declare const cbor: { encode(value: unknown): Uint8Array; decode(bytes: Uint8Array): unknown }; // e.g. the cbor-x package
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
 * import { getSerializer, jsonSerializer } from 'switchyard/redis';
 *
 * getSerializer('json') === jsonSerializer; // true
 * ```
 */
export function getSerializer(format: string): MessageSerializer {
  const serializer = registry.get(format);
  if (serializer === undefined) throw new SerializerDoesNotExist(format, registry.keys());
  return serializer;
}

/**
 * The message check of a Redis layer using `serializer`: the shape, and the
 * shared value rules (`layers/validate.ts`), so every layer refuses the same
 * messages with the same error. The msgpack serializer runs the value rules
 * itself, in the walk it makes anyway, so they are not run twice.
 *
 * @example
 * ```ts
 * import { getSerializer } from 'switchyard/redis';
 * import { messageCheckFor } from './serializers.js';
 *
 * const check = messageCheckFor(getSerializer('json'));
 * check({ type: 'x', at: new Date() }); // InvalidMessageError: message.at: Date is not allowed...
 * ```
 */
export function messageCheckFor(serializer: MessageSerializer): (message: LayerMessage) => void {
  if (isMsgpack(serializer)) return requireMessageShape;
  return requireValidMessage;
}

/**
 * Whether `serializer` is the built-in msgpack one (which allows a faster
 * group send, and checks messages with the shared rules itself).
 */
export function isMsgpack(serializer: MessageSerializer): boolean {
  return serializer === msgpackSerializer;
}
