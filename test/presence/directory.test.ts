// Group members and a channel's groups (issue 14: Socket.IO's fetchSockets / socket.rooms):
// local at once, cluster-wide through the presence replicas with a bounded wait, on the
// in-memory layer and across two Redis pub/sub "processes" (two layer instances).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { DelegatingLayer, ImproperlyConfigured, InMemoryChannelLayer, type ChannelLayer } from 'switchyard';
import { RedisPubSubChannelLayer } from 'switchyard/redis';
import { Presence } from 'switchyard/presence';
import { guardRedisKeys } from '../helpers/redis-clean.js';
import { until } from '../helpers/time.js';

const PREFIX = `sy-directory-${process.pid}-`;
const closing: Array<() => Promise<void>> = [];
after(async () => {
  for (const close of closing.reverse()) await close();
});
guardRedisKeys(PREFIX);

const sorted = (names: string[]) => [...names].sort();

test('one process: the members of a group and the groups of a channel, at once and complete', async () => {
  const layer = new InMemoryChannelLayer();
  const presence = new Presence({ layer });
  closing.push(() => presence.close());
  const [a, b, c] = [await layer.newChannel(), await layer.newChannel(), await layer.newChannel()];
  for (const channel of [a, b]) await layer.groupAdd('room', channel);
  await layer.groupAdd('other', a);
  assert.deepEqual({ ...(await presence.groupMembers('room')), names: sorted((await presence.groupMembers('room')).names) },
    { names: sorted([a, b]), total: 2, processes: 1, complete: true });
  assert.deepEqual(sorted((await presence.groupsOf(a)).names), ['other', 'room']);
  assert.deepEqual((await presence.groupsOf(c)).names, []);
  assert.deepEqual((await presence.groupMembers('nobody')).total, 0);
  const cut = await presence.groupMembers('room', { limit: 1 });
  assert.deepEqual([cut.names.length, cut.total, cut.complete], [1, 2, false], 'a cut list says so');
  await assert.rejects(presence.groupMembers('not a group!'), /Group name must be a valid/);
  await assert.rejects(presence.groupMembers('room', { timeoutMs: -1 }), /timeoutMs must be from 0 to 60000/);
});

test('a layer that keeps no record of its memberships: a clear error', async () => {
  class Opaque extends DelegatingLayer {}
  const layer = new Opaque(new InMemoryChannelLayer());
  (layer as { localGroups?: unknown }).localGroups = undefined;
  await assert.rejects(new Presence({ layer }).groupMembers('room'), (error: unknown) =>
    error instanceof ImproperlyConfigured && /keeps no record of its memberships/.test(error.message));
});

test('two processes on Redis: members from both, answered as soon as every replica has; a silent one bounds the wait', async () => {
  const make = (): ChannelLayer => {
    const layer = new RedisPubSubChannelLayer({ hosts: ['redis://127.0.0.1:6379/0'], prefix: PREFIX });
    closing.push(async () => { await layer.flush(); await layer.close(); });
    return layer;
  };
  const [la, lb, lc] = [make(), make(), make()];
  const [pa, pb, pc] = [la, lb, lc].map((layer) => new Presence({ layer, heartbeatInterval: 100, replicaTimeout: 5000 })) as [Presence, Presence, Presence];
  closing.push(() => pa.close(), () => pb.close());
  await Promise.all([pa.start(), pb.start(), pc.start()]);
  await until(() => pa.peers.length === 2, 5000, 'replica A knows B and C');
  const here = [await la.newChannel(), await la.newChannel()];
  const there = [await lb.newChannel(), await lb.newChannel(), await lb.newChannel()];
  for (const channel of [...here, ...there]) await (here.includes(channel) ? la : lb).groupAdd('chat_lobby', channel);
  await lb.groupAdd('chat_other', there[0]!);

  await pc.close({ graceful: false }); // C goes silent: A still counts on it until its replicaTimeout
  const started = performance.now();
  const partial = await pa.groupMembers('chat_lobby', { timeoutMs: 300 });
  const waited = performance.now() - started;
  assert.deepEqual([sorted(partial.names), partial.total, partial.processes, partial.complete], [sorted([...here, ...there]), 5, 2, false]);
  assert.ok(waited >= 290, `waited for the silent replica until the timeout (${waited.toFixed(0)} ms)`);

  const b = await pb.groupsOf(there[0]!, { timeoutMs: 2000 });
  assert.deepEqual(sorted(b.names), ['chat_lobby', 'chat_other'], 'the groups of a channel of this process');
  const fromA = await pa.groupsOf(there[0]!, { timeoutMs: 300 });
  assert.deepEqual(sorted(fromA.names), ['chat_lobby', 'chat_other'], 'and of a channel of another process');
});

test('every replica answered: no wait for the timeout', async () => {
  const make = (): ChannelLayer => {
    const layer = new RedisPubSubChannelLayer({ hosts: ['redis://127.0.0.1:6379/0'], prefix: `${PREFIX}fast-` });
    closing.push(async () => { await layer.flush(); await layer.close(); });
    return layer;
  };
  const [la, lb] = [make(), make()];
  const [pa, pb] = [new Presence({ layer: la, heartbeatInterval: 100 }), new Presence({ layer: lb, heartbeatInterval: 100 })];
  closing.push(() => pa.close(), () => pb.close());
  await Promise.all([pa.start(), pb.start()]);
  await until(() => pa.peers.length === 1, 5000, 'A knows B');
  await lb.groupAdd('room', await lb.newChannel());
  const started = performance.now();
  const answer = await pa.groupMembers('room', { timeoutMs: 10_000 });
  assert.deepEqual([answer.total, answer.processes, answer.complete], [1, 2, true]);
  assert.ok(performance.now() - started < 5000, 'answered long before the 10 s bound');
});
