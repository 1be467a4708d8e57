// A server-initiated close must complete promptly even when the socket was paused
// because the app had a backlog of unread frames (the peer's close frame must be read).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import type { Application } from 'switchyard';
import { start } from './helpers.js';
import { delay } from '../helpers/time.js';

test('closing a flooded connection whose app stopped reading completes well before wsCloseTimeout', async () => {
  let closeSentAt = 0;
  const app: Application = async (_scope, receive, send) => {
    await receive(); // websocket.connect
    await send({ type: 'websocket.accept' });
    await delay(300); // not reading: the flood piles up and the server pauses the socket
    closeSentAt = Date.now();
    await send({ type: 'websocket.close', code: 4008 });
    // Like a consumer that has stopped: it never reads its backlog again.
    await delay(3000);
  };
  const server = await start(app, { wsCloseTimeout: 5 });
  try {
    const client = new WebSocket(`ws://127.0.0.1:${server.port}/`);
    await new Promise((resolve) => client.once('open', resolve));
    for (let i = 0; i < 500; i++) client.send(`flood ${i}`);
    const code = await new Promise<number>((resolve) => client.once('close', resolve));
    const took = Date.now() - closeSentAt;
    assert.equal(code, 4008);
    assert.ok(took < 1500, `the closing handshake took ${took} ms (wsCloseTimeout is 5000)`);
  } finally {
    await server.close();
  }
});
