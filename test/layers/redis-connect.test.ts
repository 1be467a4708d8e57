// A Redis layer used before its connection is up: every command issued meanwhile waits on one
// shared readiness wait, so a burst at startup (a server taking traffic as it boots) neither
// piles one listener per command on the connection (Node's MaxListenersExceededWarning at 11)
// nor loses a message. And a Redis that froze makes calls fail after `commandTimeout`, not hang.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { LayerUnavailableError, buildChannelLayer } from 'switchyard';
import { RedisChannelLayer, RedisPubSubChannelLayer } from 'switchyard/redis';
import { TEST_REDIS_URL, guardRedisKeys } from '../helpers/redis-clean.js';
import { OwnedRedis } from '../helpers/redis-server.js';
import { delay } from '../helpers/time.js';

const PREFIX = `sy-connect-${process.pid}-`;
const closing: Array<() => Promise<void>> = [];
after(async () => { for (const close of closing) await close(); });
guardRedisKeys(PREFIX);

for (const [name, Layer] of [['core', RedisChannelLayer], ['pub/sub', RedisPubSubChannelLayer]] as const) {
  test(`${name}: 50 sends issued before the connection is up: all delivered, no listener warning`, async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(`${warning.name}: ${warning.message}`);
    process.on('warning', onWarning);
    try {
      const receiver = new Layer({ hosts: [TEST_REDIS_URL], prefix: `${PREFIX}${name === 'core' ? 'c' : 'p'}-` });
      closing.push(async () => { await receiver.flush(); await receiver.close(); });
      const channel = await receiver.newChannel();
      await receiver.groupAdd('burst', channel);
      const sender = new Layer({ hosts: [TEST_REDIS_URL], prefix: `${PREFIX}${name === 'core' ? 'c' : 'p'}-` });
      closing.push(() => sender.close());
      await Promise.all(Array.from({ length: 50 }, (_, n) => sender.groupSend('burst', { type: 'tick', n })));
      const seen: number[] = [];
      for (let i = 0; i < 50; i++) seen.push((await receiver.receive(channel)).n as number);
      assert.deepEqual(seen.sort((a, b) => a - b), Array.from({ length: 50 }, (_, n) => n));
      await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
      assert.deepEqual(warnings.filter((w) => w.includes('MaxListenersExceeded')), []);
    } finally {
      process.off('warning', onWarning);
    }
  });
}

for (const [name, Layer] of [['core', RedisChannelLayer], ['pub/sub', RedisPubSubChannelLayer]] as const) {
  test(`${name}: a Redis that froze (connections open, no answer): a send fails with LayerUnavailableError after commandTimeout, not never`, async () => {
    const redis = await OwnedRedis.start();
    const layer = new Layer({ hosts: [redis.url], prefix: `${PREFIX}frozen-`, commandTimeout: 500 });
    try {
      await layer.send('frozen-probe', { type: 'x' });
      redis.freeze();
      const started = Date.now();
      const outcome = await Promise.race([
        layer.groupSend('frozen', { type: 'x' }).then(() => 'sent', (error: unknown) => error),
        delay(5000).then(() => 'still waiting after 5 s'),
      ]);
      assert.ok(outcome instanceof LayerUnavailableError && /no answer within 500 ms/.test(outcome.message), String(outcome));
      assert.ok(Date.now() - started < 2000, `failed after ${Date.now() - started} ms`);
      redis.thaw();
      await layer.groupSend('frozen', { type: 'x' });
    } finally {
      redis.thaw();
      await layer.close();
      await redis.stop();
    }
  });
}

test('commandTimeout that is not a whole number of ms from 1 to 2^31 - 1 is refused at construction, by name, on both layers (and in a URL)', async () => {
  for (const Layer of [RedisChannelLayer, RedisPubSubChannelLayer]) {
    for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31]) {
      assert.throws(() => new Layer({ hosts: [TEST_REDIS_URL], commandTimeout: bad }),
        { name: 'TypeError', message: /'commandTimeout' must be a whole number of ms from 1 to 2147483647/ }, `${Layer.name} ${bad}`);
    }
  }
  for (const scheme of ['redis', 'redis+pubsub']) {
    assert.throws(() => buildChannelLayer(`${scheme}://127.0.0.1:6379/0?commandTimeout=0`), /commandTimeout/);
    assert.throws(() => buildChannelLayer(`${scheme}://127.0.0.1:6379/0?commandTimeout=soon`), /commandTimeout/);
  }
});
