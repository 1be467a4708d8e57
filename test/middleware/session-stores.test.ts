// One conformance suite, run against every session store (memory, Redis, signed cookie).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SessionUpdateError } from 'switchyard';
import {
  MemorySessionStore, RedisSessionStore, SignedCookieSessionStore, SessionManager, type SessionStore,
} from 'switchyard/middleware';
import { delay } from '../helpers/time.js';
import { deleteRedisKeysAfter, guardRedisKeys } from '../helpers/redis-clean.js';

const REDIS_PREFIX = `test:mw-stores:${process.pid}:`;

interface Case { name: string; make: () => SessionStore; serverSide: boolean }

const cases: Case[] = [
  { name: 'MemorySessionStore', make: () => new MemorySessionStore(), serverSide: true },
  { name: 'RedisSessionStore', make: () => new RedisSessionStore({ prefix: REDIS_PREFIX }), serverSide: true },
  { name: 'SignedCookieSessionStore', make: () => new SignedCookieSessionStore(), serverSide: false },
];

for (const { name, make, serverSide } of cases) {
  describe(`session store conformance: ${name}`, () => {
    const store = make();
    after(() => store.close?.());

    test('save(null) makes a token; load gives back an equal copy', async () => {
      const data = { user: 'alice', n: 1, nested: { list: [1, 'x', null], flag: true }, text: 'héllo <b>' };
      const token = await store.save(null, data, 60);
      assert.equal(typeof token, 'string');
      assert.match(token, /^[A-Za-z0-9_-]+$/, 'tokens are cookie-safe and dot-free');
      const loaded = await store.load(token);
      assert.deepEqual(loaded, data);
      loaded!.user = 'changed';
      assert.deepEqual(await store.load(token), data, 'what load returns is a copy');
    });

    test('unknown or garbage tokens load as null', async () => {
      assert.equal(await store.load('nope'), null);
      assert.equal(await store.load(''), null);
      assert.equal(await store.load('!!!'), null);
    });

    test('an update keeps the data readable under the returned token', async () => {
      const token = await store.save(null, { a: 1 }, 60);
      const again = await store.save(token, { a: 2 }, 60);
      assert.deepEqual(await store.load(again), { a: 2 });
      if (serverSide) assert.equal(again, token, 'server-side stores keep the token');
    });

    test('two new sessions never share a token', async () => {
      const tokens = await Promise.all(Array.from({ length: 20 }, (_, i) => store.save(null, { i }, 60)));
      assert.equal(new Set(tokens).size, 20);
    });

    test('unserialisable data is refused at save', async () => {
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      await assert.rejects(store.save(null, cyclic, 60));
    });

    if (serverSide) {
      test('destroy forgets; updating a destroyed session is a SessionUpdateError', async () => {
        const token = await store.save(null, { a: 1 }, 60);
        await store.destroy(token);
        assert.equal(await store.load(token), null);
        await assert.rejects(store.save(token, { a: 2 }, 60), SessionUpdateError);
        await store.destroy('never-existed');
      });

      test('sessions expire after maxAge', async () => {
        const token = await store.save(null, { a: 1 }, 1);
        assert.deepEqual(await store.load(token), { a: 1 });
        await delay(1100);
        assert.equal(await store.load(token), null);
      });
    } else {
      test('everything lives in the token; destroy cannot revoke it; oversized data is refused', async () => {
        const token = await store.save(null, { a: 1 }, 60);
        await store.destroy(token);
        assert.deepEqual(await store.load(token), { a: 1 });
        await assert.rejects(store.save(null, { big: 'x'.repeat(5000) }, 60), RangeError);
      });
    }

    test('through a SessionManager: a tampered cookie opens an empty session', async () => {
      const manager = new SessionManager({ store, secrets: ['s1'] });
      const session = manager.open(undefined);
      await session.set('k', 'v');
      const header = await manager.commit(session, false);
      const cookie = /^sessionid=([^;]+)/.exec(header!)![1]!;
      assert.equal(await manager.open(cookie).get('k'), 'v');
      const tampered = cookie.slice(0, 3) + (cookie[3] === 'A' ? 'B' : 'A') + cookie.slice(4);
      assert.equal(await manager.open(tampered).get('k'), undefined);
    });
  });
}

// The sessions a test saves live up to two weeks (a SessionManager's default): delete them all.
deleteRedisKeysAfter(REDIS_PREFIX);
guardRedisKeys(REDIS_PREFIX);
