// Presence over the in-memory layer: several replicas in one process stand for several processes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InMemoryChannelLayer } from 'switchyard';
import { Presence, PresenceClosed, PresenceNotFound, type PresenceChange } from 'switchyard/presence';
import { delay, until } from '../helpers/time.js';

const keys = (p: Presence, topic: string) => Object.keys(p.list(topic)).sort();

test('track, list, untrack on one replica; subscribers get Phoenix-style diffs synchronously', async () => {
  const presence = new Presence({ layer: new InMemoryChannelLayer(), heartbeatInterval: 50 });
  const changes: PresenceChange[] = [];
  const off = presence.subscribe('room:1', (c) => changes.push(c));
  const ref = await presence.track('room:1', 'alice', { device: 'phone' });
  assert.deepEqual(presence.list('room:1'), { alice: { metas: [{ device: 'phone', ref }] } });
  assert.deepEqual(changes, [{ topic: 'room:1', joins: { alice: { metas: [{ device: 'phone', ref }] } }, leaves: {}, joined: ['alice'], left: [] }]);
  await presence.untrack('room:1', 'alice', ref);
  assert.deepEqual(presence.list('room:1'), {});
  assert.deepEqual(changes[1]!.left, ['alice']);
  assert.deepEqual(presence.list('room:2'), {});
  off();
  await presence.track('room:1', 'bob', {});
  assert.equal(changes.length, 2, 'unsubscribed');
  await presence.close();
});

test('two tabs: the key joins with the first and leaves with the last', async () => {
  const presence = new Presence({ layer: new InMemoryChannelLayer(), heartbeatInterval: 50 });
  const joined: string[] = [];
  const left: string[] = [];
  presence.subscribe('t', (c) => { joined.push(...c.joined); left.push(...c.left); });
  const tab1 = await presence.track('t', 'alice', { tab: 1 });
  const tab2 = await presence.track('t', 'alice', { tab: 2 });
  assert.equal(presence.list('t').alice!.metas.length, 2);
  assert.deepEqual(joined, ['alice']);
  await presence.untrack('t', 'alice', tab1);
  assert.deepEqual(left, []);
  await presence.untrack('t', 'alice', tab2);
  assert.deepEqual(left, ['alice']);
  await presence.close();
});

test('replicas converge: each sees the others, a user on two replicas leaves only when both tabs are gone', async () => {
  const layer = new InMemoryChannelLayer();
  const a = new Presence({ layer, heartbeatInterval: 50 });
  const b = new Presence({ layer, heartbeatInterval: 50 });
  const seenOnA: string[] = [];
  a.subscribe('room', (c) => { for (const k of c.joined) seenOnA.push(`+${k}`); for (const k of c.left) seenOnA.push(`-${k}`); });
  await a.start();
  await b.start();
  const aliceOnA = await a.track('room', 'alice', { where: 'a' });
  await b.track('room', 'bob', { where: 'b' });
  const aliceOnB = await b.track('room', 'alice', { where: 'b' });
  await until(() => keys(a, 'room').join() === 'alice,bob' && a.list('room').alice!.metas.length === 2, 2000, 'A to see B');
  await until(() => keys(b, 'room').join() === 'alice,bob' && b.list('room').alice!.metas.length === 2, 2000, 'B to see A');
  await a.untrack('room', 'alice', aliceOnA);
  await until(() => b.list('room').alice?.metas.length === 1, 2000, 'B to see one alice tab');
  assert.deepEqual(keys(b, 'room'), ['alice', 'bob']);
  await b.untrack('room', 'alice', aliceOnB);
  await until(() => !('alice' in a.list('room')), 2000, 'A to see alice leave');
  assert.deepEqual(seenOnA, ['+alice', '+bob', '-alice']);
  await a.close();
  await b.close();
});

test('a late replica gets the existing state; a graceful close removes its entries at once', async () => {
  const layer = new InMemoryChannelLayer();
  const a = new Presence({ layer, heartbeatInterval: 1000 });
  await a.track('room', 'alice', {});
  const b = new Presence({ layer, heartbeatInterval: 1000 });
  await b.start();
  await until(() => 'alice' in b.list('room'), 500, 'B to receive A state on start');
  await b.track('room', 'bob', {});
  await until(() => 'bob' in a.list('room'), 500, 'A to see bob');
  const started = Date.now();
  await b.close();
  await until(() => !('bob' in a.list('room')), 500, 'A to drop B');
  assert.ok(Date.now() - started < 500);
  await a.close();
});

