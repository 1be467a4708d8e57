// Backpressure to the app (issue 13, slow consumers): a peer that stops reading makes the
// app's `websocket.send` wait once its buffer is over wsSendHighWaterMark, instead of
// growing the buffer to the 1008 limit; a consumer that cannot keep up then lets its
// channel's slow-consumer policy act (drop-oldest keeps the freshest, disconnect closes 4008).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import {
  InMemoryChannelLayer, SLOW_CONSUMER_CLOSE_CODE, WebsocketConsumer, configureChannelLayers, resetChannelLayers,
  type LayerMessage, type Receive, type Scope, type Send, type SlowConsumerPolicy,
} from 'switchyard';
import { serve } from 'switchyard/server';
import { delay, until } from '../helpers/time.js';

const FRAME = 'x'.repeat(8 * 1024);

/** A client whose socket stops reading (the kernel buffers fill, then the server's). */
async function stalledClient(url: string): Promise<{ ws: WebSocket; received: string[]; closed: Promise<number>; resume: () => void }> {
  const ws = new WebSocket(url);
  const received: string[] = [];
  ws.on('message', (data) => received.push(data.toString()));
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  await new Promise((resolve) => ws.once('open', resolve));
  const socket = (ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
  socket.pause();
  return { ws, received, closed, resume: () => socket.resume() };
}

test('a peer that stops reading: sends wait for it past the high-water mark, then all arrive (no 1008)', async () => {
  let sent = 0;
  const total = 2000; // 16 MB: more than the kernel's buffers and the 4 MiB limit
  const app = async (_scope: Scope, receive: Receive, send: Send) => {
    await receive();
    await send({ type: 'websocket.accept' });
    for (let i = 0; i < total; i++) {
      await send({ type: 'websocket.send', text: FRAME });
      sent++;
    }
    await receive();
  };
  const server = await serve(app, { host: '127.0.0.1', port: 0, logLevel: 'silent', wsSendHighWaterMark: 64 * 1024 });
  try {
    const client = await stalledClient(server.url.replace('http', 'ws'));
    await delay(500);
    const stalledAt = sent;
    await delay(300);
    assert.ok(stalledAt < total, `the app waits for the peer (${stalledAt} of ${total} sent)`);
    assert.equal(sent, stalledAt, 'and stays waiting while the peer does not read');
    client.resume();
    await until(() => client.received.length === total, 20_000, () => `all frames, got ${client.received.length}`);
    assert.equal(client.ws.readyState, WebSocket.OPEN);
    client.ws.close();
  } finally {
    await server.close();
  }
});

interface Line extends LayerMessage { type: 'line'; n: number }

for (const [policy, expectation] of [['drop-oldest', 'kept'], ['disconnect', 'closed']] as Array<[SlowConsumerPolicy, string]>) {
  test(`a consumer that cannot keep up, slowConsumer '${String(policy)}': ${expectation}`, async () => {
    const layer = new InMemoryChannelLayer({ capacity: 50 });
    configureChannelLayers({ default: layer });
    class Room extends WebsocketConsumer {
      static override groups = ['room'];
      static override slowConsumer = policy;
      static override renders = { line: (e: Line) => `${e.n}:${FRAME}` };
    }
    const server = await serve(Room.asApp(), { host: '127.0.0.1', port: 0, logLevel: 'silent', metricsPath: '/metrics' });
    try {
      const client = await stalledClient(server.url.replace('http', 'ws'));
      await delay(100);
      const total = 3000;
      for (let n = 1; n <= total; n++) {
        await layer.groupSend('room', { type: 'line', n });
        if (n % 100 === 0) await delay(5);
      }
      await delay(300);
      client.resume();
      if (policy === 'disconnect') {
        assert.equal(await client.closed, SLOW_CONSUMER_CLOSE_CODE);
        return;
      }
      await until(() => client.received.some((t) => t.startsWith(`${total}:`)), 20_000, () => `the last line, got ${client.received.length}`);
      const numbers = client.received.map((t) => Number(t.slice(0, t.indexOf(':'))));
      assert.ok(numbers.length < total, 'some were dropped');
      assert.deepEqual(numbers.slice(-50), Array.from({ length: 50 }, (_, i) => total - 49 + i), 'the freshest 50 (the capacity) arrive');
      assert.deepEqual(numbers, [...numbers].sort((a, b) => a - b), 'in order');
      assert.equal(client.ws.readyState, WebSocket.OPEN);
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      const dropped = Number(/switchyard_slow_consumer_actions_total\{action="drop-oldest"\} (\d+)/.exec(metrics)?.[1]);
      assert.ok(dropped >= total - numbers.length, `the drops are counted in /metrics (${dropped})`);
      client.ws.close();
    } finally {
      await server.close();
      resetChannelLayers();
    }
  });
}
