/**
 * Signed, timestamped values (Django's `TimestampSigner`), for session cookies.
 *
 * How it works. `sign(value)` returns `value.timestamp.signature`: the
 * timestamp is the signing time in base-36 seconds, the signature an
 * HMAC-SHA256 (base64url) over `value.timestamp` with a key derived from the
 * secret and a salt, so a value signed for one purpose is worthless for
 * another. Several secrets rotate keys: the first signs, every one is tried
 * when checking, with a timing-safe comparison, so a new secret can be put
 * first while cookies signed with the old one stay valid until it is dropped.
 * `unsign` returns `null` for anything wrong (tampered, unsigned, signed with
 * an unknown secret, older than `maxAge`, or spelled otherwise than issued:
 * only the canonical base64url signature and base-36 timestamp verify):
 * callers treat that like no value.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { ImproperlyConfigured } from '../errors.js';

/** Options of a {@link Signer}. */
export interface SignerOptions {
  /** Separates purposes: a value signed with one salt never verifies with another. Default `switchyard.signing`. */
  salt?: string;
}

/**
 * Signs and verifies strings with rotating secrets.
 *
 * @example
 * ```ts
 * import { Signer } from 'switchyard/middleware';
 *
 * const signer = new Signer(['new-secret', 'old-secret'], { salt: 'sessions' });
 * const cookie = signer.sign('abc');          // 'abc.t5h2k1.Qx…'
 * signer.unsign(cookie, 14 * 86400);          // 'abc', or null if tampered or too old
 * ```
 */
export class Signer {
  readonly #keys: Buffer[];

  constructor(secrets: string | readonly string[], options: SignerOptions = {}) {
    const list = typeof secrets === 'string' ? [secrets] : [...secrets];
    if (list.length === 0 || list.some((s) => typeof s !== 'string' || s.length === 0)) {
      throw new ImproperlyConfigured('A Signer needs at least one non-empty secret');
    }
    const salt = options.salt ?? 'switchyard.signing';
    // As Django's salted_hmac: the HMAC key is derived from the salt and the secret.
    this.#keys = list.map((secret) => createHash('sha256').update(`${salt}\0signer\0${secret}`).digest());
  }

  /** `value.timestamp.signature`, signed with the first secret. */
  sign(value: string, now = Date.now()): string {
    const stamped = `${value}.${Math.floor(now / 1000).toString(36)}`;
    return `${stamped}.${this.#mac(this.#keys[0]!, stamped).toString('base64url')}`;
  }

  /**
   * The original value, or `null` when the signature matches no secret or the
   * value is older than `maxAge` seconds (when given).
   */
  unsign(signed: string, maxAge?: number | null, now = Date.now()): string | null {
    const sigDot = signed.lastIndexOf('.');
    if (sigDot <= 0) return null;
    const stamped = signed.slice(0, sigDot);
    const tsDot = stamped.lastIndexOf('.');
    if (tsDot < 0) return null;
    // The signature is compared as text with the canonical encoding, never decoded: base64url
    // decoders accept several spellings of the same bytes (padding, `+/`, unused low bits),
    // and a cookie that is not byte-for-byte what we issued must not verify.
    const given = Buffer.from(signed.slice(sigDot + 1), 'latin1');
    let valid = false;
    for (const key of this.#keys) {
      const expected = Buffer.from(this.#mac(key, stamped).toString('base64url'), 'latin1');
      // Every key is tried (no early exit), and each comparison is constant-time.
      if (given.length === expected.length && timingSafeEqual(given, expected)) valid = true;
    }
    if (!valid) return null;
    // As issued: lower-case base 36, no sign, no leading zero (parseInt would read a prefix of junk).
    const stamp = stamped.slice(tsDot + 1);
    if (!/^(?:0|[1-9a-z][0-9a-z]*)$/.test(stamp)) return null;
    const timestamp = Number.parseInt(stamp, 36);
    if (maxAge !== undefined && maxAge !== null && now / 1000 - timestamp > maxAge) return null;
    return stamped.slice(0, tsDot);
  }

  #mac(key: Buffer, data: string): Buffer {
    return createHmac('sha256', key).update(data).digest();
  }
}
