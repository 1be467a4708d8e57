// NATS restarted under the layer (a nats-server this file owns, on its own port,
// stopped with SIGKILL by pid): sends fail loudly with LayerUnavailableError while
// it is away, delivery resumes after, recovering consumers are told to resync, and
// the history survives a restart with its storage (lost, with a new epoch, without).
// Then the chat demo, unchanged, as two server processes on one NATS: a line sent
// on one reaches a client on the other, and recovering clients lose nothing while
// NATS is restarted under live traffic (the servers answer /readyz 503 meanwhile).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LayerUnavailableError, type LayerMessage } from 'switchyard';
import { NatsChannelLayer } from 'switchyard/nats';
import { recordingLogger } from '../helpers/logs.js';
import { OwnedNats } from '../helpers/nats-server.js';
import { delay, until } from '../helpers/time.js';
import { type Frame, type FrameClient, frameClient } from '../helpers/ws-client.js';
import { onGroupResync, positionOf } from '../../src/layers/history.js';
import { NOTHING, receiveWithin } from './conformance.js';
import { ChatProcess, Member, allReached, startSending, tally } from '../faults/harness.js';

const owned: OwnedNats[] = [];
const chats: ChatProcess[] = [];
after(async () => {
  for (const chat of chats) await chat.close();
  for (const server of owned) await server.remove();
});
async function ownNats(): Promise<OwnedNats> {
  const server = await OwnedNats.start();
  owned.push(server);
  return server;
}

/** Every message each channel receives, until the layer closes. */
function collect(layer: NatsChannelLayer, channels: string[]): Array<[string, LayerMessage]> {
  const got: Array<[string, LayerMessage]> = [];
  for (const channel of channels) {
    void (async () => {
      for (;;) {
        try {
          got.push([channel, await layer.receive(channel)]);
        } catch {
          return;
        }
      }
    })();
  }
  return got;
}

describe('NATS layer: the server restarted under it', () => {
  test('while NATS is away sends fail with LayerUnavailableError; after, delivery resumes, groups are resynced, the history (storage kept) goes on', async (t) => {
    const server = await ownNats();
    const logs = recordingLogger();
    const make = () => new NatsChannelLayer({ servers: [server.url], prefix: 'sy-restart', groupHistory: ['chat_*'], logger: logs, connectTimeout: 500, requestTimeout: 1000 });
    const [members, sender] = [make(), make()];
    const resyncs: string[] = [];
    const unwatch = onGroupResync('chat_room', (group) => resyncs.push(group));
    try {
      const [kept, direct] = [await members.newChannel(), await members.newChannel()];
      await members.groupAdd('chat_room', kept);
      const got = collect(members, [kept, direct]);
      await sender.groupSend('chat_room', { type: 'before' });
      await until(() => got.length === 1, 5000, 'the message before');
      const epoch = positionOf(got[0]![1])!.epoch;

      await server.stop();
      // The client notices the closed socket at once; from then on every call fails, loudly.
      await until(async () => await sender.groupSend('chat_room', { type: 'during' }).then(() => false, (error: unknown) => error instanceof LayerUnavailableError), 5000, 'groupSend to fail');
      await assert.rejects(sender.send(direct, { type: 'during' }), LayerUnavailableError);
      await assert.rejects(sender.groupSend('chat_room', { type: 'during' }), LayerUnavailableError);
      await assert.rejects(sender.readHistory('chat_room', null), LayerUnavailableError);
      await assert.rejects(members.newChannel('fresh'), LayerUnavailableError);

      await server.startAgain();
      const back = Date.now();
      await until(async () => {
        await sender.groupSend('chat_room', { type: 'after' }).catch(() => {});
        await delay(50);
        return got.some(([, m]) => m.type === 'after');
      }, 10_000, 'a group message after the restart');
      t.diagnostic(`delivery resumed ${Date.now() - back} ms after NATS was back`);
      await sender.send(direct, { type: 'direct.after' });
      await until(() => got.some(([, m]) => m.type === 'direct.after'), 5000, 'a direct message after the restart');
      assert.deepEqual(resyncs.slice(0, 1), ['chat_room'], 'the recovering consumers of the group are told to read what they missed');
      assert.ok(logs.lines.some((line) => line.level === 'warn' && /connection lost/.test(line.message)));
      assert.ok(!got.some(([, m]) => m.type === 'during'), 'nothing refused was delivered');

      // The history kept its storage: same epoch, offsets go on from 1, nothing the stream accepted is lost.
      const read = (await members.readHistory('chat_room', { epoch, offset: 1 }))!;
      assert.equal(read.epoch, epoch);
      assert.equal(read.recovered, true);
      assert.deepEqual(read.messages.map((m) => positionOf(m)!.offset), Array.from({ length: read.top - 1 }, (_, i) => i + 2));
      assert.ok(read.messages.every((m) => m.type === 'after'));

      // A server that lost its storage: a new epoch, and a reader of the old one is told.
      await server.stop();
      await server.startAgain({ wipe: true });
      let lost = null;
      for (let i = 0; i < 100 && lost === null; i++) lost = await members.readHistory('chat_room', { epoch, offset: read.top }).catch(() => delay(50).then(() => null));
      assert.deepEqual({ recovered: lost!.recovered, top: lost!.top, fresh: lost!.epoch !== epoch }, { recovered: false, top: 0, fresh: true });
    } finally {
      unwatch();
      await members.close();
      await sender.close();
    }
  });

  test('a server without JetStream: history and lease calls fail with a clear LayerUnavailableError; channels and groups still work', async () => {
    const server = await OwnedNats.start({ jetstream: false });
    owned.push(server);
    const layer = new NatsChannelLayer({ servers: [server.url], prefix: 'sy-nojs', groupHistory: ['chat_*'], logger: recordingLogger(), requestTimeout: 1000 });
    try {
      const channel = await layer.newChannel();
      await layer.groupAdd('plain', channel);
      await layer.groupSend('plain', { type: 'works' });
      assert.equal((await layer.receive(channel)).type, 'works');
      await assert.rejects(layer.groupSend('chat_x', { type: 'kept' }), (error) => error instanceof LayerUnavailableError && /JetStream .* unavailable \(is the server started with -js\?\)/.test(error.message));
      await assert.rejects(layer.readHistory('chat_x', null), LayerUnavailableError);
      await assert.rejects(layer.lease('job', 1000), LayerUnavailableError);
      await layer.flush();
      assert.equal(await receiveWithin(layer, channel, 100), NOTHING, 'flush works without JetStream');
    } finally {
      await layer.close();
    }
  });
});

