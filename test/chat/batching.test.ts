// The chat room with group batching on (`groupBatching=chat_*` on the layer URL): the room's
// lines travel in bulk_messages batches, and every client still gets the seeds' frames, one
// per line, in order; nothing in the consumer changes.
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DelegatingLayer, GroupBatchingLayer, InMemoryChannelLayer, URLRouter, buildChannelLayer, configureChannelLayers,
  resetChannelLayers, type LayerMessage,
} from 'switchyard';
import { WebsocketCommunicator } from 'switchyard/testing';
import { websocketUrlPatterns } from '../../examples/chat/routing.js';

const application = URLRouter(websocketUrlPatterns);
afterEach(() => resetChannelLayers());

/** Counts what reaches the backend, which takes a millisecond per send (as a Redis round trip does). */
class Counting extends DelegatingLayer {
  batches = 0;
  singles = 0;
  override async groupSend(group: string, message: LayerMessage): Promise<void> {
    if (message.type === 'bulk_messages') this.batches++;
    else this.singles++;
    await new Promise((resolve) => setTimeout(resolve, 1));
    return super.groupSend(group, message);
  }
}

async function join(room: string): Promise<WebsocketCommunicator> {
  const client = new WebsocketCommunicator(application, `/ws/chat/${room}/`);
  assert.equal((await client.connect()).connected, true);
  assert.deepEqual(await client.receiveJsonFrom(), { type: 'connection_established', message: 'Connected to chat room' });
  return client;
}

test('three members send 10 lines each at once: the lines go in batches; every member reads the seeds\' frames, all 30, in one order', async () => {
  const backend = new Counting(new InMemoryChannelLayer());
  configureChannelLayers({ default: new GroupBatchingLayer(backend, { groups: { 'chat_*': { maxMessages: 10, maxDelayMs: 5 } } }) });
  const members = [await join('busy'), await join('busy'), await join('busy')];
  for (let n = 0; n < 10; n++) for (const [i, member] of members.entries()) await member.sendJsonTo({ message: `${i}:${n}`, username: `u${i}` });
  const seen: string[][] = [];
  for (const member of members) {
    const lines: string[] = [];
    for (let k = 0; k < 30; k++) {
      const frame = await member.receiveJsonFrom() as { message: string; username: string };
      assert.deepEqual(Object.keys(frame), ['message', 'username'], 'the seeds\' frame');
      lines.push(frame.message);
    }
    assert.equal(await member.receiveNothing(50), true);
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(lines.filter((line) => line.startsWith(`${i}:`)), Array.from({ length: 10 }, (_, n) => `${i}:${n}`), 'each sender\'s lines in order');
    }
    seen.push(lines);
  }
  assert.deepEqual(seen[1], seen[0], 'every member reads the same order');
  assert.deepEqual(seen[2], seen[0]);
  assert.ok(backend.batches > 0, `the lines travelled in batches (${backend.batches} batches, ${backend.singles} alone)`);
  assert.ok(backend.batches + backend.singles < 30, `fewer layer sends than lines (${backend.batches + backend.singles})`);
  for (const member of members) await member.disconnect();
});

test('the option on the layer URL: the room works unchanged', async () => {
  configureChannelLayers({ default: buildChannelLayer('memory://?groupBatching=chat_*') });
  const [alice, bob] = [await join('url'), await join('url')];
  await alice.sendJsonTo({ message: 'hi', username: 'alice' });
  assert.deepEqual(await bob.receiveJsonFrom(), { message: 'hi', username: 'alice' });
  assert.deepEqual(await alice.receiveJsonFrom(), { message: 'hi', username: 'alice' });
  await alice.disconnect();
  await bob.disconnect();
});
