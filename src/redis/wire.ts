/**
 * The channels_redis wire format: key names, the stored member framing and
 * the score clock. Spec §2.2, §2.3, §2.5.
 *
 * How it works: a stored member is `random prefix (12 bytes) ‖ body`, where
 * the body is the serialized message, Fernet-encrypted when keys are
 * configured. The random prefix keeps identical messages distinct inside a
 * sorted set. A message for a process-specific channel carries the target in
 * `__asgi_channel__` (a string for a direct send, a list of the receiving
 * process's members for a group send), added last, as Python does.
 *
 * For group sends with the msgpack serializer, the message is packed once and
 * each per-process copy only appends the `__asgi_channel__` entry to the packed
 * bytes (fixing up the map header), instead of repacking the whole message.
 */
import { randomFillSync } from 'node:crypto';
import { InvalidMessageError } from '../errors.js';
import { nonLocalName } from '../layers/base.js';
import type { MultiFernet } from './fernet.js';
import { type MessageSerializer, isMsgpack, msgpackSerializer } from './serializers.js';

/**
 * The reserved message key naming the target channel(s) of a stored message:
 * a string for a direct send, a list of channel names for a group send.
 *
 * @example
 * ```ts
 * import { ASGI_CHANNEL, MessageCodec } from 'switchyard/redis';
 *
 * declare const codec: MessageCodec;
 * codec.encode({ type: 'chat.message', [ASGI_CHANNEL]: 'specific.abc!def' });
 * ```
 */
export const ASGI_CHANNEL = '__asgi_channel__';

/**
 * The sorted-set key a channel's messages live in: `prefix + nonLocalName(channel)`, no separator.
 *
 * @example
 * ```ts
 * import { channelKey } from 'switchyard/redis';
 *
 * channelKey('asgi', 'specific.abc!def'); // 'asgispecific.abc!'
 * ```
 */
export function channelKey(prefix: string, channel: string): string {
  return prefix + nonLocalName(channel);
}

/**
 * The sorted-set key of a group's members.
 *
 * @example
 * ```ts
 * import { groupKey } from 'switchyard/redis';
 *
 * groupKey('asgi', 'test_group'); // 'asgi:group:test_group'
 * ```
 */
export function groupKey(prefix: string, group: string): string {
  return `${prefix}:group:${group}`;
}

/**
 * The pub/sub channel a group is published on (pub/sub flavour).
 *
 * @example
 * ```ts
 * import { pubsubGroupChannel } from 'switchyard/redis';
 *
 * pubsubGroupChannel('asgi', 'room1'); // 'asgi__group__room1'
 * ```
 */
export function pubsubGroupChannel(prefix: string, group: string): string {
  return `${prefix}__group__${group}`;
}

/**
 * A strictly increasing clock of wall-clock microseconds: the scores of one
 * process's sends never tie, so Redis keeps them in send order (Python's
 * `time.time()` has µs resolution; `Date.now()` alone would not).
 *
 * @example
 * ```ts
 * import { ScoreClock } from 'switchyard/redis';
 *
 * const clock = new ScoreClock();
 * clock.nextScore(); // '1795247202.975184'
 * ```
 */
export class ScoreClock {
  #last = 0;

  /** The next timestamp, in integer microseconds since the epoch. */
  nextMicros(): number {
    const sub = Math.floor((performance.now() % 1) * 1000);
    let now = Date.now() * 1000 + sub;
    if (now <= this.#last) now = this.#last + 1;
    this.#last = now;
    return now;
  }

  /** The next timestamp as a decimal string of seconds (a Redis score). */
  nextScore(): string {
    return microsToScore(this.nextMicros());
  }
}

/** Integer microseconds as a decimal seconds string with six digits. */
export function microsToScore(micros: number): string {
  const seconds = Math.floor(micros / 1e6);
  return `${seconds}.${String(micros - seconds * 1e6).padStart(6, '0')}`;
}

/** Options of {@link MessageCodec}. */
export interface MessageCodecOptions {
  serializer?: MessageSerializer;
  /** Random bytes before each body; 0 or less for none. Default 12. */
  randomPrefixLength?: number;
  /** Encrypts bodies when set. */
  crypter?: MultiFernet | null;
  /** Seconds a token stays valid on decrypt (`expiry + 10` for the core layer); none when undefined. */
  ttl?: number;
}

/**
 * Frames messages as channels_redis members: serialize, encrypt, prefix.
 *
 * @example
 * ```ts
 * import { MessageCodec } from 'switchyard/redis';
 *
 * const codec = new MessageCodec({ randomPrefixLength: 12 });
 * codec.decode(codec.encode({ type: 'chat.message', text: 'hi' })); // { type: 'chat.message', text: 'hi' }
 * ```
 */
export class MessageCodec {
  readonly #serializer: MessageSerializer;
  readonly #prefixLength: number;
  readonly #crypter: MultiFernet | null;
  readonly #ttl: number | undefined;

