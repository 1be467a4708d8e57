/**
 * Reference: uWebSockets.js with its native pub/sub, speaking the chat
 * protocol: each connection subscribes to its room's topic, and a broadcast
 * is one `app.publish()` (framed once in C++, written to every subscriber
 * there). The fastest server a Node user can pick.
 *
 * The `.node` binary for this platform and Node's ABI is loaded by path:
 * the package's `require()` entry silently falls back to a JavaScript
 * implementation on `ws` when the binary does not load, which would measure
 * the wrong thing. Here a binary that does not load is a startup error.
 *
 * Like raw ws: no compression, no heartbeats (idleTimeout 0), and a
 * backpressure limit high enough that a slow load worker delays messages
 * rather than having uWS skip them (its default of 64 KB drops).
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { WebSocket } from '@trufflesuite/uws-js-unofficial';
import { ESTABLISHED, chatLine } from './chat-protocol.js';

const require = createRequire(import.meta.url);
const PACKAGE = dirname(require.resolve('@trufflesuite/uws-js-unofficial/package.json'));
const BINARY = join(PACKAGE, 'binaries', `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`);
const uws = require(BINARY) as typeof import('@trufflesuite/uws-js-unofficial');

const port = Number(process.env.PORT ?? 8004);
const ROUTE = /^\/ws\/chat\/(\w+)\/$/;

interface Member { room: string }

const app = uws.App();
app.ws<Member>('/*', {
  compression: uws.DISABLED,
  maxPayloadLength: 64 * 1024,
  idleTimeout: 0,
  sendPingsAutomatically: false,
  maxBackpressure: 64 * 2 ** 20, // closeOnBackpressureLimit stays false (the default)
  upgrade(res, req, context) {
    const room = ROUTE.exec(req.getUrl())?.[1];
    if (room === undefined) {
      res.writeStatus('404 Not Found').end();
      return;
    }
    // The request object is valid only now: read the handshake headers before upgrading.
    res.upgrade<Member>({ room }, req.getHeader('sec-websocket-key'), req.getHeader('sec-websocket-protocol'),
      req.getHeader('sec-websocket-extensions'), context);
  },
  open(ws: WebSocket<Member>) {
    ws.subscribe(ws.getUserData().room);
    ws.send(ESTABLISHED, false);
  },
  message(ws: WebSocket<Member>, data: ArrayBuffer) {
    // `data` is valid only during this call: decoded at once, never kept.
    const line = chatLine(Buffer.from(data).toString('utf8'));
    if ('reply' in line) {
      ws.send(line.reply, false);
      return;
    }
    // app.publish, not ws.publish: the sender is a member of the room and gets its own line too.
    app.publish(ws.getUserData().room, line.broadcast, false);
  },
});
app.listen('127.0.0.1', port, (token) => {
  if (!token) {
    console.error(`uws: cannot listen on 127.0.0.1:${port}`);
    process.exit(1);
  }
});
process.on('SIGTERM', () => process.exit(0));
