/**
 * `SignedCookieSessionStore`: the session data lives in the cookie itself
 * (Django's `signed_cookies` backend).
 *
 * The token is the data as base64url JSON; the session layer signs it like
 * any token, so the client can read it but cannot change it. Nothing is kept
 * on the server, so `destroy` cannot revoke a copy of an old cookie: a
 * stolen cookie stays valid until it expires (the signature's timestamp
 * bounds that), and logging out only clears the browser's copy. Browsers
 * cap a cookie near 4 KB; saving more is a `RangeError`.
 */
import type { SessionData, SessionStore } from './base.js';

/** Bytes of token above which the cookie would no longer fit (4096 minus room for the name, signature and attributes). */
export const MAX_SIGNED_COOKIE_TOKEN = 3800;

/**
 * Sessions carried by the client, signed.
 *
 * @example
 * ```ts
 * import type { Application } from 'switchyard';
 * import { SessionMiddlewareStack, SignedCookieSessionStore } from 'switchyard/middleware';
 *
 * declare const inner: Application;
 * declare const secret: string;
 * const app = SessionMiddlewareStack(inner, { store: new SignedCookieSessionStore(), secrets: [secret] });
 * ```
 */
export class SignedCookieSessionStore implements SessionStore {
  async load(token: string): Promise<SessionData | null> {
    try {
      const data: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
      return data !== null && typeof data === 'object' && !Array.isArray(data) ? (data as SessionData) : null;
    } catch {
      return null;
    }
  }

  async save(_token: string | null, data: SessionData, _maxAge: number): Promise<string> {
    const token = Buffer.from(JSON.stringify(data), 'utf8').toString('base64url');
    if (token.length > MAX_SIGNED_COOKIE_TOKEN) {
      throw new RangeError(`Session data too large for a cookie (${token.length} bytes encoded, limit ${MAX_SIGNED_COOKIE_TOKEN})`);
    }
    return token;
  }

  async destroy(_token: string): Promise<void> {}
}
