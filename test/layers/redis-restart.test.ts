// Redis restarts empty (kill -9, started again on the same port): members that joined
// before the restart must receive a groupSend made after it within 3 s, on the core layer
// (memberships re-asserted by their process) and on the pub/sub layer (subscriptions
// restored); channels that left before or during the outage must not come back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { LayerUnavailableError, type ChannelLayer, type LayerMessage } from 'switchyard';
import { RedisChannelLayer, RedisPubSubChannelLayer, groupKey, pubsubGroupChannel } from 'switchyard/redis';
import { OwnedRedis } from '../helpers/redis-server.js';
import { recordingLogger } from '../helpers/logs.js';
import { delay } from '../helpers/time.js';
import { NOTHING, receiveWithin } from './conformance.js';

/** The bound of issue 13: old connections receive again within this many ms of Redis being back. */
const BOUND_MS = 3000;

/** Taps each channel of `layer` into one list of [channel, message]. */
function collect(layer: ChannelLayer, channels: string[]): Array<[string, LayerMessage]> {
  const got: Array<[string, LayerMessage]> = [];
  for (const channel of channels) {
    void (async () => {
      for (;;) {
        try {
          got.push([channel, await layer.receive(channel)]);
        } catch {
          return; // the layer closed
        }
      }
    })();
  }
  return got;
}

/**
 * Sends `{ type: 'after.restart', seq }` every 50 ms (failures while Redis is
 * away are retried) until every channel of `waitFor` got one; returns the ms
 * from `since` to that moment.
 */
async function sendUntilReceived(sender: ChannelLayer, group: string, got: Array<[string, LayerMessage]>, waitFor: string[], since: number): Promise<number> {
  for (let seq = 0; Date.now() - since < BOUND_MS + 2000; seq++) {
    await sender.groupSend(group, { type: 'after.restart', seq }).catch((error: unknown) => {
      if (!(error instanceof LayerUnavailableError)) throw error;
    });
    const reached = new Set(got.filter(([, message]) => message.type === 'after.restart').map(([channel]) => channel));
    if (waitFor.every((channel) => reached.has(channel))) return Date.now() - since;
    await delay(50);
  }
  assert.fail(`old members did not receive within ${BOUND_MS + 2000} ms; got ${JSON.stringify(got.map(([c, m]) => [c.slice(-6), m]))}`);
}

