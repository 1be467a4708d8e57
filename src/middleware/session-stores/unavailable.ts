/**
 * What the session middleware answers when the session store cannot be
 * reached (a {@link SessionStoreUnavailableError}): HTTP 503, or the
 * WebSocket handshake refused with 503 (the denial response extension;
 * where the server has none, a close before accept, which it answers 403).
 *
 * One line is logged at error for the outage, not one per request: the
 * first refusal in full (with the store's error), then, while refusals go
 * on, a count a minute.
 */
import type { Scope, Send } from '../../asgi.js';
import { utf8 } from '../../asgi.js';
import { RepeatedErrorLog } from '../../backoff.js';
import type { SessionStoreUnavailableError } from '../../errors.js';
import { logger } from '../../log.js';

const refusals = new RepeatedErrorLog(() => logger, 'session store unavailable', 60_000);

const TEXT_PLAIN: [Uint8Array, Uint8Array] = [utf8('content-type'), utf8('text/plain; charset=utf-8')];
const BODY = utf8('Service Unavailable\n');

/** What a refusal reads of the connection's scope. */
export interface RefusedScope { type: Scope['type']; path?: string; extensions?: Record<string, Record<string, unknown>> }

/** Answers 503 for a connection that has sent nothing yet, and logs the outage (rate-limited). */
export async function refuseSessionUnavailable(scope: RefusedScope, send: Send, error: SessionStoreUnavailableError): Promise<void> {
  const what = scope.type === 'websocket' ? 'handshake' : 'request';
  // Keyed by the code: one outage fails with several messages (refused, reconnecting, no answer).
  refusals.failed(error.code, { err: error, code: error.code, path: scope.path }, `${what} refused with 503`);
  if (scope.type === 'http') {
    await send({ type: 'http.response.start', status: 503, headers: [TEXT_PLAIN, [utf8('content-length'), utf8(String(BODY.length))]] });
    await send({ type: 'http.response.body', body: BODY });
  } else if (scope.type === 'websocket') {
    if (scope.extensions?.['websocket.http.response'] === undefined) return send({ type: 'websocket.close' });
    await send({ type: 'websocket.http.response.start', status: 503, headers: [TEXT_PLAIN] });
    await send({ type: 'websocket.http.response.body', body: BODY });
  }
}
