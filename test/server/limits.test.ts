// Liveness and limits over real sockets: heartbeats, the message size limit,
// and the outgoing buffer bound against a client that stops reading.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import WebSocket from 'ws';
import type { Application, ReceiveEvent } from 'switchyard';
import { acceptingApp, deferred, serverPool, type TestServer } from './helpers.js';
import { delay } from '../helpers/time.js';
import { openSocket } from '../helpers/ws-client.js';

/** Accepts, records every event, resolves `gone` with the disconnect. */
function recorder(): { app: Application; gone: Promise<ReceiveEvent>; received: ReceiveEvent[] } {
  const gone = deferred<ReceiveEvent>();
  const received: ReceiveEvent[] = [];
  const app = acceptingApp((event) => {
    received.push(event);
    if (event.type === 'websocket.disconnect') gone.resolve(event);
  });
  return { app, gone: gone.promise, received };
}

describe('WebSocket liveness and limits', () => {
  const { serve, clients } = serverPool();
  const wsUrl = (server: TestServer): string => `${server.url.replace('http', 'ws')}/`;

  test('a peer that does not answer pings is dropped with 1006; one that answers stays', async () => {
    const silent = recorder();
    const server = await serve(silent.app, { wsPingInterval: 0.1, wsPingTimeout: 0.2 });
    const mute = await openSocket(wsUrl(server), { autoPong: false });
    clients.push(mute);
    const started = Date.now();
    const event = await silent.gone;
    assert.deepEqual(event, { type: 'websocket.disconnect', code: 1006, reason: '' });
    assert.ok(Date.now() - started < 5000, 'dropped within interval + timeout (+ sweep granularity, + a loaded machine)');
    assert.ok(server.logs.some((l) => /did not answer a ping/.test(l.msg)));

    const lively = recorder();
    const server2 = await serve(lively.app, { wsPingInterval: 0.1, wsPingTimeout: 0.2 });
    const healthy = await openSocket(wsUrl(server2));
    clients.push(healthy);
    let pings = 0;
    healthy.on('ping', () => { pings++; });
    await delay(1000);
    assert.equal(healthy.readyState, WebSocket.OPEN);
    assert.ok(pings >= 2, `pinged ${pings} times`);
    assert.equal(lively.received.length, 0);
  });

  test('a flood while the app is not reading pauses the socket; nothing is lost or reordered', async () => {
    const gate = deferred();
    const got: string[] = [];
    const done = deferred();
    const server = await serve(async (scope, receive, send) => {
      if (scope.type !== 'websocket') return;
      await receive();
      await send({ type: 'websocket.accept' });
      await gate.promise;
      for (;;) {
        const event = await receive() as ReceiveEvent;
        if (event.type !== 'websocket.receive') return;
        got.push(event.text!);
        if (got.length === 2000) done.resolve();
      }
    });
    const ws = await openSocket(wsUrl(server));
    clients.push(ws);
    for (let i = 0; i < 2000; i++) ws.send(String(i));
    await delay(200);
    gate.resolve();
    await done.promise;
    assert.deepEqual(got, Array.from({ length: 2000 }, (_, i) => String(i)));
  });

  test('a message over wsMaxSize closes with 1009; one at the limit passes', async () => {
    const rec = recorder();
    const server = await serve(rec.app, { wsMaxSize: 1024 });
    const ws = await openSocket(wsUrl(server));
    clients.push(ws);
    ws.send('x'.repeat(1024));
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    await delay(50);
    ws.send('y'.repeat(1025));
    assert.equal(await closed, 1009);
    assert.equal((await rec.gone as { code: number }).code, 1009);
    assert.equal(rec.received.length, 2);
    assert.equal((rec.received[0] as { text: string }).text.length, 1024);
  });

  test('a burst written in one turn counts against the send-buffer bound too', async () => {
    const bound = 256 * 1024;
    const chunk = Buffer.alloc(16 * 1024, 'b').toString();
    const gone = deferred<ReceiveEvent>();
    const server = await serve(async (scope, receive, send) => {
      if (scope.type !== 'websocket') return;
      await receive();
      await send({ type: 'websocket.accept' });
      await receive(); // the client has stopped reading: the kernel's buffers for it stay at their first size
      // 8 MiB in one synchronous stretch (more than the kernel takes for a peer that reads nothing): the frames wait, corked, until the turn ends.
      for (let i = 0; i < 512; i++) void send({ type: 'websocket.send', text: chunk });
      gone.resolve(await receive() as ReceiveEvent);
    }, { wsMaxSendBuffer: bound, wsCloseTimeout: 0.5 });
    const ws = await openSocket(wsUrl(server));
    clients.push(ws);
    ws.pause();
    ws.send('go');
    assert.equal((await gone.promise as { code: number }).code, 1008);
    assert.ok(server.logs.some((l) => /not reading/.test(l.msg)), 'overflow logged');
  });

  test('a client that stops reading hits the send-buffer bound: closed with 1008, server memory stays bounded', async () => {
    const bound = 512 * 1024;
    const chunk = Buffer.alloc(64 * 1024, 'a').toString();
    let sentBytes = 0;
    const gone = deferred<ReceiveEvent>();
    const server = await serve(async (scope, receive, send) => {
      if (scope.type !== 'websocket') return;
      await receive();
      await send({ type: 'websocket.accept' });
      let disconnected = false;
      void (receive() as Promise<ReceiveEvent>).then((event) => { disconnected = true; gone.resolve(event); });
      // A broadcaster that never waits on the peer (it does not await its sends, so
      // backpressure cannot hold it, see backpressure.test.ts): the bound must protect the server.
      while (!disconnected && sentBytes < 2 * 1024 * 1024 * 1024) {
        void send({ type: 'websocket.send', text: chunk });
        sentBytes += chunk.length;
        if (sentBytes % (1024 * 1024) === 0) await delay(0);
      }
    }, { wsMaxSendBuffer: bound, wsCloseTimeout: 0.5, metricsPath: '/metrics' });
    const heapBefore = process.memoryUsage().heapUsed + process.memoryUsage().external + process.memoryUsage().arrayBuffers;
    const ws = await openSocket(wsUrl(server));
    clients.push(ws);
    ws.pause(); // stop reading: the kernel buffers fill, then the server's
    const event = await gone.promise;
    assert.equal((event as { code: number }).code, 1008);
    const memory = process.memoryUsage();
    const grown = memory.heapUsed + memory.external + memory.arrayBuffers - heapBefore;
    assert.ok(grown < 64 * 1024 * 1024, `server memory grew by ${Math.round(grown / 1048576)} MiB`);
    // Sends after the close are dropped; the metrics count what reached the socket.
    const metric = await server.metrics!.registry.getSingleMetric('switchyard_ws_bytes_total')!.get();
    const written = metric.values.find((v) => v.labels.direction === 'out')!.value;
    assert.ok(written < 64 * 1024 * 1024, `${Math.round(written / 1048576)} MiB reached the socket before the close`);
    // Frames wait corked until the turn ends, so the bound can be hit with nothing yet in the kernel.
    assert.ok(written >= bound, 'the bound was actually reached');
    assert.ok(server.logs.some((l) => /not reading/.test(l.msg) && l.level === 40), 'overflow logged as a warning');
  });
});
