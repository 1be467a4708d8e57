// Interop with real Django Channels (Debian channels 4.0.0 + channels_redis 4.0.0)
// on the pub/sub Redis layer, both ways: direct sends, group sends reaching a
// Django consumer and a Switchyard channel, a channels Worker, and two hosts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RedisPubSubChannelLayer } from 'switchyard/redis';
import { delay } from '../helpers/time.js';
import { DjangoPeer, bytes } from './peer.js';
import { HISTORY_BESIDE_DJANGO, historyBesideDjango } from './history.js';
import { guardRedisKeys } from '../helpers/redis-clean.js';

const SETUPS = [
  { name: 'one host', hosts: ['redis://127.0.0.1:6379/0'] },
  { name: 'two Redis hosts', hosts: ['redis://127.0.0.1:6379/6', 'redis://127.0.0.1:6379/7'] },
];

for (const setup of SETUPS) {
  describe(`pub/sub layer interop with Django Channels: ${setup.name}`, () => {
    const prefix = `sy-interop-ps-${process.pid}-${SETUPS.indexOf(setup)}-`;
    let peer: DjangoPeer;
    let node: RedisPubSubChannelLayer;

    before(async () => {
      node = new RedisPubSubChannelLayer({ hosts: setup.hosts, prefix });
      peer = await DjangoPeer.start({ backend: 'pubsub', hosts: setup.hosts, prefix });
    });
    after(async () => {
      await peer.stop();
      await node.close();
    });

    test('Python send → a Switchyard channel', async () => {
      const channel = await node.newChannel();
      assert.ok(channel.startsWith(`${prefix}specific.`));
      await peer.call('send', { channel, message: { type: 'chat.message', text: 'héllo', raw: bytes('00ff'), n: 2 ** 40, f: 0.5 } });
      assert.deepEqual(await node.receive(channel, AbortSignal.timeout(5000)), {
        type: 'chat.message', text: 'héllo', raw: Buffer.from('00ff', 'hex'), n: 2 ** 40, f: 0.5,
      });
    });

    test('Switchyard send → a Django consumer channel and a Python-received channel', async () => {
      const consumer = await peer.call<string>('consumer', {});
      assert.ok(consumer.startsWith(`${prefix}specific.`));
      await node.send(consumer, { type: 'chat.message', text: 'from node', raw: Buffer.from([1, 2]) });
      assert.deepEqual(await peer.consumerEvent(consumer), { type: 'chat.message', text: 'from node', raw: bytes('0102') });
      const theirs = await peer.call<string>('new_channel');
      const pending = peer.call('receive', { channel: theirs, timeout: 5 });
      await delay(100);
      await node.send(theirs, { type: 'direct', i: 1 });
      assert.deepEqual(await pending, { type: 'direct', i: 1 });
    });

    test('Python group_send → a Django consumer and a Switchyard channel in one group', async () => {
      const mine = await node.newChannel();
      await node.groupAdd('room-py', mine);
      const consumer = await peer.call<string>('consumer', { group: 'room-py' });
      await peer.call('group_send', { group: 'room-py', message: { type: 'chat.message', text: 'from django' } });
      assert.deepEqual(await node.receive(mine, AbortSignal.timeout(5000)), { type: 'chat.message', text: 'from django' });
      assert.deepEqual(await peer.consumerEvent(consumer), { type: 'chat.message', text: 'from django' });
    });

    test('Switchyard groupSend → Django consumers and Switchyard members', async () => {
      const consumers = [await peer.call<string>('consumer', { group: 'room-node' }), await peer.call<string>('consumer', { group: 'room-node' })];
      const mine = [await node.newChannel(), await node.newChannel()];
      for (const channel of mine) await node.groupAdd('room-node', channel);
      await node.groupSend('room-node', { type: 'chat.message', text: 'from node to all' });
      for (const consumer of consumers) assert.deepEqual(await peer.consumerEvent(consumer), { type: 'chat.message', text: 'from node to all' });
      const received = await Promise.all(mine.map((channel) => node.receive(channel, AbortSignal.timeout(5000))));
      assert.equal(received[0], received[1]);
    });

    test('Switchyard send → a channels Worker channel; Python send → a Switchyard general channel', async () => {
      assert.equal(await peer.call('worker', { channel: 'worker-tasks' }), 'started');
      await node.send('worker-tasks', { type: 'task.run', id: 7 });
      assert.deepEqual(await peer.consumerEvent('worker'), { type: 'task.run', id: 7 });
      const pending = node.receive('node-tasks', AbortSignal.timeout(5000));
      await delay(100);
      await peer.call('send', { channel: 'node-tasks', message: { type: 'task.run', id: 8 } });
      assert.deepEqual(await pending, { type: 'task.run', id: 8 });
    });
  });
}

describe('pub/sub layer interop: group history (groupHistory) beside Django', () => {
  test(HISTORY_BESIDE_DJANGO, () => historyBesideDjango('pubsub', (prefix) => new RedisPubSubChannelLayer({ prefix, groupHistory: ['chat_*'] })));
});

guardRedisKeys(`sy-interop-ps-${process.pid}-`);