/** A chat client that has been welcomed. */
async function join(port: number, room: string): Promise<FrameClient> {
  const client = await frameClient(`ws://127.0.0.1:${port}/ws/chat/${room}/`);
  await client.next((f) => f.type === 'connection_established');
  return client;
}
const chatLines = (frames: Frame[], username: string) => frames.filter((f) => f.username === username && typeof f.message === 'string').map((f) => f.message);

describe('the chat demo on NATS (examples/chat/server.ts, unchanged, CHANNEL_LAYER_URL=nats://...)', () => {
  test('two server processes on one NATS: lines cross; then NATS restarted under live traffic: recovering clients get every accepted line once, in order', async (t) => {
    const server = await ownNats();
    const history = encodeURIComponent(JSON.stringify({ 'chat_*': { size: 1000, ttl: 300 } }));
    const url = `nats://127.0.0.1:${server.port}?groupHistory=${history}`;
    const [one, two] = await Promise.all([ChatProcess.start(url), ChatProcess.start(url)]);
    chats.push(one, two);

    // A line sent on one server reaches a client on the other, in order per sender.
    const a = await join(one.port, 'lobby');
    const b = await join(two.port, 'lobby');
    await delay(100);
    for (let i = 0; i < 10; i++) {
      a.ws.send(JSON.stringify({ message: `a-${i}`, username: 'alice' }));
      b.ws.send(JSON.stringify({ message: `b-${i}`, username: 'bob' }));
    }
    for (const client of [a, b]) {
      await until(() => chatLines(client.frames, 'alice').length >= 10 && chatLines(client.frames, 'bob').length >= 10, 5000,
        () => `all 20 lines on both; this client got ${JSON.stringify(client.frames)}; the servers said: ${one.running?.output()} | ${two.running?.output()}`);
      assert.deepEqual(chatLines(client.frames, 'alice'), Array.from({ length: 10 }, (_, i) => `a-${i}`));
      assert.deepEqual(chatLines(client.frames, 'bob'), Array.from({ length: 10 }, (_, i) => `b-${i}`));
    }
    a.ws.close();
    b.ws.close();

    // Recovering members on both servers, a sender on the second, NATS killed and restarted (storage kept).
    const room = (s: ChatProcess) => () => `ws://127.0.0.1:${s.port}/ws/chat/faults/`;
    const receivers = [0, 1, 2, 3].map((i) => new Member(room(i % 2 === 0 ? one : two), `m${i}`));
    const sender = new Member(room(two), 'sender');
    const everyone = [...receivers, sender];
    try {
      await until(() => everyone.every((m) => m.outcomes.length > 0), 15_000, 'every member joined');
      const sending = startSending(sender, 20);
      await delay(500);
      await server.stop();
      const down = Date.now();
      const ready = async () => (await fetch(`http://127.0.0.1:${one.port}/readyz`)).status;
      await until(async () => (await ready()) === 503, 5000, '/readyz to answer 503 while NATS is away');
      await delay(1000 - (Date.now() - down));
      await server.startAgain();
      const recoverMs = await allReached(everyone, sending.next(), 15_000);
      await until(async () => (await ready()) === 200, 5000, '/readyz to answer 200 again');
      await delay(500);
      const sent = await sending.stop();
      await allReached([sender], sent, 10_000).catch(() => {});
      await delay(500);
      const row = tally('nats', 'NATS kill -9, restart with storage', sender, receivers, sent, recoverMs);
      t.diagnostic(JSON.stringify(row));
      assert.ok(row.refused > 0, `lines sent while NATS was away were refused out loud: ${JSON.stringify(row)}`);
      assert.ok(row.accepted + row.refused >= sent - 1, `every line accepted or refused: ${JSON.stringify(row)}`);
      assert.equal(row.duplicates, 0, JSON.stringify(row));
      assert.equal(row.outOfOrder, 0, JSON.stringify(row));
      assert.equal(row.delivered, row.expected, `every accepted line at every receiver: ${JSON.stringify(row)}`);
      assert.equal(row.recoveredFalse, 0, JSON.stringify(row));
    } finally {
      for (const member of everyone) member.socket.close();
    }
  });
});
