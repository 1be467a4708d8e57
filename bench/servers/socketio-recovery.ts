/**
 * Reference for scenario (r): Socket.IO 4 with connection state recovery
 * (its answer to missed messages), the same chat room as socketio.ts.
 *
 * The server keeps each broadcast to a room for `maxDisconnectionDuration`
 * and stamps it with an offset; a client that comes back within that time
 * with its session id and last offset gets what it missed and
 * `socket.recovered === true`. Recovery needs the in-memory adapter (the
 * default): the Redis adapter of socketio.ts cannot do it.
 */
import http from 'node:http';
import { Server } from 'socket.io';

const port = Number(process.env.PORT ?? 8004);

const server = http.createServer();
const io = new Server(server, {
  transports: ['websocket'],
  perMessageDeflate: false,
  serveClient: false,
  // Sessions and packets are kept 2 minutes, far longer than the scenario's offline windows.
  connectionStateRecovery: { maxDisconnectionDuration: 2 * 60 * 1000, skipMiddlewares: true },
});

io.on('connection', (socket) => {
  // A recovered socket is back in its rooms already; joining again is harmless.
  const room = String(socket.handshake.query.room ?? 'lobby');
  void socket.join(room);
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
