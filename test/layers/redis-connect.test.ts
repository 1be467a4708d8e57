// A Redis layer used before its connection is up: every command issued meanwhile waits on one
// shared readiness wait, so a burst at startup (a server taking traffic as it boots) neither
// piles one listener per command on the connection (Node's MaxListenersExceededWarning at 11)
// nor loses a message.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { RedisChannelLayer, RedisPubSubChannelLayer } from 'switchyard/redis';
import { TEST_REDIS_URL, guardRedisKeys } from '../helpers/redis-clean.js';

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