test('a replica that goes silent (crash) is dropped after replicaTimeout, with leave events', async () => {
  const layer = new InMemoryChannelLayer();
  const a = new Presence({ layer, heartbeatInterval: 40, replicaTimeout: 200 });
  const b = new Presence({ layer, heartbeatInterval: 40, replicaTimeout: 200 });
  const left: string[] = [];
  a.subscribe('room', (c) => left.push(...c.left));
  await a.start();
  await b.track('room', 'bob', {});
  await until(() => 'bob' in a.list('room'), 1000, 'A to see bob');
  await delay(300);
  assert.ok('bob' in a.list('room'), 'heartbeats keep a live replica');
  const crashedAt = Date.now();
  await b.close({ graceful: false });
  await until(() => left.includes('bob'), 2000, 'bob to leave');
  const took = Date.now() - crashedAt;
  assert.ok(took >= 150 && took < 400, `dropped after ${took} ms (timeout 200, heartbeat 40)`);
  assert.deepEqual(a.peers, []);
  await a.close();
});

test('a lost delta is repaired from the peer state (gap detection)', async () => {
  const layer = new InMemoryChannelLayer({ capacity: 5 });
  const a = new Presence({ layer, heartbeatInterval: 50 });
  const b = new Presence({ layer, heartbeatInterval: 50 });
  await a.start();
  await b.start();
  // 30 changes at once overflow A's channel (capacity 5): most deltas are dropped.
  await Promise.all(Array.from({ length: 30 }, (_, i) => b.track('room', `user${i}`, { i })));
  await until(() => keys(a, 'room').length === 30, 3000, 'A to repair its copy');
  await a.close();
  await b.close();
});

test('update replaces a meta; untrack without a ref removes every local entry of the key', async () => {
  const presence = new Presence({ layer: new InMemoryChannelLayer(), heartbeatInterval: 50 });
  const ref = await presence.track('t', 'alice', { status: 'away' });
  await presence.update('t', 'alice', ref, { status: 'online' });
  assert.deepEqual(presence.list('t'), { alice: { metas: [{ status: 'online', ref }] } });
  await presence.track('t', 'alice', { status: 'second' });
  await presence.untrack('t', 'alice');
  assert.deepEqual(presence.list('t'), {});
  await assert.rejects(presence.update('t', 'alice', ref, {}), (error: unknown) => {
    assert.ok(error instanceof PresenceNotFound);
    assert.equal(error.code, 'SY_PRESENCE_NOT_FOUND');
    assert.deepEqual([error.topic, error.key, error.ref], ['t', 'alice', ref]);
    return true;
  });
  await presence.close();
});

test('a closed replica refuses to start or track again (PresenceClosed)', async () => {
  const presence = new Presence({ layer: new InMemoryChannelLayer(), heartbeatInterval: 50 });
  await presence.track('t', 'alice', {});
  await presence.close();
  await assert.rejects(presence.start(), PresenceClosed);
  await assert.rejects(presence.track('t', 'bob', {}), { code: 'SY_PRESENCE_CLOSED' });
});

test('Presence.forLayer gives one replica per layer and name', () => {
  const layer = new InMemoryChannelLayer();
  assert.equal(Presence.forLayer(layer), Presence.forLayer(layer));
  assert.notEqual(Presence.forLayer(layer), Presence.forLayer(layer, { name: 'other' }));
  assert.notEqual(Presence.forLayer(layer), Presence.forLayer(new InMemoryChannelLayer()));
});

test('a replica that only subscribes (tracks nobody, never started by hand) hears the other replicas', async () => {
  const layer = new InMemoryChannelLayer();
  const watcher = new Presence({ layer, heartbeatInterval: 50 });
  const other = new Presence({ layer, heartbeatInterval: 50 });
  await other.track('room', 'early', {}); // there before the watcher: comes with the state on start
  const seen: string[] = [];
  watcher.subscribe('room', (c) => { for (const k of c.joined) seen.push(`+${k}`); for (const k of c.left) seen.push(`-${k}`); });
  await until(() => seen.includes('+early'), 1000, 'the watcher to get the existing state');
  const ref = await other.track('room', 'alice', {});
  await until(() => seen.includes('+alice'), 1000, 'the watcher to see alice join');
  await other.untrack('room', 'alice', ref);
  await until(() => seen.includes('-alice'), 1000, 'the watcher to see alice leave');
  assert.deepEqual(seen, ['+early', '+alice', '-alice']);
  await watcher.close();
  await other.close();
});