// A short outage, and one long enough for the reconnect backoff to reach its 2 s cap.
for (const [flavour, outageMs] of [['core', 300], ['pubsub', 300], ['core', 4000], ['pubsub', 4000]] as const) {
  test(`${flavour} layer: kill -9 Redis, ${outageMs} ms later restart it empty: old members receive again within ${BOUND_MS} ms; left ones do not`, async (t) => {
    const server = await OwnedRedis.start();
    const logs = recordingLogger();
    const make = (): ChannelLayer => flavour === 'core'
      ? new RedisChannelLayer({ hosts: [server.url], prefix: 'sy-restart-', logger: logs, connectTimeout: 500 })
      : new RedisPubSubChannelLayer({ hosts: [server.url], prefix: 'sy-restart-', logger: logs, connectTimeout: 500 });
    const members = make();
    const sender = make();
    const admin = new Redis(server.url, { maxRetriesPerRequest: 0 });
    admin.on('error', () => {});
    try {
      const [kept1, kept2, leftBefore, leftDuring] = [await members.newChannel(), await members.newChannel(), await members.newChannel(), await members.newChannel()];
      const [other, solo] = [await members.newChannel(), await members.newChannel()];
      for (const channel of [kept1, kept2, leftBefore, leftDuring]) await members.groupAdd('room', channel);
      await members.groupAdd('lobby', other);
      await members.groupAdd('gone', solo); // its only member leaves during the outage
      await members.groupDiscard('room', leftBefore);
      const got = collect(members, [kept1, kept2, leftBefore, leftDuring, other]);
      await sender.groupSend('room', { type: 'before' });
      await delay(200);
      assert.deepEqual(got.map(([channel]) => channel).sort(), [kept1, kept2, leftDuring].sort());

      await server.stop();
      // The consumer of leftDuring ends while Redis is away: the core layer's discard fails
      // (and must stick all the same); the pub/sub layer's is local and succeeds.
      for (const [group, channel] of [['room', leftDuring], ['gone', solo]] as const) {
        if (flavour === 'core') await assert.rejects(members.groupDiscard(group, channel), LayerUnavailableError);
        else await members.groupDiscard(group, channel);
      }
      await delay(outageMs);
      await server.startAgain();
      const back = Date.now();
      const took = await sendUntilReceived(sender, 'room', got, [kept1, kept2], back);
      t.diagnostic(`${flavour}, outage ${outageMs} ms: old members received ${took} ms after Redis was back`);
      assert.ok(took <= BOUND_MS, `old members received ${took} ms after Redis was back (bound ${BOUND_MS} ms)`);
      await sender.groupSend('lobby', { type: 'after.restart', seq: -1 });
      await delay(300);
      const receivers = new Set(got.filter(([, message]) => message.type === 'after.restart').map(([channel]) => channel));
      assert.deepEqual([...receivers].sort(), [kept1, kept2, other].sort(), 'the lobby member is back too; the channels that left are not');
      if (flavour === 'core') {
        assert.deepEqual((await admin.zrange(groupKey('sy-restart-', 'room'), '0', '-1')).sort(), [kept1, kept2].sort());
        assert.equal(await admin.exists(groupKey('sy-restart-', 'gone')), 0);
      } else {
        assert.deepEqual(await admin.call('PUBSUB', 'NUMSUB', pubsubGroupChannel('sy-restart-', 'gone')), [pubsubGroupChannel('sy-restart-', 'gone'), 0], 'the left group is not resubscribed');
        assert.deepEqual(await admin.call('PUBSUB', 'NUMSUB', pubsubGroupChannel('sy-restart-', 'room')), [pubsubGroupChannel('sy-restart-', 'room'), 1]);
        // Messages published during the outage are gone: the layer says so rather than losing them silently.
        assert.ok(logs.lines.some((line) => line.level === 'warn' && /reconnected: .* are lost/.test(line.message)), 'the loss is logged');
      }
      assert.equal(await receiveWithin(sender, await sender.newChannel(), 50), NOTHING);
    } finally {
      admin.disconnect();
      await members.close();
      await sender.close();
      await server.stop();
    }
  });
}

test('core layer over two shards (DBs 0 and 1 of one Redis): memberships on both are re-asserted after a restart', async (t) => {
  const server = await OwnedRedis.start();
  const hosts = [`redis://127.0.0.1:${server.port}/0`, `redis://127.0.0.1:${server.port}/1`];
  const make = () => new RedisChannelLayer({ hosts, prefix: 'sy-restart2-', logger: recordingLogger(), connectTimeout: 500 });
  const [members, sender] = [make(), make()];
  try {
    const names = Array.from({ length: 50 }, (_, i) => `room${i}`);
    const groups = [names.find((name) => members.shardFor(name) === 0)!, names.find((name) => members.shardFor(name) === 1)!];
    const channels = [await members.newChannel(), await members.newChannel()];
    for (let i = 0; i < 2; i++) await members.groupAdd(groups[i]!, channels[i]!);
    const got = collect(members, channels);
    await server.stop();
    await delay(300);
    await server.startAgain();
    const back = Date.now();
    for (let i = 0; i < 2; i++) {
      const took = await sendUntilReceived(sender, groups[i]!, got, [channels[i]!], back);
      assert.ok(took <= BOUND_MS, `the member of ${groups[i]} (shard ${i}) received ${took} ms after Redis was back`);
      t.diagnostic(`shard ${i}: received ${took} ms after Redis was back`);
    }
  } finally {
    await members.close();
    await sender.close();
    await server.stop();
  }
});
