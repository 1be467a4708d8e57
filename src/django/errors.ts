/**
 * The errors of `switchyard/django`. They are defined with the rest of the
 * vocabulary in `src/errors.ts` (its table lists each code and what it leads
 * to); this module re-exports them where they always were.
 *
 * | class | code | where it surfaces |
 * |---|---|---|
 * | BadSignature | SY_DJANGO_BAD_SIGNATURE | `loads()` / `unsign()`; the middleware turns it into an anonymous user |
 * | SignatureExpired | SY_DJANGO_SIGNATURE_EXPIRED | `loads()` / `unsign()` with a `maxAge`; anonymous in the middleware |
 * | DjangoDatabaseError | SY_DJANGO_DATABASE | a session or user query failed; the middleware refuses the handshake (HTTP 503) and logs one line |
 * | DjangoReadOnlyError | SY_DJANGO_READ_ONLY | `session.save()` on a Django session: Switchyard never writes Django's tables |
 * | PickledDataRefused | SY_DJANGO_PICKLED | a session serialized with pickle; anonymous in the middleware, logged once per connection |
 */
export { BadSignature, DjangoDatabaseError, DjangoReadOnlyError, PickledDataRefused, SignatureExpired } from '../errors.js';
