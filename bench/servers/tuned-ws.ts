/**
 * Reference: raw `ws` tuned for broadcast, speaking the chat protocol.
 *
 * What raw-ws.ts leaves on the table, taken:
 * - the broadcast is framed once (`Sender.frame`, header and payload joined
 *   into one Buffer), where `ws.send()` frames it again for every member;
 * - that frame is written straight to each member's TCP socket, corked until
 *   the end of the event-loop turn (setImmediate), so several broadcasts in
 *   one turn leave as one `writev` per socket.
 *
 * Writing to the socket beside `ws`'s own Sender is safe because, without
 * permessage-deflate, the Sender writes each frame synchronously and whole:
 * frames never interleave. Members whose WebSocket is no longer OPEN (a
 * close frame may be on its way) are skipped. No layer, no heartbeats.
 */
import http from 'node:http';
import type { Duplex } from 'node:stream';
import * as wsModule from 'ws';
import WebSocket, { WebSocketServer } from 'ws';
import { ESTABLISHED, chatLine } from './chat-protocol.js';

/** `ws` exports its Sender (a named export of its ES module); @types/ws does not declare it. */
interface SenderStatic {
  frame(data: Buffer, options: { fin: boolean; rsv1: boolean; opcode: number; mask: boolean; readOnly: boolean }): Buffer[];
}
const { Sender } = wsModule as unknown as { Sender: SenderStatic };

const port = Number(process.env.PORT ?? 8006);
const ROUTE = /^\/ws\/chat\/(\w+)\/$/;
const TEXT_OPCODE = 1;

interface Member { ws: WebSocket; socket: Duplex }
const rooms = new Map<string, Set<Member>>();

/** Sockets corked during this turn, uncorked together at its end. */
let corked: Duplex[] = [];
let flushScheduled = false;
function flush(): void {
  const sockets = corked;
  corked = [];
  flushScheduled = false;
  for (const socket of sockets) socket.uncork();
}

function frameText(text: string): Buffer {
  const parts = Sender.frame(Buffer.from(text), { fin: true, rsv1: false, opcode: TEXT_OPCODE, mask: false, readOnly: false });
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

function broadcast(members: Set<Member>, frame: Buffer): void {
  for (const { ws, socket } of members) {
    if (ws.readyState !== WebSocket.OPEN) continue;
    if (socket.writableCorked === 0) {
      socket.cork();
      corked.push(socket);
    }
    socket.write(frame);
  }
  if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(flush);
  }
}

function join(ws: WebSocket, socket: Duplex, room: string): void {
  let members = rooms.get(room);
  if (members === undefined) rooms.set(room, (members = new Set()));
  const member: Member = { ws, socket };
  members.add(member);
  ws.send(ESTABLISHED);
  ws.on('message', (data: Buffer) => {
    const line = chatLine(data.toString('utf8'));
    if ('reply' in line) return ws.send(line.reply);
    broadcast(members, frameText(line.broadcast));
  });
  ws.on('close', () => {
    members.delete(member);
  });
}

const server = http.createServer((_req, res) => res.writeHead(404).end());
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, clientTracking: false });
// The upgrade event is where the member's socket is handed out publicly.
server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
  const room = ROUTE.exec(req.url ?? '')?.[1];
  if (room === undefined) {
    socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => join(ws, socket, room));
});
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
