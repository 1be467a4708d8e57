/**
 * Reference: a raw `ws` broadcast server speaking the chat protocol.
 *
 * The Node limit for a broadcast: parse the client's message, serialize the
 * reply once, and write the same bytes to every member of the room. No
 * consumers, no layer, no heartbeats.
 *
 * Cross-process mode (`BENCH_REDIS_URL` set): one Redis PUBLISH per broadcast
 * on `rawws:<room>`; every process subscribes to the rooms it has members in
 * and writes what it receives to its local members.
 */
import http from 'node:http';
import { Redis } from 'ioredis';
import { type WebSocket, WebSocketServer } from 'ws';
import { ESTABLISHED, chatLine } from './chat-protocol.js';

const port = Number(process.env.PORT ?? 8001);
const redisUrl = process.env.BENCH_REDIS_URL;
const ROUTE = /^\/ws\/chat\/(\w+)\/$/;
const TEXT = { binary: false } as const;

const rooms = new Map<string, Set<WebSocket>>();
const pub = redisUrl ? new Redis(redisUrl) : null;
const sub = redisUrl ? new Redis(redisUrl) : null;

function deliver(room: string, frame: Buffer): void {
  const members = rooms.get(room);
  if (members !== undefined) for (const ws of members) ws.send(frame, TEXT);
}

sub?.on('messageBuffer', (channel: Buffer, frame: Buffer) => deliver(channel.toString('latin1').slice(6), frame));

const server = http.createServer((_req, res) => res.writeHead(404).end());
const wss = new WebSocketServer({ server, perMessageDeflate: false, clientTracking: false });
wss.on('connection', (ws, req) => {
  const room = ROUTE.exec(req.url ?? '')?.[1];
  if (room === undefined) return ws.close(4004);
  let members = rooms.get(room);
  if (members === undefined) {
    rooms.set(room, (members = new Set()));
    void sub?.subscribe(`rawws:${room}`);
  }
  members.add(ws);
  ws.send(ESTABLISHED);
  ws.on('message', (data: Buffer) => {
    const line = chatLine(data.toString('utf8'));
    if ('reply' in line) return ws.send(line.reply);
    const frame = Buffer.from(line.broadcast);
    if (pub !== null) void pub.publish(`rawws:${room}`, frame);
    else deliver(room, frame);
  });
  ws.on('close', () => {
    members.delete(ws);
  });
});
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
