// A replica's local subscribers: order, failures, unsubscribing (during a change, late, twice),
// a start retried by the next subscribe, and what a subscription costs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { InMemoryChannelLayer } from 'switchyard';
import { Presence, type PresenceChange } from 'switchyard/presence';
import { captureLibraryLogs } from '../helpers/logs.js';
import { until } from '../helpers/time.js';

const newPresence = () => new Presence({ layer: new InMemoryChannelLayer(), heartbeatInterval: 50 });

test('listeners hear each change in the order they subscribed; one that throws is logged and the others hear', async () => {
  const presence = newPresence();
  const heard: string[] = [];
  presence.subscribe('room', (c) => heard.push(`a:${c.joined.join()}`));
  presence.subscribe('room', () => { throw new Error('boom'); });
  presence.subscribe('room', (c) => heard.push(`c:${c.joined.join()}`));
  presence.subscribe('other', (c) => heard.push(`other:${c.joined.join()}`));
  const logs = captureLibraryLogs('error');
  try {
    await presence.track('room', 'alice', {});
  } finally {
    logs.restore();
  }
  assert.deepEqual(heard, ['a:alice', 'c:alice']);
  assert.ok(logs.lines.some((line) => line.msg === 'presence subscriber failed' && line.topic === 'room'));
  await presence.close();
});

test('unsubscribing during a change takes effect from the next one; twice, or late, removes nothing else', async () => {
  const presence = newPresence();
  const heard: string[] = [];
  let offB = () => {};
  const offA = presence.subscribe('room', (c) => { heard.push(`a:${c.joined.join()}`); offB(); });
  offB = presence.subscribe('room', (c) => heard.push(`b:${c.joined.join()}`));
  await presence.track('room', 'ann', {});
  await presence.track('room', 'bob', {});
  assert.deepEqual(heard, ['a:ann', 'b:ann', 'a:bob'], 'b heard the change during which it left, and no later one');
  offA();
  offA(); // twice: a no-op
  const offC = presence.subscribe('room', (c) => heard.push(`c:${c.joined.join()}`)); // the topic, subscribed anew
  offB(); // late: b's topic set is gone, c's must stay
  await presence.track('room', 'cy', {});
  assert.deepEqual(heard.slice(3), ['c:cy']);
  offC();
  await presence.close();
});

test('the same listener subscribed twice to a topic hears once, and one unsubscribe removes it', async () => {
  const presence = newPresence();
  const changes: PresenceChange[] = [];
  const listener = (c: PresenceChange) => changes.push(c);
  const off = presence.subscribe('room', listener);
  presence.subscribe('room', listener);
  await presence.track('room', 'ann', {});
  assert.equal(changes.length, 1);
  off();
  await presence.track('room', 'bob', {});
  assert.equal(changes.length, 1);
  await presence.close();
});

/** A layer whose first `newChannel` fails, as a layer that is away when the replica first starts. */
class FailsFirstStart extends InMemoryChannelLayer {
  failures = 1;
  override async newChannel(prefix?: string): Promise<string> {
    if (this.failures-- > 0) throw new Error('layer away');
    return super.newChannel(prefix);
  }
}

test('a start that failed is tried again by the next subscribe', async () => {
  const layer = new FailsFirstStart();
  const watcher = new Presence({ layer, heartbeatInterval: 50 });
  const logs = captureLibraryLogs('warn');
  try {
    watcher.subscribe('room', () => {});
    await until(() => logs.lines.some((line) => String(line.msg).startsWith('presence: start failed')), 1000, 'the failed start to be logged');
  } finally {
    logs.restore();
  }
  await new Promise((resolve) => setImmediate(resolve)); // the failure's own handler clears the start
  const seen: string[] = [];
  watcher.subscribe('room', (c) => seen.push(...c.joined));
  const other = new Presence({ layer, heartbeatInterval: 50 });
  await other.track('room', 'alice', {});
  await until(() => seen.includes('alice'), 1000, 'the watcher, started by its second subscribe, to hear alice');
  await watcher.close();
  await other.close();
});

test('a subscription costs its slot in the topic and the returned function, no closure or context of its own', () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const presence = newPresence();
  const count = 20_000;
  // The listeners exist before: what they cost is the subscriber's, not the subscription's.
  const listeners = Array.from({ length: count }, (_, i) => () => void i);
  const offs: Array<() => void> = new Array(count);
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < count; i++) offs[i] = presence.subscribe('room', listeners[i]!);
  gc();
  const perSubscription = (process.memoryUsage().heapUsed - before) / count;
  // A bound function (48 bytes) and a set slot (about 33 at this size). A closure over a context
  // of its own, and a catch() per subscription on the start under way, cost about 650 more.
  assert.ok(perSubscription < 110, `${perSubscription.toFixed(0)} bytes per subscription`);
  for (const off of offs) off();
  void presence.close();
});
