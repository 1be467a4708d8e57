/**
 * Switchyard serving the chat with `serve()`: one ChatConsumer per
 * connection, groupSend through the layer, chat_message a declared render. The
 * layer comes from `CHANNEL_LAYER_URL` (in-memory by default); access logs
 * are off, as for the references.
 *
 * `BENCH_APP=consumer` (default) routes straight to the chat example's
 * consumer, like the Django reference (URLRouter, no auth stack);
 * `BENCH_APP=full` serves examples/chat/app.ts as shipped (origin check,
 * sessions, auth, limits), with the per-connection rate limit raised so the
 * bench's sender is not throttled.
 */
import type { Application } from 'switchyard';
import { ProtocolTypeRouter, URLRouter } from 'switchyard';
import { serveUntilStopped } from './serve-app.js';
import { websocketUrlPatterns } from '../../examples/chat/routing.js';

const port = Number(process.env.PORT ?? 8003);
let application: Application;
if (process.env.BENCH_APP === 'full') {
  process.env.CHAT_SECRET_KEYS ??= 'bench-only-secret';
  process.env.ALLOWED_HOSTS ??= '127.0.0.1';
  process.env.CHAT_RATE ??= '1000000';
  process.env.CHAT_BURST ??= '1000000';
  process.env.CHAT_SESSION_STORE ??= 'memory';
  application = (await import('../../examples/chat/app.js')).application;
} else {
  application = ProtocolTypeRouter({ websocket: URLRouter(websocketUrlPatterns) });
}
await serveUntilStopped(application, port);
