/**
 * Reference: Bun's `Bun.serve` with its built-in pub/sub (uWebSockets
 * inside), speaking the chat protocol: each connection subscribes to its
 * room's topic, and a broadcast is one `server.publish()`.
 *
 * Run by the `bun` binary of the `@oven/bun-linux-x64` package (see
 * bench/lib/servers.ts), never by Node. Bun's types are not installed, so the
 * few parts used are declared below.
 *
 * Like raw ws: no compression, no heartbeats, and the backpressure limit
 * raised so a slow load worker delays messages rather than losing them.
 */
import { ESTABLISHED, chatLine } from './chat-protocol.js';

interface Member { room: string }
interface BunSocket {
  data: Member;
  send(data: string): number;
  subscribe(topic: string): void;
}
interface BunServer {
  upgrade(request: Request, options: { data: Member }): boolean;
  publish(topic: string, data: string): number;
}
interface BunApi {
  serve(options: {
    hostname: string;
    port: number;
    fetch(request: Request, server: BunServer): Response | undefined;
    websocket: {
      perMessageDeflate: boolean;
      idleTimeout: number;
      sendPings: boolean;
      backpressureLimit: number;
      closeOnBackpressureLimit: boolean;
      maxPayloadLength: number;
      open(ws: BunSocket): void;
      message(ws: BunSocket, message: string | Uint8Array): void;
    };
  }): BunServer;
}

const Bun = (globalThis as unknown as { Bun?: BunApi }).Bun;
if (Bun === undefined) throw new Error('bench/servers/bun-server runs under bun, not node');

const port = Number(process.env.PORT ?? 8005);
const ROUTE = /^\/ws\/chat\/(\w+)\/$/;
const decoder = new TextDecoder();

const server = Bun.serve({
  hostname: '127.0.0.1',
  port,
  fetch(request, srv) {
    const room = ROUTE.exec(new URL(request.url).pathname)?.[1];
    if (room === undefined) return new Response('Not Found', { status: 404 });
    return srv.upgrade(request, { data: { room } }) ? undefined : new Response('Upgrade Required', { status: 426 });
  },
  websocket: {
    perMessageDeflate: false,
    idleTimeout: 0,
    sendPings: false,
    backpressureLimit: 64 * 2 ** 20,
    closeOnBackpressureLimit: false,
    maxPayloadLength: 64 * 1024,
    open(ws) {
      ws.subscribe(ws.data.room);
      ws.send(ESTABLISHED);
    },
    message(ws, data) {
      const line = chatLine(typeof data === 'string' ? data : decoder.decode(data));
      if ('reply' in line) {
        ws.send(line.reply);
        return;
      }
      // server.publish, not ws.publish: the sender is a member of the room and gets its own line too.
      server.publish(ws.data.room, line.broadcast);
    },
  },
});
process.on('SIGTERM', () => process.exit(0));
