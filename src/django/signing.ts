/**
 * Django's cryptographic signing (`django.core.signing`,
 * `django.utils.crypto.salted_hmac`), byte for byte, with the key rotation of
 * Django ≥ 4.1 (`SECRET_KEY_FALLBACKS`).
 *
 * How it works. `saltedHmac(salt, value, secret)` is an HMAC whose key is
 * the hash of `salt + secret`, so one secret yields unrelated keys per
 * purpose. A `DjangoSigner` appends `:` and the base64url (unpadded)
 * HMAC-SHA256 of the value, keyed with `salt + "signer"`; the timestamp
 * signer first appends `:` and the signing time in base 62 seconds. Checking
 * tries the current key, then each fallback key, in constant time per
 * comparison. `dumps`/`loads` sign an object: JSON (compact separators,
 * ASCII), optionally zlib-compressed when that is shorter (then prefixed
 * with `.`, inside the signature), then base64url. The JSON is decoded only
 * after the signature verified; a payload that is a Python pickle is refused
 * ({@link PickledDataRefused}), never decoded.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { deflateSync, inflateSync } from 'node:zlib';
import { BadSignature, PickledDataRefused, SignatureExpired } from './errors.js';

/**
 * Hash algorithms Django's signing accepts here.
 *
 * @example
 * ```ts
 * import { type DjangoHashAlgorithm, saltedHmac } from 'switchyard/django';
 *
 * const algorithm: DjangoHashAlgorithm = 'sha256';
 * saltedHmac('my.salt', 'value', 'secret', algorithm);
 * ```
 */
export type DjangoHashAlgorithm = 'sha1' | 'sha256' | 'sha512';

/**
 * Django's `salted_hmac(key_salt, value, secret, algorithm=...)`: the HMAC
 * of `value` keyed with `hash(key_salt + secret)`. Default algorithm `sha1`,
 * as Django's.
 *
 * @example
 * ```ts
 * import { saltedHmac } from 'switchyard/django';
 *
 * declare const user: { password: string }; // the auth_user row's password hash
 * const SECRET_KEY = process.env.DJANGO_SECRET_KEY!;
 * saltedHmac('django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash', user.password, SECRET_KEY, 'sha256').toString('hex');
 * ```
 */
export function saltedHmac(keySalt: string, value: string | Uint8Array, secret: string | Uint8Array, algorithm: DjangoHashAlgorithm = 'sha1'): Buffer {
  const key = createHash(algorithm).update(keySalt).update(secret).digest();
  return createHmac(algorithm, key).update(value).digest();
}

const B62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/**
 * Base 62 as Django's `b62_encode` (timestamps of signed values).
 *
 * @example
 * ```ts
 * import { b62Encode } from 'switchyard/django';
 *
 * b62Encode(1700000000); // '1r31eq'
 * ```
 */
export function b62Encode(n: number): string {
  if (n === 0) return '0';
  const sign = n < 0 ? '-' : '';
  let rest = Math.abs(Math.trunc(n));
  let out = '';
  while (rest > 0) {
    out = B62[rest % 62]! + out;
    rest = Math.floor(rest / 62);
  }
  return sign + out;
}

/**
 * Base 62 back to a number; `NaN` for anything that is not base 62.
 *
 * @example
 * ```ts
 * import { b62Decode } from 'switchyard/django';
 *
 * b62Decode('1r31eq'); // 1700000000
 * ```
 */
export function b62Decode(text: string): number {
  const negative = text.startsWith('-');
  const digits = negative ? text.slice(1) : text;
  if (!/^[0-9A-Za-z]+$/.test(digits)) return Number.NaN;
  let n = 0;
  for (const char of digits) n = n * 62 + B62.indexOf(char);
  return negative ? -n : n;
}

/** Django's `b64_encode`: base64url without padding. */
function b64Encode(data: Uint8Array): string {
  return Buffer.from(data).toString('base64url');
}

function equalText(a: string, b: string): boolean {
  const ba = Buffer.from(a);
  const bb = Buffer.from(b);
  return ba.length === bb.length && timingSafeEqual(ba, bb);
}

/**
 * Options of a {@link DjangoSigner}.
 *
 * @example
 * ```ts
 * import { type DjangoSignerOptions, DjangoSigner } from 'switchyard/django';
 *
 * const options: DjangoSignerOptions = { key: 'new-key', fallbackKeys: ['old-key'], salt: 'invites' };
 * new DjangoSigner(options).sign('42');
 * ```
 */
