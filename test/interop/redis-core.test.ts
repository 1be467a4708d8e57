// Interop with real Django Channels (Debian channels 4.0.0 + channels_redis 4.0.0)
// on the core Redis layer: both directions, direct and group sends, a Django
// consumer and a channels Worker, plain, encrypted with rotated keys, and
// sharded over two Redis hosts (two databases).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { LayerLogger } from 'switchyard/redis';
import { RedisChannelLayer } from 'switchyard/redis';
import { OwnedRedis, OwnedSentinel } from '../helpers/redis-server.js';
import { DjangoPeer, bytes } from './peer.js';
import { HISTORY_BESIDE_DJANGO, historyBesideDjango } from './history.js';
import { guardRedisKeys } from '../helpers/redis-clean.js';

interface Setup {
  name: string;
  hosts: string[];
  nodeKeys?: string[];
  pythonKeys?: string[];
}

const SETUPS: Setup[] = [
  { name: 'plain', hosts: ['redis://127.0.0.1:6379/0'] },
  { name: 'encrypted, keys rotated', hosts: ['redis://127.0.0.1:6379/0'], nodeKeys: ['key-2026', 'key-2025'], pythonKeys: ['key-2025', 'key-2026'] },
  { name: 'two Redis hosts', hosts: ['redis://127.0.0.1:6379/6', 'redis://127.0.0.1:6379/7'] },
  { name: 'two Redis hosts, encrypted', hosts: ['redis://127.0.0.1:6379/6', 'redis://127.0.0.1:6379/7'], nodeKeys: ['k1'], pythonKeys: ['k1'] },
];

for (const setup of SETUPS) {
  describe(`core layer interop with Django Channels: ${setup.name}`, () => {
    const prefix = `sy-interop-core-${process.pid}-${SETUPS.indexOf(setup)}-`;
    let peer: DjangoPeer;
    let node: RedisChannelLayer;
    const warnings: string[] = [];
    const logger: LayerLogger = { debug() {}, info() {}, warn: (_f, m) => void warnings.push(m), error: (_f, m) => void warnings.push(m) };

    before(async () => {
      node = new RedisChannelLayer({ hosts: setup.hosts, prefix, symmetricEncryptionKeys: setup.nodeKeys, logger });
      peer = await DjangoPeer.start({ backend: 'core', hosts: setup.hosts, prefix, symmetric_encryption_keys: setup.pythonKeys });
    });
    after(async () => {
      await peer.stop();
      await node.flush();
      await node.close();
    });

    test('Python send → a Switchyard channel (str, bytes, ints, floats, lists, maps)', async () => {
      const channel = await node.newChannel();
      await peer.call('send', {
        channel,
        message: { type: 'chat.message', text: 'héllo ☃', raw: bytes('000102ff'), n: 42, big: 2 ** 40, f: 1.5, list: [1, 'a', null], nested: { ok: true }, pair: { __tuple__: [1, 2] } },
      });
      const message = await node.receive(channel, AbortSignal.timeout(5000));
      assert.deepEqual(message, {
        type: 'chat.message', text: 'héllo ☃', raw: Buffer.from('000102ff', 'hex'), n: 42, big: 2 ** 40, f: 1.5, list: [1, 'a', null], nested: { ok: true }, pair: [1, 2],
      });
      assert.deepEqual(warnings, []);
    });

    test('Python group_send → a group holding a Switchyard channel and a Django consumer: both receive', async () => {
      const mine = await node.newChannel();
      await node.groupAdd('room-py', mine);
      const theirs = await peer.call<string>('consumer', { group: 'room-py' });
      assert.match(theirs, /^specific\.[0-9a-f]{32}![0-9a-f]{32}$/);
      await peer.call('group_send', { group: 'room-py', message: { type: 'chat.message', text: 'from django' } });
      assert.deepEqual(await node.receive(mine, AbortSignal.timeout(5000)), { type: 'chat.message', text: 'from django' });
      assert.deepEqual(await peer.consumerEvent(theirs), { type: 'chat.message', text: 'from django' });
    });

    test('Switchyard send → a Django consumer channel and a channels Worker channel', async () => {
      const theirs = await peer.call<string>('consumer', {});
      await node.send(theirs, { type: 'chat.message', text: 'from node', raw: Buffer.from([0, 1, 2]), f: 1.5, n: 2 ** 40, neg: -7 });
      assert.deepEqual(await peer.consumerEvent(theirs), { type: 'chat.message', text: 'from node', raw: bytes('000102'), f: 1.5, n: 2 ** 40, neg: -7 });
      assert.equal(await peer.call('worker', { channel: 'worker-tasks' }), 'started');
      // General channels are written round robin over the shards and channels_redis reads one shard
      // per receive call, so with several hosts the order across shards is not kept: compare as sets.
      await node.send('worker-tasks', { type: 'task.run', id: 7 });
      await node.send('worker-tasks', { type: 'task.run', id: 8 });
      const tasks = [await peer.consumerEvent('worker'), await peer.consumerEvent('worker')];
      assert.deepEqual(tasks.map((task) => task?.id).sort(), [7, 8]);
    });

    test('Switchyard groupSend → Django consumers and Switchyard members of one group', async () => {
      const [a, b] = [await peer.call<string>('consumer', { group: 'room-node' }), await peer.call<string>('consumer', { group: 'room-node' })];
      const mine = [await node.newChannel(), await node.newChannel()];
      for (const channel of mine) await node.groupAdd('room-node', channel);
      await node.groupSend('room-node', { type: 'chat.message', text: 'from node to all' });
      for (const theirs of [a, b]) assert.deepEqual(await peer.consumerEvent(theirs), { type: 'chat.message', text: 'from node to all' });
      const received = await Promise.all(mine.map((channel) => node.receive(channel, AbortSignal.timeout(5000))));
      assert.equal(received[0], received[1], 'one decoded object for both local members');
    });

    test('cross-language group_add: Django adds a Switchyard channel, Switchyard adds a Django channel', async () => {
      const mine = await node.newChannel();
      const theirs = await peer.call<string>('consumer', {});
      await peer.call('group_add', { group: 'mixed', channel: mine });
      await node.groupAdd('mixed', theirs);
      await node.groupSend('mixed', { type: 'chat.message', text: 'one' });
      await peer.call('group_send', { group: 'mixed', message: { type: 'chat.message', text: 'two' } });
      for (const text of ['one', 'two']) {
        assert.deepEqual(await node.receive(mine, AbortSignal.timeout(5000)), { type: 'chat.message', text });
        assert.deepEqual(await peer.consumerEvent(theirs), { type: 'chat.message', text });
      }
      await peer.call('group_discard', { group: 'mixed', channel: mine });
      await node.groupSend('mixed', { type: 'chat.message', text: 'three' });
      assert.deepEqual(await peer.consumerEvent(theirs), { type: 'chat.message', text: 'three' });
      await assert.rejects(node.receive(mine, AbortSignal.timeout(300)));
    });

    test('Switchyard sends to a Python-received channel arrive in send order', async () => {
      const theirs = await peer.call<string>('new_channel');
      for (let i = 0; i < 20; i++) await node.send(theirs, { type: 'seq', i });
      for (let i = 0; i < 20; i++) assert.deepEqual(await peer.call('receive', { channel: theirs, timeout: 5 }), { type: 'seq', i });
    });

    test('Python sends to a Switchyard general channel and Switchyard to a Python general channel', async () => {
      await peer.call('send', { channel: 'node-tasks', message: { type: 'task.run', id: 1 } });
      assert.deepEqual(await node.receive('node-tasks', AbortSignal.timeout(5000)), { type: 'task.run', id: 1 });
      await node.send('py-tasks', { type: 'task.run', id: 2 });
      await node.send('py-tasks', { type: 'task.run', id: 3 });
      const got = [await peer.call<{ id: number }>('receive', { channel: 'py-tasks', timeout: 5 }), await peer.call<{ id: number }>('receive', { channel: 'py-tasks', timeout: 5 })];
      assert.deepEqual(got.map((message) => message.id).sort(), [2, 3]);
    });
  });
}

