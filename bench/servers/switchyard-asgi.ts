/**
 * Switchyard's server alone, speaking the chat protocol: a bare ASGI app
 * (no consumer, no channel layer) that keeps each room's `send` callables
 * and, for a chat line, calls every member's `send` with the same text.
 * What this costs per delivery is the server's part of a broadcast (the
 * bridge, the shared frame, the write); the rest of `sy-declared`'s cost is
 * the consumer's and the layer's.
 */
import type { Application, ReceiveEvent, Send } from 'switchyard';
import { ESTABLISHED, chatLine } from './chat-protocol.js';
import { serveUntilStopped } from './serve-app.js';

const ROUTE = /^\/ws\/chat\/(\w+)\/$/;
const rooms = new Map<string, Set<Send>>();

const application: Application = async (scope, receive, send) => {
  if (scope.type !== 'websocket') return;
  const room = ROUTE.exec(scope.path)?.[1];
  await receive(); // websocket.connect
  if (room === undefined) return send({ type: 'websocket.close' });
  await send({ type: 'websocket.accept' });
  await send({ type: 'websocket.send', text: ESTABLISHED });
  let members = rooms.get(room);
  if (members === undefined) rooms.set(room, (members = new Set()));
  members.add(send);
  try {
    for (;;) {
      const event = await receive() as ReceiveEvent;
      if (event.type === 'websocket.disconnect') return;
      if (event.type !== 'websocket.receive' || typeof event.text !== 'string') continue;
      const line = chatLine(event.text);
      if ('reply' in line) await send({ type: 'websocket.send', text: line.reply });
      else {
        const frame = { type: 'websocket.send', text: line.broadcast } as const;
        for (const member of members) void member(frame);
      }
    }
  } finally {
    members.delete(send);
  }
};

await serveUntilStopped(application, Number(process.env.PORT ?? 8003));
