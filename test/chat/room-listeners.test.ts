// The chat example's presence listeners: one subscription per room in a process, shared by its
// members (the first subscribes, the last unsubscribes), each change handed to every member in
// the order they joined.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Presence, PresenceChange } from 'switchyard/presence';
import { RoomListeners } from '../../examples/chat/room-listeners.js';
import { captureLibraryLogs } from '../helpers/logs.js';

/** A presence replica that records subscriptions and lets the test emit changes. */
function fakePresence() {
  const listeners = new Map<string, Set<(change: PresenceChange) => void>>();
  let subscribes = 0;
  let starts = 0;
  const presence = {
    subscribe(topic: string, listener: (change: PresenceChange) => void) {
      subscribes += 1;
      const set = listeners.get(topic) ?? new Set();
      listeners.set(topic, set.add(listener));
      return () => { set.delete(listener); if (set.size === 0) listeners.delete(topic); };
    },
    start() { starts += 1; return Promise.resolve(); },
  };
  const emit = (topic: string, change: PresenceChange) => { for (const listener of listeners.get(topic) ?? []) listener(change); };
  return { presence: presence as unknown as Presence, emit, listeners, counts: () => ({ subscribes, starts }) };
}

const change = (joined: string[]): PresenceChange => ({ topic: 'r', joined, left: [], list: {} }) as unknown as PresenceChange;

test('one subscription per room; every member hears each change in join order; the last to leave unsubscribes', () => {
  const { presence, emit, listeners, counts } = fakePresence();
  const heard: string[] = [];
  const rooms = new RoomListeners<string>((member, c) => heard.push(`${member}:${c.joined.join()}`));
  rooms.join(presence, 'room_a', 'ann');
  rooms.join(presence, 'room_a', 'bob');
  rooms.join(presence, 'room_b', 'cy');
  assert.deepEqual(counts(), { subscribes: 2, starts: 1 }, 'later members retry start() as their own subscribe() would');
  emit('room_a', change(['x']));
  emit('room_b', change(['y']));
  assert.deepEqual(heard, ['ann:x', 'bob:x', 'cy:y']);
  rooms.leave(presence, 'room_a', 'ann');
  rooms.leave(presence, 'room_a', 'ann'); // twice: a no-op
  assert.equal(listeners.get('room_a')?.size, 1, 'still subscribed while bob is there');
  emit('room_a', change(['z']));
  assert.deepEqual(heard.slice(3), ['bob:z']);
  rooms.leave(presence, 'room_a', 'bob');
  assert.equal(listeners.has('room_a'), false, 'the last member unsubscribed the room');
  rooms.join(presence, 'room_a', 'dee');
  assert.equal(counts().subscribes, 3, 'a room joined again subscribes again');
});

test('a member whose handler throws does not keep the others from hearing', () => {
  const { presence, emit } = fakePresence();
  const heard: string[] = [];
  const rooms = new RoomListeners<string>((member) => { if (member === 'bad') throw new Error('boom'); heard.push(member); });
  rooms.join(presence, 'room', 'bad');
  rooms.join(presence, 'room', 'good');
  const logs = captureLibraryLogs('error');
  try {
    emit('room', change(['x']));
  } finally {
    logs.restore();
  }
  assert.deepEqual(heard, ['good']);
  assert.ok(logs.lines.some((line) => line.msg === 'presence subscriber failed'), 'the failure is logged');
});