describe('core layer interop: a member Switchyard cannot decrypt is skipped, not fatal', () => {
  test('a Django sender with an unknown key: logged and skipped; the next message arrives', async () => {
    const prefix = `sy-interop-core-${process.pid}-poison-`;
    const warnings: string[] = [];
    const logger: LayerLogger = { debug() {}, info() {}, warn: (_f, m) => void warnings.push(m), error() {} };
    const node = new RedisChannelLayer({ prefix, symmetricEncryptionKeys: ['shared'], logger });
    const stranger = await DjangoPeer.start({ backend: 'core', hosts: ['redis://127.0.0.1:6379/0'], prefix, symmetric_encryption_keys: ['unknown'] });
    const friend = await DjangoPeer.start({ backend: 'core', hosts: ['redis://127.0.0.1:6379/0'], prefix, symmetric_encryption_keys: ['shared'] });
    try {
      const channel = await node.newChannel();
      await stranger.call('send', { channel, message: { type: 'bad' } });
      await friend.call('send', { channel, message: { type: 'good' } });
      assert.deepEqual(await node.receive(channel, AbortSignal.timeout(5000)), { type: 'good' });
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]!, /cannot be decoded/);
    } finally {
      await Promise.all([stranger.stop(), friend.stop()]);
      await node.flush();
      await node.close();
    }
  });
});

describe('core layer interop through Redis Sentinel (channels_redis host entries)', () => {
  test('one Sentinel host entry works for both; messages cross both ways', async () => {
    const master = await OwnedRedis.start();
    const sentinel = await OwnedSentinel.start(master, 'sy-master');
    const host = { sentinels: [['127.0.0.1', sentinel.port]], master_name: 'sy-master' };
    const node = new RedisChannelLayer({ hosts: [host as never], prefix: 'sy-sentinel-' });
    const peer = await DjangoPeer.start({ backend: 'core', hosts: [host as never], prefix: 'sy-sentinel-' });
    try {
      assert.deepEqual(node.hosts, ['sentinel:sy-master/0']);
      const mine = await node.newChannel();
      await peer.call('send', { channel: mine, message: { type: 'via.sentinel', from: 'django' } });
      assert.deepEqual(await node.receive(mine, AbortSignal.timeout(5000)), { type: 'via.sentinel', from: 'django' });
      const theirs = await peer.call<string>('consumer', { group: 'watched' });
      await node.groupSend('watched', { type: 'chat.message', from: 'node' });
      assert.deepEqual(await peer.consumerEvent(theirs), { type: 'chat.message', from: 'node' });
    } finally {
      await peer.stop();
      await node.close();
      await sentinel.stop();
      await master.stop();
    }
  });
});

describe('core layer interop: group history (groupHistory) beside Django', () => {
  test(HISTORY_BESIDE_DJANGO, () => historyBesideDjango('core', (prefix) => new RedisChannelLayer({ prefix, groupHistory: ['chat_*'] })));
});

// DB 0 only: the two-host setups also use DBs 6 and 7, where flush() deletes the prefix too.
guardRedisKeys(`sy-interop-core-${process.pid}-`);
