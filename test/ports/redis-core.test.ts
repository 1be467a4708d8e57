// Ports of channels_redis tests/test_core.py (spec §3.2) that test/layers covers only in part:
// ten hosts (db 0-9 of one Redis, as channels_redis's MULTIPLE_TEST_HOSTS), the group-send timing
// bound, the "1 of 2 channels over capacity" log, and per-channel expiry with mixed sends.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { RedisChannelLayer } from 'switchyard/redis';
import { abortAfter, delay } from '../helpers/time.js';
import { guardRedisKeys } from '../helpers/redis-clean.js';
import { recordingLogger } from '../helpers/logs.js';

const MULTIPLE_TEST_HOSTS = Array.from({ length: 10 }, (_, db) => `redis://127.0.0.1:6379/${db}`);
let prefixes = 0;
const opened: RedisChannelLayer[] = [];
function layer(options: ConstructorParameters<typeof RedisChannelLayer>[0] = {}): RedisChannelLayer {
  const made = new RedisChannelLayer({ hosts: ['redis://127.0.0.1:6379/0'], prefix: `sy-ports-${process.pid}-${++prefixes}-`, ...options });
  opened.push(made);
  return made;
}
after(async () => {
  for (const each of opened) {
    await each.flush().catch(() => {});
    await each.close();
  }
});
const timesOut = (promise: Promise<unknown>) => assert.rejects(promise, /timed out/);

test('test_groups_multiple_hosts', async () => {
  const l = layer({ hosts: MULTIPLE_TEST_HOSTS, capacity: 100 });
  const one = await l.newChannel('channel1');
  const two = await l.newChannel('channel2');
  const three = await l.newChannel('channel3');
  await l.groupAdd('test-group', one);
  await l.groupAdd('test-group', two);
  await l.groupAdd('test-group', three);
  await l.groupDiscard('test-group', two);
  await l.groupSend('test-group', { type: 'message.1' });
  await l.groupSend('test-group', { type: 'message.1' });
  assert.equal((await l.receive(one, abortAfter(1000))).type, 'message.1');
  assert.equal((await l.receive(three, abortAfter(1000))).type, 'message.1');
  await timesOut(l.receive(two, abortAfter(1000)));
});

for (const [numChannels, timeout] of [[1, 1], [10, 1], [100, 10]] as const) {
  test(`test_groups_multiple_hosts_performance[${numChannels}-${timeout}]`, async () => {
    const l = layer({ hosts: MULTIPLE_TEST_HOSTS, capacity: 100 });
    const channels: string[] = [];
    for (let i = 0; i < numChannels; i++) {
      const channel = await l.newChannel(`channel${i}`);
      await l.groupAdd('test-group', channel);
      channels.push(channel);
    }
    let started = Date.now();
    await l.groupSend('test-group', { type: 'message.1' });
    assert.ok(Date.now() - started < timeout * 1000, `groupSend took ${Date.now() - started} ms`);
    started = Date.now();
    for (const channel of channels) assert.equal((await l.receive(channel, abortAfter(timeout * 1000))).type, 'message.1');
    assert.ok(Date.now() - started < timeout * 1000, `receiving took ${Date.now() - started} ms`);
  });
}

test('test_group_send_capacity_multiple_channels: 3 + (1 pre-filled + 2); INFO "1 of 2 channels over capacity in group test-group"', async () => {
  const logger = recordingLogger();
  const l = layer({ capacity: 3, channelCapacity: { tiny: 1 }, logger });
  const one = await l.newChannel();
  const two = await l.newChannel('channel_2');
  await l.groupAdd('test-group', one);
  await l.groupAdd('test-group', two);
  await l.send(two, { type: 'message.0' });
  for (const type of ['message.1', 'message.2', 'message.3']) await l.groupSend('test-group', { type });
  for (const type of ['message.1', 'message.2', 'message.3']) assert.equal((await l.receive(one, abortAfter(1000))).type, type);
  for (const type of ['message.0', 'message.1', 'message.2']) assert.equal((await l.receive(two, abortAfter(1000))).type, type);
  await timesOut(l.receive(two, abortAfter(1000)));
  assert.deepEqual(logger.lines, [{ level: 'info', message: '1 of 2 channels over capacity in group test-group' }]);
});

test('test_message_expiry__group_send__one_channel_expires_message (times scaled: expiry 2 s, delay 0.4 s)', async () => {
  const l = layer({ expiry: 2 });
  const one = await l.newChannel();
  const two = await l.newChannel('channel_2');
  await l.groupAdd('test-group', one);
  await l.groupAdd('test-group', two);
  // Channel one gets one more message, which will have expired by the time it is read.
  await l.send(one, { type: 'test.message', text: 'Zero!' });
  await delay(1400);
  for (const text of ['First!', 'Second!', 'Third!']) {
    await l.groupSend('test-group', { type: 'test.message', text });
    if (text !== 'Third!') await delay(400);
  }
  for (const text of ['First!', 'Second!', 'Third!']) assert.deepEqual(await l.receive(one, abortAfter(1000)), { type: 'test.message', text });
  await timesOut(l.receive(one, abortAfter(300)));
  for (const text of ['First!', 'Second!', 'Third!']) assert.deepEqual(await l.receive(two, abortAfter(1000)), { type: 'test.message', text });
});

guardRedisKeys(`sy-ports-${process.pid}-`);