export interface DjangoSignerOptions {
  /** The site's `SECRET_KEY`: signs, and verifies first. */
  key: string;
  /** `SECRET_KEY_FALLBACKS`: verify only, tried in order after `key`. Default none. */
  fallbackKeys?: readonly string[];
  /** Default: Django's, `django.core.signing.Signer` (or `...TimestampSigner`). */
  salt?: string;
  /** Default `:`. */
  sep?: string;
  /** Default `sha256` (Django ≥ 3.1). */
  algorithm?: DjangoHashAlgorithm;
}

/**
 * What a serializer turns signed bytes into (Django's `serializer.loads`).
 *
 * @example
 * ```ts
 * import { type DjangoPayloadDecoder, DjangoTimestampSigner } from 'switchyard/django';
 *
 * declare const token: string;
 * const utf8Json: DjangoPayloadDecoder = (data) => JSON.parse(data.toString('utf8'));
 * new DjangoTimestampSigner({ key: 'k' }).unsignObject(token, { decode: utf8Json });
 * ```
 */
export type DjangoPayloadDecoder = (data: Buffer) => unknown;

/**
 * Django's `JSONSerializer.loads`, refusing pickles: signed data that starts
 * with pickle's protocol opcode (`0x80`) is a {@link PickledDataRefused}.
 *
 * @example
 * ```ts
 * import { jsonPayload } from 'switchyard/django';
 *
 * jsonPayload(Buffer.from('{"a":1}')); // { a: 1 }
 * ```
 */
export function jsonPayload(data: Buffer): unknown {
  if (data[0] === 0x80) throw new PickledDataRefused();
  return JSON.parse(data.toString('latin1')) as unknown;
}

/** Compressed payloads are refused beyond this many bytes once inflated. */
const MAX_INFLATED = 8 * 1024 * 1024;

/**
 * Django's `Signer`: `value:signature`.
 *
 * @example
 * ```ts
 * import { DjangoSigner } from 'switchyard/django';
 *
 * const signer = new DjangoSigner({ key: process.env.DJANGO_SECRET_KEY!, fallbackKeys: ['an-old-key'], salt: 'my.salt' });
 * signer.unsign(signer.sign('hello')); // 'hello'
 * ```
 */
export class DjangoSigner {
  readonly salt: string;
  readonly sep: string;
  readonly algorithm: DjangoHashAlgorithm;
  readonly #keys: readonly string[];

  constructor(options: DjangoSignerOptions, defaultSalt = 'django.core.signing.Signer') {
    if (typeof options.key !== 'string' || options.key === '') throw new TypeError('A Django signer needs the site\'s SECRET_KEY');
    this.#keys = [options.key, ...(options.fallbackKeys ?? [])];
    this.salt = options.salt ?? defaultSalt;
    this.sep = options.sep ?? ':';
    if (/^[A-z0-9\-_=]*$/.test(this.sep)) throw new TypeError(`Unsafe Signer separator: '${this.sep}' (cannot be empty or consist of only A-z0-9-_=)`);
    this.algorithm = options.algorithm ?? 'sha256';
  }

  /** The signature of `value` with the current key (or `key`). */
  signature(value: string, key = this.#keys[0]!): string {
    return b64Encode(saltedHmac(`${this.salt}signer`, value, key, this.algorithm));
  }

  /** `value:signature`. */
  sign(value: string): string {
    return `${value}${this.sep}${this.signature(value)}`;
  }

  /** The value, when its signature matches the key or a fallback key; else {@link BadSignature}. */
  unsign(signed: string): string {
    const at = signed.lastIndexOf(this.sep);
    if (at === -1) throw new BadSignature(`No "${this.sep}" found in value`);
    const value = signed.slice(0, at);
    const given = signed.slice(at + this.sep.length);
    for (const key of this.#keys) {
      if (equalText(given, this.signature(value, key))) return value;
    }
    throw new BadSignature('Signature does not match');
  }

  /** Django's `sign_object`: JSON, compressed when that helps and `compress`, base64url, signed. */
  signObject(value: unknown, options: { compress?: boolean } = {}): string {
    return this.sign(encodePayload(value, options.compress ?? false));
  }

  /** Django's `unsign_object`: verify, decode, inflate, deserialize (JSON by default; pickles refused). */
  unsignObject(signed: string, options: { decode?: DjangoPayloadDecoder } = {}): unknown {
    return decodePayload(this.unsign(signed), options.decode ?? jsonPayload);
  }
}

/**
 * Django's `TimestampSigner`: `value:timestamp:signature`, with a maximum age on unsigning.
 *
 * @example
 * ```ts
 * import { DjangoTimestampSigner } from 'switchyard/django';
 *
 * declare const signed: string;
 * const signer = new DjangoTimestampSigner({ key: process.env.DJANGO_SECRET_KEY! });
 * signer.unsign(signed, 3600); // throws SignatureExpired when signed over an hour ago
 * ```
 */
