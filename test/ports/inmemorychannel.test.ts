// Line-by-line ports of django/channels tests/test_inmemorychannel.py and the in-memory
// test_send_receive of tests/test_layers.py (spec §3.1). Django also asserts on the private
// `channel_layer.channels` dict (a queue is removed once empty or expired); our layer keeps
// that state private, so those lines are ported as the observable behaviour only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChannelFull, InMemoryChannelLayer } from 'switchyard';
import { abortAfter, delay } from '../helpers/time.js';

const layer = () => new InMemoryChannelLayer({ capacity: 3 });
const timesOut = (promise: Promise<unknown>) => assert.rejects(promise, /timed out/);

test('test_layers.py test_send_receive: a round trip equals the original message', async () => {
  const l = new InMemoryChannelLayer();
  const message = { type: 'test.message' };
  await l.send('test.channel', message);
  assert.deepEqual(await l.receive('test.channel'), message);
});

test('test_send_receive', async () => {
  const l = layer();
  await l.send('test-channel-1', { type: 'test.message', text: 'Ahoy-hoy!' });
  await l.send('test-channel-1', { type: 'test.message', text: 'Ahoy-hoy!' });
  assert.deepEqual(await l.receive('test-channel-1'), { type: 'test.message', text: 'Ahoy-hoy!' });
  assert.deepEqual(await l.receive('test-channel-1'), { type: 'test.message', text: 'Ahoy-hoy!' });
  await timesOut(l.receive('test-channel-1', abortAfter(50)));
});

test('test_race_empty', async () => {
  const l = layer();
  const receiving = l.receive('test-channel-1');
  await delay(100);
  await l.send('test-channel-1', { type: 'test.message', text: 'Ahoy-hoy!' });
  await delay(100);
  assert.deepEqual(await receiving, { type: 'test.message', text: 'Ahoy-hoy!' });
});

test('test_send_capacity', async () => {
  const l = layer();
  for (let i = 0; i < 3; i++) await l.send('test-channel-1', { type: 'test.message' });
  await assert.rejects(l.send('test-channel-1', { type: 'test.message' }), ChannelFull);
});

test('test_process_local_send_receive', async () => {
  const l = layer();
  const channel = await l.newChannel();
  await l.send(channel, { type: 'test.message', text: 'Local only please' });
  assert.deepEqual(await l.receive(channel), { type: 'test.message', text: 'Local only please' });
});

test('test_multi_send_receive', async () => {
  const l = layer();
  for (const type of ['message.1', 'message.2', 'message.3']) await l.send('test-channel-3', { type });
  for (const type of ['message.1', 'message.2', 'message.3']) assert.equal((await l.receive('test-channel-3')).type, type);
});

test('test_groups_basic', async () => {
  const l = layer();
  await l.groupAdd('test-group', 'test-gr-chan-1');
  await l.groupAdd('test-group', 'test-gr-chan-2');
  await l.groupAdd('test-group', 'test-gr-chan-3');
  await l.groupDiscard('test-group', 'test-gr-chan-2');
  await l.groupSend('test-group', { type: 'message.1' });
  assert.equal((await l.receive('test-gr-chan-1', abortAfter(1000))).type, 'message.1');
  assert.equal((await l.receive('test-gr-chan-3', abortAfter(1000))).type, 'message.1');
  await timesOut(l.receive('test-gr-chan-2', abortAfter(200)));
});

test('test_groups_channel_full', async () => {
  const l = layer();
  await l.groupAdd('test-group', 'test-gr-chan-1');
  for (let i = 0; i < 5; i++) await l.groupSend('test-group', { type: 'message.1' });
});

test('test_expiry_single', async () => {
  const l = new InMemoryChannelLayer({ expiry: 0.1 });
  await l.send('test-channel-1', { type: 'message.1' });
  await delay(110);
  await timesOut(l.receive('test-channel-1', abortAfter(500)));
});

test('test_expiry_unread: an expired message on a channel nobody reads is gone, and that channel left its groups', async () => {
  const l = new InMemoryChannelLayer({ expiry: 0.1 });
  await l.groupAdd('test-group', 'test-channel-1');
  await l.groupAdd('test-group', 'test-channel-2'); // added: a member that reads, which stays in the group
  await l.send('test-channel-1', { type: 'message.1' });
  await delay(110);
  await l.send('test-channel-2', { type: 'message.2' });
  assert.equal((await l.receive('test-channel-2')).type, 'message.2');
  await l.groupSend('test-group', { type: 'group.message' });
  assert.equal((await l.receive('test-channel-2', abortAfter(1000))).type, 'group.message');
  await timesOut(l.receive('test-channel-1', abortAfter(200)));
});

test('test_expiry_multi', async () => {
  const l = new InMemoryChannelLayer({ expiry: 0.1 });
  await l.send('test-channel-1', { type: 'message.1' });
  await l.send('test-channel-1', { type: 'message.2' });
  await l.send('test-channel-1', { type: 'message.3' });
  assert.equal((await l.receive('test-channel-1')).type, 'message.1');
  await delay(110);
  await l.send('test-channel-1', { type: 'message.4' });
  assert.equal((await l.receive('test-channel-1')).type, 'message.4');
  // The second and third messages expired and were dropped.
  await timesOut(l.receive('test-channel-1', abortAfter(500)));
});
