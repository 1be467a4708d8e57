// The read-only accessor the admin samples groups with: ChannelLayer.localGroups()
// on every layer that has one (memory, Redis core, Redis pub/sub, NATS), through a
// DelegatingLayer too: the groups this process's channels are in, with those channels.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChannelLayer, DelegatingLayer, InMemoryChannelLayer } from 'switchyard';
import { RedisChannelLayer, RedisPubSubChannelLayer } from 'switchyard/redis';
import { NatsChannelLayer } from 'switchyard/nats';
import { TEST_REDIS_URL, guardRedisKeys } from '../helpers/redis-clean.js';

const PREFIX = `sy-admin-local-${process.pid}-`;

const layers: Array<[string, () => ChannelLayer]> = [
  ['memory', () => new InMemoryChannelLayer()],
  ['redis core', () => new RedisChannelLayer({ hosts: [TEST_REDIS_URL], prefix: PREFIX })],
  ['redis pub/sub', () => new RedisPubSubChannelLayer({ hosts: [TEST_REDIS_URL], prefix: PREFIX })],
  ['nats', () => new NatsChannelLayer({ servers: ['nats://127.0.0.1:4222'], prefix: `sy-admin-local-${process.pid}` })],
];

const view = (layer: ChannelLayer) =>
  Object.fromEntries([...layer.localGroups!()].map(([group, members]) => [group, [...members.keys()].sort()]));

for (const [name, make] of layers) {
  test(`${name}: localGroups() lists this process's members by group, and follows joins and leaves (also through a DelegatingLayer)`, async () => {
    const layer = make();
    try {
      const [a, b, c] = [await layer.newChannel(), await layer.newChannel(), await layer.newChannel()];
      await layer.groupAdd('g1', a);
      await layer.groupAdd('g1', b);
      await layer.groupAdd('g2', c);
      assert.deepEqual(view(layer), { g1: [a, b].sort(), g2: [c] });
      await layer.groupDiscard('g1', a);
      await layer.groupDiscard('g2', c);
      const wrapped = new DelegatingLayer(layer);
      assert.deepEqual(view(wrapped), { g1: [b] }); // an emptied group is gone
      await layer.groupDiscard('g1', b);
    } finally {
      await layer.flush();
      await layer.close();
    }
  });
}

test('a layer without localGroups stays without it behind a DelegatingLayer (the admin then reports groups as not available)', () => {
  const inner = new InMemoryChannelLayer();
  const without: ChannelLayer = {
    extensions: inner.extensions, expiry: inner.expiry,
    send: (channel, message) => inner.send(channel, message), receive: (channel, signal) => inner.receive(channel, signal),
    newChannel: (prefix) => inner.newChannel(prefix), groupAdd: (group, channel) => inner.groupAdd(group, channel),
    groupDiscard: (group, channel) => inner.groupDiscard(group, channel), groupSend: (group, message) => inner.groupSend(group, message),
    flush: () => inner.flush(), close: () => inner.close(),
  };
  assert.equal(new DelegatingLayer(without).localGroups, undefined);
  assert.equal(typeof new DelegatingLayer(inner).localGroups, 'function');
});

guardRedisKeys(PREFIX);