  constructor(options: MessageCodecOptions = {}) {
    this.#serializer = options.serializer ?? msgpackSerializer;
    this.#prefixLength = Math.max(0, Math.floor(options.randomPrefixLength ?? 12));
    this.#crypter = options.crypter ?? null;
    this.#ttl = options.ttl;
  }

  /** Serializes, encrypts and prefixes one message. */
  encode(message: Readonly<Record<string, unknown>>): Buffer {
    return this.#frame(this.#serializer.serialize(message));
  }

  /**
   * Prepares a message for several stored copies that differ only in their
   * `__asgi_channel__` value; returns the function making each copy.
   */
  encoderFor(message: Readonly<Record<string, unknown>>): (target: string | readonly string[]) => Buffer {
    if (!isMsgpack(this.#serializer)) {
      return (target) => this.encode({ ...message, [ASGI_CHANNEL]: target });
    }
    const packed = Buffer.from(this.#serializer.serialize(message));
    const { count, headerLength } = readMapHeader(packed);
    const header = mapHeader(count + 1);
    const body = packed.subarray(headerLength);
    return (target) => {
      const tail = this.#serializer.serialize({ [ASGI_CHANNEL]: target });
      const tailHeader = readMapHeader(tail).headerLength;
      return this.#frame(Buffer.concat([header, body, tail.subarray(tailHeader)]));
    };
  }

  /** Whether Redis can complete a stored copy itself ({@link partsForRedis}): msgpack, not encrypted. */
  get completesInRedis(): boolean {
    return this.#crypter === null && isMsgpack(this.#serializer);
  }

  /**
   * The pieces of a stored copy that Redis completes with `__asgi_channel__`
   * itself (`GROUP_DELIVER`): the random prefix and the map header counting
   * one more entry, and the message's packed entries. Null when the copy
   * cannot be completed in Redis (encrypted, or not msgpack).
   */
  partsForRedis(message: Readonly<Record<string, unknown>>): { head: Buffer; body: Buffer } | null {
    if (!this.completesInRedis) return null;
    const packed = this.#serializer.serialize(message);
    const { count, headerLength } = readMapHeader(packed);
    const header = mapHeader(count + 1);
    const head = Buffer.allocUnsafe(this.#prefixLength + header.length);
    if (this.#prefixLength > 0) randomFillSync(head, 0, this.#prefixLength);
    head.set(header, this.#prefixLength);
    return { head, body: Buffer.from(packed.buffer, packed.byteOffset + headerLength, packed.length - headerLength) };
  }

  /**
   * Strips the prefix, decrypts and deserializes a stored member. Throws
   * (`InvalidToken`, a decode error, `InvalidMessageError`) for a member that is
   * not a message: the caller logs and skips it.
   */
  decode(member: Uint8Array): Record<string, unknown> {
    let body = member.subarray(this.#prefixLength);
    if (this.#crypter !== null) body = this.#crypter.decrypt(body, this.#ttl);
    const value = this.#serializer.deserialize(body);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new InvalidMessageError('A stored message is not a map');
    }
    return value as Record<string, unknown>;
  }

  #frame(body: Uint8Array): Buffer {
    const encrypted = this.#crypter !== null ? this.#crypter.encrypt(body) : body;
    const out = Buffer.allocUnsafe(this.#prefixLength + encrypted.length);
    if (this.#prefixLength > 0) randomFillSync(out, 0, this.#prefixLength);
    out.set(encrypted, this.#prefixLength);
    return out;
  }
}

function readMapHeader(packed: Uint8Array): { count: number; headerLength: number } {
  const first = packed[0]!;
  if (first >= 0x80 && first <= 0x8f) return { count: first & 0x0f, headerLength: 1 };
  if (first === 0xde) return { count: (packed[1]! << 8) | packed[2]!, headerLength: 3 };
  if (first === 0xdf) return { count: Buffer.from(packed.buffer, packed.byteOffset, 5).readUInt32BE(1), headerLength: 5 };
  throw new InvalidMessageError('A channel layer message must pack to a msgpack map');
}

function mapHeader(count: number): Buffer {
  if (count < 16) return Buffer.from([0x80 | count]);
  if (count < 0x10000) return Buffer.from([0xde, count >> 8, count & 0xff]);
  const header = Buffer.alloc(5);
  header[0] = 0xdf;
  header.writeUInt32BE(count, 1);
  return header;
}
