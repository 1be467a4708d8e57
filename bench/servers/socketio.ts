/**
 * Reference: Socket.IO 4 with rooms (WebSocket transport only, no
 * compression), the same chat exchange as events. With `BENCH_REDIS_URL` it
 * uses the official Redis adapter, Socket.IO's cross-process answer.
 */
import http from 'node:http';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { Server } from 'socket.io';

const port = Number(process.env.PORT ?? 8002);
const redisUrl = process.env.BENCH_REDIS_URL;

const server = http.createServer();
const io = new Server(server, { transports: ['websocket'], perMessageDeflate: false, serveClient: false });
if (redisUrl) io.adapter(createAdapter(new Redis(redisUrl), new Redis(redisUrl), { key: 'benchsio' }));

io.on('connection', (socket) => {
  const room = String(socket.handshake.query.room ?? 'lobby');
  void socket.join(room);
  socket.emit('connection_established', { type: 'connection_established', message: 'Connected to chat room' });
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
