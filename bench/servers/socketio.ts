/**
 * Reference: Socket.IO 4 with rooms (WebSocket transport only, no
 * compression), the same chat exchange as events. With `BENCH_REDIS_URL` it
 * uses the official Redis adapter, Socket.IO's cross-process answer.
 *
 * With `SIO_RECOVERY=1` (scenario r), connection state recovery is on, its
 * answer to missed messages: each broadcast to a room is kept for
 * `maxDisconnectionDuration` with an offset, and a client that comes back
 * within that time gets what it missed and `socket.recovered === true`.
 * Recovery needs the in-memory adapter (the default), not the Redis one.
 */
import http from 'node:http';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { Server } from 'socket.io';

const port = Number(process.env.PORT ?? 8002);
const redisUrl = process.env.BENCH_REDIS_URL;

const server = http.createServer();
const recovery = process.env.SIO_RECOVERY === '1';
const io = new Server(server, {
  transports: ['websocket'], perMessageDeflate: false, serveClient: false,
  // Sessions and packets kept 2 minutes, far longer than scenario (r)'s offline windows.
  ...(recovery ? { connectionStateRecovery: { maxDisconnectionDuration: 2 * 60 * 1000, skipMiddlewares: true } } : {}),
});
if (redisUrl && !recovery) io.adapter(createAdapter(new Redis(redisUrl), new Redis(redisUrl), { key: 'benchsio' }));

io.on('connection', (socket) => {
  const room = String(socket.handshake.query.room ?? 'lobby');
  void socket.join(room);
  // A recovered socket is back in its rooms already (joining again is harmless), and was greeted before.
  if (!socket.recovered) socket.emit('connection_established', { type: 'connection_established', message: 'Connected to chat room' });
  socket.on('chat', (content: { message?: unknown; username?: unknown }) => {
    const message = content?.message;
    if (typeof message !== 'string' || message === '' || message.length > 1000) {
      socket.emit('error_message', { message: 'Invalid message' });
      return;
    }
    const username = typeof content.username === 'string' && content.username.trim() !== '' ? content.username : 'Anonymous';
    io.to(room).emit('chat', { message, username });
  });
});
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
