// The same Presence scenarios over both Redis layers (core and pub/sub), each replica with its
// own layer instance (its own Redis connections), as two processes would have.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import type { ChannelLayer } from '../../src/layers/base.js';
import { RedisChannelLayer, RedisPubSubChannelLayer } from 'switchyard/redis';
import { Presence } from 'switchyard/presence';
import { until } from '../helpers/time.js';

const PREFIX = `test-presence-layers-${process.pid}`;
const layers: ChannelLayer[] = [];

after(async () => {
  await Promise.allSettled(layers.map((l) => l.close()));
  const redis = new Redis('redis://127.0.0.1:6379/0');
  const keys = await redis.keys(`${PREFIX}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
});

const flavours: Array<[string, (prefix: string) => ChannelLayer]> = [
  ['core', (prefix) => new RedisChannelLayer({ hosts: ['redis://127.0.0.1:6379/0'], prefix })],
  ['pubsub', (prefix) => new RedisPubSubChannelLayer({ hosts: ['redis://127.0.0.1:6379/0'], prefix })],
];

for (const [name, make] of flavours) {
  describe(`presence over the Redis ${name} layer`, () => {
    test('replicas converge, tabs count once, a graceful close and a silent one both remove entries', async () => {
      const prefix = `${PREFIX}-${name}`;
      const [la, lb, lc] = [make(prefix), make(prefix), make(prefix)];
      layers.push(la, lb, lc);
      const a = new Presence({ layer: la, heartbeatInterval: 100, replicaTimeout: 600 });
      const b = new Presence({ layer: lb, heartbeatInterval: 100, replicaTimeout: 600 });
      const c = new Presence({ layer: lc, heartbeatInterval: 100, replicaTimeout: 600 });
      const events: string[] = [];
      a.subscribe('room', (change) => {
        for (const k of change.joined) events.push(`+${k}`);
        for (const k of change.left) events.push(`-${k}`);
      });
      await Promise.all([a.start(), b.start(), c.start()]);
      await b.track('room', 'alice', { on: 'b' });
      await c.track('room', 'alice', { on: 'c' });
      await c.track('room', 'carol', { on: 'c' });
      await until(() => a.list('room').alice?.metas.length === 2 && 'carol' in a.list('room'), 3000, 'A to see B and C');
      await b.close(); // graceful: alice still has C's entry
      await until(() => a.list('room').alice?.metas.length === 1, 3000, 'A to drop B');
      const silentAt = Date.now();
      await c.close({ graceful: false }); // as if killed
      await until(() => Object.keys(a.list('room')).length === 0, 3000, 'A to time C out');
      const took = Date.now() - silentAt;
      assert.ok(took >= 400 && took < 2000, `C dropped after ${took} ms`);
      // Each user joined once and left once (alice only when her last entry, on C, went).
      assert.deepEqual([...events].sort(), ['+alice', '+carol', '-alice', '-carol']);
      assert.ok(events.indexOf('+alice') < events.indexOf('-alice') && events.indexOf('+carol') < events.indexOf('-carol'));
      await a.close();
    });
  });
}
