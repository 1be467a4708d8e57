/**
 * A server for the memory breakdown (scenario m): the same connections held
 * by successively more of the stack, so the heap per connection of each
 * layer can be told apart. `PROBE` selects it:
 * - `rawws`: a bare `ws` server keeping each socket in a room set;
 * - `asgi`: Switchyard's `serve()` with a bare ASGI app (accept, then wait);
 * - `consumer`: + the chat ChatConsumer as the app (no router);
 * - `router`: + ProtocolTypeRouter/URLRouter, as in scenarios (a)-(c).
 * Run with --expose-gc; on an IPC message it collects garbage twice and
 * answers with process.memoryUsage().
 */
import http from 'node:http';
import { WebSocketServer } from 'ws';
import { type Application, type Receive, type Scope, type Send, scopeWith, ProtocolTypeRouter, URLRouter } from 'switchyard';
import { serve } from 'switchyard/server';
import { ChatConsumer } from '../../examples/chat/consumers.js';
import { websocketUrlPatterns } from '../../examples/chat/routing.js';

const port = Number(process.env.PORT ?? 8010);
const probe = process.env.PROBE ?? 'router';
const ESTABLISHED = JSON.stringify({ type: 'connection_established', message: 'Connected to chat room' });

if (probe === 'rawws') {
  const rooms = new Map<string, Set<unknown>>();
  const server = http.createServer();
  const wss = new WebSocketServer({ server, perMessageDeflate: false, clientTracking: false });
  wss.on('connection', (ws, req) => {
    const room = req.url ?? '';
    let members = rooms.get(room);
    if (members === undefined) rooms.set(room, (members = new Set()));
    members.add(ws);
    ws.send(ESTABLISHED);
    ws.on('close', () => members.delete(ws));
  });
  server.listen(port, '127.0.0.1');
} else {
  const bare: Application = async (_scope: Scope, receive: Receive, send: Send) => {
    await receive();
    await send({ type: 'websocket.accept' });
    await send({ type: 'websocket.send', text: ESTABLISHED });
    while ((await receive()).type !== 'websocket.disconnect');
  };
  // The consumer without a router needs the route's kwargs in its scope.
  const consumerApp = ChatConsumer.asApp();
  const direct: Application = (scope, receive, send) =>
    consumerApp(scopeWith(scope, { urlRoute: { args: [], kwargs: { room_name: 'probe' } } }), receive, send);
  const apps: Record<string, Application> = {
    asgi: bare,
    consumer: direct,
    router: ProtocolTypeRouter({ websocket: URLRouter(websocketUrlPatterns) }),
  };
  await serve(apps[probe]!, { host: '127.0.0.1', port, accessLog: false, logLevel: 'warn', wsPingInterval: 0 });
}

const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
process.on('message', () => {
  gc();
  gc();
  const { heapUsed, rss, external, arrayBuffers } = process.memoryUsage();
  process.send!({ heapUsed, rss, external, arrayBuffers });
});
process.send?.('ready');
