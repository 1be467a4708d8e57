// What WebSocket connections report to the hub (websocket-events.ts), and what
// the hub passes on to its observer: one sequence per connection, whatever
// ended it. The hub is built here with a recording observer, on a plain
// http.Server, the way serve() builds it with the metrics' observer.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, describe, test } from 'node:test';
import { pino } from 'pino';
import WebSocket from 'ws';
import type { Application } from 'switchyard';
import type { ServerContext } from '../../src/server/context.js';
import { resolveOptions, type ServerOptions } from '../../src/server/options.js';
import { TrustedProxies } from '../../src/server/scope.js';
import { WebSocketHub } from '../../src/server/websocket-hub.js';
import type { Connection, WebSocketEvents } from '../../src/server/websocket-events.js';
import { acceptingApp, deferred } from './helpers.js';

type Heard = [event: keyof WebSocketEvents, detail?: number];

/** An observer that writes down every event, per connection, in order. */
function recorder(): { observer: WebSocketEvents; log: Map<Connection, Heard[]>; changed: () => Promise<void> } {
  const log = new Map<Connection, Heard[]>();
  let wake = deferred();
  const note = (conn: Connection, heard: Heard): void => {
    if (!log.has(conn)) log.set(conn, []);
    log.get(conn)!.push(heard);
    wake.resolve();
    wake = deferred();
  };
  const observer: WebSocketEvents = {
    handshaking: (conn) => note(conn, ['handshaking']),
    refused: (conn, status) => note(conn, ['refused', status]),
    abandoned: (conn) => note(conn, ['abandoned']),
    opened: (conn) => note(conn, ['opened']),
    received: (conn, bytes) => note(conn, ['received', bytes]),
    sent: (conn, bytes) => note(conn, ['sent', bytes]),
    overflowed: (conn) => note(conn, ['overflowed']),
    closed: (conn, code) => note(conn, ['closed', code]),
  };
  return { observer, log, changed: () => wake.promise };
}

const hubs: Array<{ hub: WebSocketHub; server: http.Server }> = [];
after(async () => {
  for (const { hub, server } of hubs) {
    hub.terminateAll();
    hub.stop();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

/** A hub on 127.0.0.1:0 serving `app`, with `observer`. */
async function hubFor(app: Application, observer: WebSocketEvents, options: ServerOptions = {}): Promise<{ hub: WebSocketHub; url: string; port: number }> {
  const ctx: ServerContext = {
    app,
    options: resolveOptions({ accessLog: false, ...options }),
    logger: pino({ level: 'silent' }),
    metrics: null,
    listen: { tls: false, server: null, unixSocket: false },
    trusted: new TrustedProxies([]),
    state: undefined,
    running: new Set(),
    closing: false,
  };
  const hub = new WebSocketHub(ctx, observer);
  const server = http.createServer();
  server.on('upgrade', (req, socket, head) => hub.handleUpgrade(req, socket, head));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  hubs.push({ hub, server });
  const { port } = server.address() as net.AddressInfo;
  return { hub, url: `ws://127.0.0.1:${port}/`, port };
}

/** Waits until `check` holds, re-checking after every event the observer hears. */
async function when(changed: () => Promise<void>, check: () => boolean): Promise<void> {
  const deadline = Date.now() + 3000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the observer');
    await Promise.race([changed(), new Promise((resolve) => setTimeout(resolve, 50))]);
  }
}

describe('WebSocket connection events', () => {
  test('an accepted connection: handshaking, opened, received, sent, closed with the code; the hub counts it open meanwhile', async () => {
    const { observer, log, changed } = recorder();
    const { hub, url } = await hubFor(acceptingApp(async (event, send) => {
      if (event.type === 'websocket.receive') await send({ type: 'websocket.send', text: `${event.text}!é` });
    }), observer);
    const ws = new WebSocket(url);
    await new Promise((resolve) => ws.once('open', resolve));
    assert.equal(hub.openCount, 1);
    ws.send('abc');
    await new Promise((resolve) => ws.once('message', resolve));
    ws.close(4002);
    await when(changed, () => [...log.values()][0]?.some(([e]) => e === 'closed') === true);
    assert.deepEqual([...log.values()], [[['handshaking'], ['opened'], ['received', 3], ['sent', 6], ['closed', 4002]]]);
    assert.equal(hub.openCount, 0);
  });

  test('refused and abandoned handshakes; shutdown refuses those in progress with 503 and closes open ones with 1001', async () => {
    const { observer, log, changed } = recorder();
    const { hub, url, port } = await hubFor(async (scope, receive, send) => {
      if (scope.type !== 'websocket') return;
      await receive();
      if (scope.path === '/no') return send({ type: 'websocket.close' });
      if (scope.path === '/yes') await send({ type: 'websocket.accept' });
      await new Promise(() => {}); // '/wait' never decides; '/yes' stays open
    }, observer);
    const refused = new WebSocket(`${url}no`);
    await new Promise((resolve) => refused.once('unexpected-response', resolve));
    // A peer that asks for an upgrade, then leaves before the app decides.
    const leaver = net.connect(port, '127.0.0.1');
    leaver.write('GET /wait HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
      + 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
    await when(changed, () => log.size === 2);
    leaver.end(); // a FIN: the server's socket would stay half-open if the bridge did not notice
    await when(changed, () => [...log.values()][1]!.length === 2);
    const open = new WebSocket(`${url}yes`);
    await new Promise((resolve) => open.once('open', resolve));
    const waiting = new WebSocket(`${url}wait`);
    waiting.on('error', () => {});
    await when(changed, () => log.size === 4);
    const openClosed = new Promise<number>((resolve) => open.once('close', resolve));
    hub.closeAll();
    assert.equal(await openClosed, 1001);
    await when(changed, () => [...log.values()][2]!.length === 3 && [...log.values()][3]!.length === 2);
    assert.deepEqual([...log.values()], [
      [['handshaking'], ['refused', 403]],
      [['handshaking'], ['abandoned']],
      [['handshaking'], ['opened'], ['closed', 1001]],
      [['handshaking'], ['refused', 503]],
    ]);
  });

  test('a peer that stops reading: overflowed, then closed with 1008', async () => {
    const { observer, log, changed } = recorder();
    const { url } = await hubFor(async (scope, receive, send) => {
      if (scope.type !== 'websocket') return;
      await receive();
      await send({ type: 'websocket.accept' });
      await send({ type: 'websocket.send', text: 'x'.repeat(32 * 1024 * 1024) });
      await receive();
    }, observer, { wsMaxSendBuffer: 64 * 1024, wsCloseTimeout: 0.2 });
    const ws = new WebSocket(url);
    ws.on('error', () => {});
    ws.once('open', () => ws.pause()); // reads no more
    await when(changed, () => [...log.values()][0]?.some(([e]) => e === 'closed') === true);
    ws.terminate();
    assert.deepEqual([...log.values()], [[['handshaking'], ['opened'], ['sent', 32 * 1024 * 1024], ['overflowed'], ['closed', 1008]]]);
  });
});
