/**
 * The errors of reading a Django site (`switchyard/django`): its signing
 * (`BadSignature`, `SignatureExpired`), its database (`DjangoDatabaseError`),
 * the read-only rule for its sessions (`DjangoReadOnlyError`) and refused
 * pickles (`PickledDataRefused`). One family, kept out of `errors.ts` so that
 * file stays the core vocabulary and its table; `errors.ts` re-exports every
 * class here, and its table lists their codes with the others.
 */
import { SwitchyardError } from './switchyard-error.js';

/**
 * A signed value whose signature matches none of the keys (Django's `BadSignature`).
 *
 * @example
 * ```ts
 * import { BadSignature, loads } from 'switchyard/django';
 *
 * declare const cookie: string;
 * const key = process.env.DJANGO_SECRET_KEY!;
 * try { loads(cookie, { key }); } catch (error) { if (error instanceof BadSignature) console.warn('tampered cookie: anonymous'); }
 * ```
 */
export class BadSignature extends SwitchyardError {
  constructor(message = 'Signature does not match', code = 'SY_DJANGO_BAD_SIGNATURE') {
    super(code, message);
  }
}

/**
 * A validly signed value older than the `maxAge` asked for (Django's `SignatureExpired`).
 *
 * @example
 * ```ts
 * import { loads } from 'switchyard/django';
 *
 * declare const cookie: string;
 * loads(cookie, { key: process.env.DJANGO_SECRET_KEY! }, { maxAge: 1209600 }); // throws SignatureExpired after two weeks
 * ```
 */
export class SignatureExpired extends BadSignature {
  constructor(message: string) {
    super(message, 'SY_DJANGO_SIGNATURE_EXPIRED');
  }
}

/**
 * A query to Django's database failed (unreachable, wrong credentials, missing table).
 *
 * @example
 * ```ts
 * // logged by the middleware as: Django database unavailable: connect ECONNREFUSED 127.0.0.1:5432 (handshake refused)
 * ```
 */
export class DjangoDatabaseError extends SwitchyardError {
  readonly status = 503;
  constructor(message: string, options?: { cause?: unknown }) {
    super('SY_DJANGO_DATABASE', message, options);
  }
}

/**
 * A write to a Django session was attempted: Switchyard reads Django's
 * sessions and users and never writes them (log in, log out and change
 * passwords in Django).
 *
 * @example
 * ```ts
 * import type { Scope } from 'switchyard';
 * import { getSession } from 'switchyard/middleware';
 *
 * declare const scope: Scope; // after DjangoSessionMiddleware
 * await getSession(scope).save(); // throws DjangoReadOnlyError
 * ```
 */
export class DjangoReadOnlyError extends SwitchyardError {
  constructor(what: string) {
    super('SY_DJANGO_READ_ONLY', `${what}: Django sessions are read-only in Switchyard; change them through Django`);
  }
}

/**
 * Signed data that is a Python pickle (`SESSION_SERIALIZER =
 * PickleSerializer`). Refused, never decoded: unpickling runs code chosen by
 * whoever wrote the data (a leaked `SECRET_KEY` becomes remote code
 * execution), and pickle is Python's own format. Switch the Django site to
 * Django's default `JSONSerializer`.
 *
 * @example
 * ```ts
 * import { loads } from 'switchyard/django';
 *
 * declare const pickledCookie: string;
 * loads(pickledCookie, { key: process.env.DJANGO_SECRET_KEY! }); // throws PickledDataRefused; the middleware makes the user anonymous and logs why
 * ```
 */
export class PickledDataRefused extends SwitchyardError {
  constructor() {
    super(
      'SY_DJANGO_PICKLED',
      'Pickled session data refused: Switchyard reads only Django\'s JSONSerializer (unpickling runs arbitrary code, and pickle is Python-only); set SESSION_SERIALIZER to django.contrib.sessions.serializers.JSONSerializer',
    );
  }
}