export class DjangoTimestampSigner extends DjangoSigner {
  constructor(options: DjangoSignerOptions) {
    super(options, 'django.core.signing.TimestampSigner');
  }

  /** `value:timestamp:signature`, timestamped at `now` (milliseconds, default the current time). */
  override sign(value: string, now = Date.now()): string {
    return super.sign(`${value}${this.sep}${b62Encode(Math.floor(now / 1000))}`);
  }

  /**
   * The value, when validly signed and, with `maxAge` (seconds), signed at
   * most that long before `now`; else {@link BadSignature} or {@link SignatureExpired}.
   */
  override unsign(signed: string, maxAge?: number | null, now = Date.now()): string {
    const result = super.unsign(signed);
    const at = result.lastIndexOf(this.sep);
    if (at === -1) throw new BadSignature('No timestamp in value');
    const timestamp = b62Decode(result.slice(at + this.sep.length));
    if (Number.isNaN(timestamp)) throw new BadSignature('Malformed timestamp');
    if (maxAge !== undefined && maxAge !== null) {
      const age = now / 1000 - timestamp;
      if (age > maxAge) throw new SignatureExpired(`Signature age ${age} > ${maxAge} seconds`);
    }
    return result.slice(0, at);
  }

  override signObject(value: unknown, options: { compress?: boolean; now?: number } = {}): string {
    return this.sign(encodePayload(value, options.compress ?? false), options.now);
  }

  override unsignObject(signed: string, options: { decode?: DjangoPayloadDecoder; maxAge?: number | null; now?: number } = {}): unknown {
    return decodePayload(this.unsign(signed, options.maxAge, options.now), options.decode ?? jsonPayload);
  }
}

function encodePayload(value: unknown, compress: boolean): string {
  const data = Buffer.from(pythonJson(value), 'latin1');
  if (compress) {
    const deflated = deflateSync(data);
    if (deflated.length < data.length - 1) return `.${b64Encode(deflated)}`;
  }
  return b64Encode(data);
}

function decodePayload(base64d: string, decode: DjangoPayloadDecoder): unknown {
  const compressed = base64d.startsWith('.');
  let data = Buffer.from(compressed ? base64d.slice(1) : base64d, 'base64url');
  if (compressed) {
    try {
      data = inflateSync(data, { maxOutputLength: MAX_INFLATED });
    } catch (error) {
      throw new BadSignature(`Signed data does not inflate: ${(error as Error).message}`);
    }
  }
  try {
    return decode(data);
  } catch (error) {
    if (error instanceof PickledDataRefused) throw error;
    throw new BadSignature(`Signed data is not valid JSON: ${(error as Error).message}`);
  }
}

/**
 * `json.dumps(value, separators=(',', ':'))` as Python writes it: compact,
 * non-ASCII escaped as `\uXXXX` (Python's `ensure_ascii`).
 */
function pythonJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * Options of {@link dumps} and {@link loads}.
 *
 * @example
 * ```ts
 * import { type DjangoSigningOptions, dumps } from 'switchyard/django';
 *
 * const options: DjangoSigningOptions = { key: 'new-key', fallbackKeys: ['old-key'], salt: 'invites' };
 * dumps({ invite: 7 }, options);
 * ```
 */
export interface DjangoSigningOptions {
  key: string;
  fallbackKeys?: readonly string[];
  /** Default `django.core.signing`. */
  salt?: string;
}

/**
 * Django's `signing.dumps`: a signed, timestamped, URL-safe JSON value.
 *
 * @example
 * ```ts
 * import { dumps } from 'switchyard/django';
 *
 * const token = dumps({ user: 42 }, { key: process.env.DJANGO_SECRET_KEY!, salt: 'invites' }, { compress: true });
 * ```
 */
export function dumps(value: unknown, options: DjangoSigningOptions, extra: { compress?: boolean; now?: number } = {}): string {
  return new DjangoTimestampSigner({ salt: 'django.core.signing', ...options }).signObject(value, extra);
}

/**
 * Django's `signing.loads`: the value of a {@link dumps} token; throws
 * {@link BadSignature}, {@link SignatureExpired} (with `maxAge`, seconds) or
 * {@link PickledDataRefused}.
 *
 * @example
 * ```ts
 * import { loads } from 'switchyard/django';
 *
 * declare const token: string;
 * loads(token, { key: process.env.DJANGO_SECRET_KEY!, fallbackKeys: ['an-old-key'], salt: 'invites' }, { maxAge: 86400 });
 * ```
 */
export function loads(token: string, options: DjangoSigningOptions, extra: { maxAge?: number | null; now?: number } = {}): unknown {
  return new DjangoTimestampSigner({ salt: 'django.core.signing', ...options }).unsignObject(token, extra);
}
