// examples/chat/names.ts: whether a name is registered is answered at a bounded rate per address.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AnonymousNames } from '../../examples/chat/names.js';

const registered = new Set(['alice', 'bob']);
const names = () => new AnonymousNames({ isRegistered: (name) => registered.has(name), burst: 3, perSecond: 1 });

test('new names take a token, registered or not; reused names are free; tokens come back with time', () => {
  const guard = names();
  assert.deepEqual(['alice', 'x', 'y', 'bob', 'z'].map((n) => guard.check('198.51.100.1', n, 0)), ['registered', 'ok', 'ok', 'throttled', 'throttled']);
  assert.equal(guard.check('198.51.100.1', 'x', 0), 'ok', 'a name already used from here');
  assert.equal(guard.check('198.51.100.1', 'alice', 0), 'registered');
  assert.equal(guard.check('198.51.100.2', 'bob', 0), 'registered', 'another address, its own allowance');
  assert.equal(guard.check('198.51.100.1', 'bob', 1000), 'registered', 'a second later: one more');
  assert.equal(guard.check('198.51.100.1', 'w', 1000), 'throttled');
});

test('IPv6 addresses count by /64 (one host holds the whole prefix); IPv4-mapped ones as IPv4', () => {
  const guard = names();
  for (const [i, address] of ['2001:db8:1:2::1', '2001:db8:1:2:ffff::9', '2001:0db8:0001:0002:0:0:0:abcd'].entries()) {
    assert.equal(guard.check(address, `n${i}`, 0), 'ok');
  }
  assert.equal(guard.check('2001:db8:1:2::77', 'n9', 0), 'throttled', 'same /64');
  assert.equal(guard.check('2001:db8:1:3::1', 'n9', 0), 'ok', 'another /64');
  for (const i of [1, 2, 3]) guard.check('203.0.113.5', `m${i}`, 0);
  assert.equal(guard.check('::ffff:203.0.113.5', 'm4', 0), 'throttled');
});
