// Recovery end to end (docs/recovery.md): a real server, the reconnecting client with
// `recover: true` in Node, and a TCP proxy between them that cuts the network while a
// sender runs at a fixed rate. Every message arrives exactly once, in order.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { InMemoryChannelLayer, WebsocketConsumer, configureChannelLayers, resetChannelLayers, type LayerMessage } from 'switchyard';
import { ReconnectingWebsocket, type RecoveryDetail } from 'switchyard/client';
import { serve, type Server } from 'switchyard/server';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { delay, until } from '../helpers/time.js';

interface Line extends LayerMessage { type: 'line'; n: number }

class Room extends WebsocketConsumer {
  static override groups = ['room'];
  static override renders = { line: (e: Line) => JSON.stringify({ n: e.n }) };
}

let layer: InMemoryChannelLayer;
let server: Server;
let proxy: TcpProxy;

before(async () => {
  layer = new InMemoryChannelLayer({ groupHistory: { room: { size: 1000, ttl: 60 } } });
  configureChannelLayers({ default: layer });
  server = await serve(Room.asApp(), { host: '127.0.0.1', port: 0, logLevel: 'silent', metricsPath: '/metrics' });
  proxy = await TcpProxy.start({ target: { port: Number(new URL(server.url).port) } });
});
after(async () => {
  await proxy.close();
  await server.close();
  resetChannelLayers();
});

/** A client that records the numbers it receives and the recovery outcomes. */
function client(recover: boolean) {
  const received: number[] = [];
  const outcomes: RecoveryDetail[] = [];
  const socket = new ReconnectingWebsocket(`ws://127.0.0.1:${proxy.port}/ws/`, { WebSocket, recover, minDelay: 50, maxDelay: 200 });
  socket.on('message', ({ data }) => received.push((data as { n: number }).n));
  socket.on('recovery', (detail) => outcomes.push(detail));
  return { socket, received, outcomes };
}

/** Sends `count` numbered lines to the room, one every `everyMs`. */
async function sender(from: number, count: number, everyMs: number): Promise<void> {
  for (let n = from; n < from + count; n++) {
    await layer.groupSend('room', { type: 'line', n });
    await delay(everyMs);
  }
}

test('network cuts while a sender runs: with recovery every message arrives once, in order; without, the cut loses some', async () => {
  const recovering = client(true);
  const plain = client(false);
  await until(() => recovering.outcomes.length === 1 && plain.socket.state === 'open', 5000, 'both clients connected');
  const sending = sender(1, 150, 10);
  for (let cut = 0; cut < 3; cut++) {
    await delay(300);
    await proxy.cut({ forMs: 400 });
  }
  await sending;
  await until(() => recovering.received.length >= 150, 10_000, () => `150 messages, got ${recovering.received.length}`);
  await delay(300);
  assert.deepEqual(recovering.received, Array.from({ length: 150 }, (_, i) => i + 1));
  assert.ok(recovering.outcomes.length >= 4, `an outcome per connection: ${recovering.outcomes.length}`);
  assert.ok(recovering.outcomes.every((o) => o.recovered && o.group === 'room'));
  assert.ok(recovering.outcomes.slice(1).some((o) => o.replayed > 0), 'the cuts made it replay');
  assert.ok(plain.received.length < 150, `the plain client lost messages in the cuts (${plain.received.length}/150)`);
  assert.deepEqual(recovering.socket.positions.room?.offset, 150);
  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  assert.match(metrics, /switchyard_recovery_total\{outcome="recovered"\} [1-9]/, 'recovered joins are counted');
  assert.match(metrics, /switchyard_recovery_replayed_messages_total [1-9]/, 'replayed messages are counted');
  recovering.socket.close();
  plain.socket.close();
});

test('a history lost while away (a new epoch): the client is told recovered false, and gets the new epoch whole', async () => {
  const c = client(true);
  await until(() => c.outcomes.length === 1, 5000, 'the first outcome');
  await layer.groupSend('room', { type: 'line', n: 1 });
  await until(() => c.received.length === 1, 5000, 'the first message');
  await proxy.cut({ forMs: 300 });
  await layer.flush(); // the history is lost: a new epoch (memberships go too; the client's reconnect re-joins)
  await layer.groupSend('room', { type: 'line', n: 2 });
  await layer.groupSend('room', { type: 'line', n: 3 });
  await until(() => c.received.length === 3, 5000, () => `three messages, got ${JSON.stringify(c.received)}`);
  assert.deepEqual(c.received, [1, 2, 3]);
  const last = c.outcomes.at(-1)!;
  assert.equal(last.recovered, false);
  assert.equal(last.replayed, 2);
  assert.notEqual(last.epoch, c.outcomes[0]!.epoch);
  c.socket.close();
});
