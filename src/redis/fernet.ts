/**
 * Fernet tokens (the `cryptography` package's format), as channels_redis uses
 * them for `symmetric_encryption_keys`.
 *
 * How it works: each configured key string becomes a Fernet key by
 * `base64url(sha256(utf8(key)))`; its first 16 bytes sign (HMAC-SHA256) and its
 * last 16 bytes encrypt (AES-128-CBC, PKCS#7). A token is the padded base64url
 * of `0x80 ‖ timestamp (8 bytes, big-endian seconds) ‖ IV (16) ‖ ciphertext ‖
 * HMAC (32)`. With several keys ({@link MultiFernet}) the first encrypts and
 * every key is tried to decrypt, so keys can be rotated. Spec §2.4.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { InvalidToken } from '../errors.js';

// Defined with every other error in errors.ts; re-exported where it always was.
export { InvalidToken };

/** cryptography's `_MAX_CLOCK_SKEW`: tokens up to 60 s in the future are accepted. */
const MAX_CLOCK_SKEW = 60;

/**
 * The Fernet key channels_redis derives from a configured key string.
 *
 * @example
 * ```ts
 * import { deriveFernetKey } from 'switchyard/redis';
 *
 * deriveFernetKey('secret-key-1'); // 'psHq751fI_ThPZtXTLvgeuh3In2SvofQdwBdxndrzcw='
 * ```
 */
export function deriveFernetKey(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('base64url') + '=';
}

function decodeBase64Url(text: string): Buffer {
  return Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
}

/**
 * One Fernet key.
 *
 * @example
 * ```ts
 * import { deriveFernetKey, Fernet } from 'switchyard/redis';
 *
 * const f = new Fernet(deriveFernetKey('secret-key-1'));
 * f.decrypt(f.encrypt(Buffer.from('hi'))); // <Buffer 68 69>
 * ```
 */
export class Fernet {
  readonly #signingKey: Buffer;
  readonly #encryptionKey: Buffer;

  /** `key` is a 32-byte key in url-safe base64 (as `Fernet.generate_key()` returns). */
  constructor(key: string) {
    const raw = decodeBase64Url(key);
    if (raw.length !== 32) throw new TypeError('A Fernet key must be 32 url-safe base64-encoded bytes');
    this.#signingKey = raw.subarray(0, 16);
    this.#encryptionKey = raw.subarray(16);
  }

  /** Encrypts bytes into an ASCII token (as bytes). `now` is in seconds (for tests). */
  encrypt(plaintext: Uint8Array, now = Date.now() / 1000, iv: Uint8Array = randomBytes(16)): Buffer {
    const cipher = createCipheriv('aes-128-cbc', this.#encryptionKey, iv);
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    const header = Buffer.alloc(9);
    header[0] = 0x80;
    header.writeBigUInt64BE(BigInt(Math.floor(now)), 1);
    const signed = Buffer.concat([header, iv, ciphertext]);
    const hmac = createHmac('sha256', this.#signingKey).update(signed).digest();
    const base64 = Buffer.concat([signed, hmac]).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
    return Buffer.from(base64, 'latin1');
  }

  /**
   * Verifies and decrypts a token; throws {@link InvalidToken}. With `ttl`
   * (seconds) older tokens are refused; tokens from more than 60 s in the
   * future always are.
   */
  decrypt(token: Uint8Array, ttl?: number, now = Date.now() / 1000): Buffer {
    const data = decodeBase64Url(Buffer.from(token.buffer, token.byteOffset, token.byteLength).toString('latin1'));
    if (data.length < 9 + 16 + 16 + 32 || data[0] !== 0x80 || (data.length - 57) % 16 !== 0) {
      throw new InvalidToken();
    }
    const timestamp = Number(data.readBigUInt64BE(1));
    if (ttl !== undefined && timestamp + ttl < now) throw new InvalidToken('Fernet token expired');
    if (timestamp > now + MAX_CLOCK_SKEW) throw new InvalidToken('Fernet token from the future');
    const signed = data.subarray(0, data.length - 32);
    const expected = createHmac('sha256', this.#signingKey).update(signed).digest();
    if (!timingSafeEqual(expected, data.subarray(data.length - 32))) throw new InvalidToken();
    try {
      const decipher = createDecipheriv('aes-128-cbc', this.#encryptionKey, data.subarray(9, 25));
      return Buffer.concat([decipher.update(data.subarray(25, data.length - 32)), decipher.final()]);
    } catch {
      throw new InvalidToken();
    }
  }
}

/**
 * Several Fernet keys: the first encrypts, each is tried in turn to decrypt.
 *
 * @example
 * ```ts
 * import { MultiFernet } from 'switchyard/redis';
 *
 * const crypter = MultiFernet.fromSecrets(['new-key', 'old-key']);
 * const token = crypter.encrypt(Buffer.from('payload'));
 * ```
 */
export class MultiFernet {
  readonly #keys: Fernet[];

  constructor(keys: Fernet[]) {
    if (keys.length === 0) throw new TypeError('MultiFernet needs at least one key');
    this.#keys = keys;
  }

  /** Builds the crypter channels_redis builds from `symmetric_encryption_keys`. */
  static fromSecrets(secrets: readonly string[]): MultiFernet {
    if (!Array.isArray(secrets) || secrets.some((s) => typeof s !== 'string')) {
      throw new TypeError('symmetricEncryptionKeys must be an array of strings');
    }
    return new MultiFernet(secrets.map((secret) => new Fernet(deriveFernetKey(secret))));
  }

  encrypt(plaintext: Uint8Array): Buffer {
    return this.#keys[0]!.encrypt(plaintext);
  }

  decrypt(token: Uint8Array, ttl?: number): Buffer {
    for (const key of this.#keys) {
      try {
        return key.decrypt(token, ttl);
      } catch (error) {
        if (!(error instanceof InvalidToken)) throw error;
      }
    }
    throw new InvalidToken('No key could decrypt the Fernet token');
  }
}
