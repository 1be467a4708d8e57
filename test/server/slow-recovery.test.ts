// A slow consumer whose client asked for recovery loses nothing to 'drop-oldest': what its
// channel dropped while it could not keep up is read back from the group's history (a gap,
// repaired), so the client still gets every message, once and in order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { InMemoryChannelLayer, WebsocketConsumer, closeChannelLayers, configureChannelLayers, type LayerMessage } from 'switchyard';
import { slowConsumerActions } from '../../src/layers/slow-consumers.js';
import { serve } from 'switchyard/server';
import { delay, until } from '../helpers/time.js';

const FRAME = 'x'.repeat(8 * 1024);

interface Line extends LayerMessage { type: 'line'; n: number }

class Room extends WebsocketConsumer {
  static override groups = ['room'];
  static override slowConsumer = 'drop-oldest' as const;
  static override renders = { line: (e: Line) => `${e.n}:${FRAME}` };
}

test("drop-oldest with recovery on: the dropped messages come back from the history, every one once, in order", async () => {
  const layer = new InMemoryChannelLayer({ capacity: 50, groupHistory: { room: { size: 5000, ttl: 300 } } });
  configureChannelLayers({ default: layer });
  const server = await serve(Room.asApp(), { host: '127.0.0.1', port: 0, logLevel: 'silent' });
  try {
    const ws = new WebSocket(`${server.url.replace('http', 'ws')}/?switchyard.recover=1`);
    const offsets: number[] = [];
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as { $sy: string; o: number; d?: string };
      if (frame.$sy !== 'm') return;
      assert.equal(Number(frame.d!.slice(0, frame.d!.indexOf(':'))), frame.o, 'the frame carries its own offset');
      offsets.push(frame.o);
    });
    await new Promise((resolve) => ws.once('open', resolve));
    const socket = (ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    socket.pause(); // the client stops reading: the consumer cannot keep up
    await delay(100);
    const dropsBefore = slowConsumerActions()['drop-oldest'];
    const total = 3000;
    for (let n = 1; n <= total; n++) {
      await layer.groupSend('room', { type: 'line', n });
      if (n % 100 === 0) await delay(5);
    }
    await delay(300);
    assert.ok(slowConsumerActions()['drop-oldest'] > dropsBefore, 'the channel dropped some while the consumer could not keep up');
    socket.resume();
    await until(() => offsets.length >= total, 30_000, () => `every message, got ${offsets.length}`);
    await delay(300);
    assert.deepEqual(offsets, Array.from({ length: total }, (_, i) => i + 1));
    ws.close();
  } finally {
    await server.close();
    await closeChannelLayers();
  }
});
