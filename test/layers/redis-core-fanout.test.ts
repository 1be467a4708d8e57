// The core layer at fan-out (issue 15): one script per groupSend whatever the
// group's size, the copy Redis packs byte for byte what channels_redis (and
// the two-step path) stores, a process key holding the capacity times the
// channels its copy names (up to processCapacity), and every queued message
// drained. On a private Redis, so its command counts are this file's alone.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { ImproperlyConfigured, buildChannelLayer } from 'switchyard';
import { type LayerLogger, MessageCodec, RedisChannelLayer, channelKey } from 'switchyard/redis';
import { OwnedRedis } from '../helpers/redis-server.js';
import { NOTHING, receiveWithin } from './conformance.js';

const quiet: LayerLogger = { debug() {}, info() {}, warn() {}, error() {} };
const KEY = 'Zm9vYmFyYmF6cXV4cXV1eGZvb2JhcmJhenF1eHF1dXg=';
let redis: OwnedRedis;
let raw: Redis;
const opened: RedisChannelLayer[] = [];
let prefixes = 0;
function layer(options: ConstructorParameters<typeof RedisChannelLayer>[0] = {}): RedisChannelLayer {
  const made = new RedisChannelLayer({ hosts: [redis.url], prefix: `fan-${++prefixes}-`, logger: quiet, processTtl: null, ...options });
  opened.push(made);
  return made;
}
before(async () => {
  redis = await OwnedRedis.start();
  raw = new Redis(redis.url);
});
after(async () => {
  for (const each of opened) await each.close();
  raw.disconnect();
  await redis.stop();
});

/** Script calls (EVALSHA + EVAL) Redis has run so far. */
async function scriptCalls(): Promise<number> {
  const stats = await raw.info('commandstats');
  let calls = 0;
  for (const match of stats.matchAll(/cmdstat_(?:evalsha|eval):calls=(\d+)/g)) calls += Number(match[1]);
  return calls;
}

/** Joins `count` channels of `on` to `group`. */
async function members(on: RedisChannelLayer, group: string, count: number): Promise<string[]> {
  const channels = await Promise.all(Array.from({ length: count }, () => on.newChannel()));
  for (const channel of channels) await on.groupAdd(group, channel);
  return channels;
}

describe('core layer group sends at fan-out', () => {
  test('one script per groupSend whatever the group size (two processes, 300 members); two steps when encrypted', async () => {
    const prefix = `fan-size-${++prefixes}-`;
    const a = layer({ prefix });
    const b = layer({ prefix });
    await members(a, 'big', 150);
    await members(b, 'big', 150);
    await a.groupSend('big', { type: 'warm-up' }); // the first run of a script may be an EVALSHA refused (NOSCRIPT) then an EVAL
    let before = await scriptCalls();
    for (let i = 0; i < 10; i++) await a.groupSend('big', { type: 'm', i });
    assert.equal(await scriptCalls() - before, 10);
    const keys = await raw.keys(`${prefix}specific.*`);
    assert.equal(keys.length, 2, 'one process key per process');
    for (const key of keys) assert.equal(await raw.zcard(key), 11);
    // Encrypted copies cannot be completed in Redis: the member read, then one delivery script.
    const secret = layer({ prefix: `fan-enc-${++prefixes}-`, symmetricEncryptionKeys: [KEY] });
    await members(secret, 'big', 20);
    await secret.groupSend('big', { type: 'warm-up' });
    before = await scriptCalls();
    await secret.groupSend('big', { type: 'm' });
    assert.equal(await scriptCalls() - before, 2);
  });

  test('the copy packed in Redis is byte for byte the two-step one (and channels_redis\'s): the same map with __asgi_channel__ last', async () => {
    const fast = layer();
    const channels = await members(fast, 'bytes', 3);
    const message = { type: 'chat.message', text: 'héllo', n: 2 ** 40, list: [1, 'two', null], nested: { a: true } };
    await fast.groupSend('bytes', message);
    const [stored] = await raw.zrangeBuffer(channelKey(fast.prefix, channels[0]!), '0', '-1');
    // The members are listed in join order (ZRANGE by join score), as in the two-step path.
    const expected = new MessageCodec().encoderFor(message)(channels);
    assert.ok(stored !== undefined);
    assert.equal(stored.subarray(12).toString('hex'), expected.subarray(12).toString('hex'));
    for (const channel of channels) assert.deepEqual(await fast.receive(channel, AbortSignal.timeout(5000)), message);
  });

  test('except on the one-script path leaves only that member out', async () => {
    const fast = layer();
    const [left, kept] = await members(fast, 'ex', 2);
    await fast.groupSend('ex', { type: 'm' }, { except: left! });
    assert.equal((await fast.receive(kept!, AbortSignal.timeout(5000))).type, 'm');
    assert.equal(await receiveWithin(fast, left!, 200), NOTHING);
  });

  for (const encrypted of [false, true]) {
    test(`a process key holds the capacity × the channels its copy names, up to processCapacity${encrypted ? ' (encrypted: two-step path)' : ''}`, async () => {
      const prefix = `fan-cap-${++prefixes}-`;
      const options = { prefix, capacity: 5, processCapacity: 20, symmetricEncryptionKeys: encrypted ? [KEY] : null };
      const sender = layer(options);
      const receiver = layer(options);
      const three = await members(receiver, 'three', 3);
      const ten = await members(receiver, 'ten', 10);
      const key = channelKey(prefix, three[0]!);
      for (let i = 0; i < 30; i++) await sender.groupSend('three', { type: 'm', i });
      assert.equal(await raw.zcard(key), 15, '5 × 3 copies for a copy naming 3 channels');
      for (let i = 0; i < 30; i++) await sender.groupSend('ten', { type: 'm', i });
      assert.equal(await raw.zcard(key), 20, 'then up to processCapacity for a copy naming 10');
      assert.equal(ten.length, 10);
    });
  }

  test('a backlog of hundreds of group messages is drained, every member gets each once, in order', async () => {
    const prefix = `fan-drain-${++prefixes}-`;
    const sender = layer({ prefix });
    const receiver = layer({ prefix, receiveBufferSize: 1000 });
    const channels = await members(receiver, 'drain', 10); // the key holds up to 100 × 10
    for (let i = 0; i < 700; i++) await sender.groupSend('drain', { type: 'm', i });
    assert.equal(await raw.zcard(channelKey(prefix, channels[0]!)), 700);
    for (const channel of channels) {
      for (let i = 0; i < 700; i++) assert.equal((await receiver.receive(channel, AbortSignal.timeout(5000))).i, i);
    }
    assert.equal(await raw.zcard(channelKey(prefix, channels[0]!)), 0);
  });

  test('processCapacity must be a positive integer, in code and in the URL', () => {
    assert.throws(() => layer({ processCapacity: 0 }), /processCapacity' must be a positive integer/);
    assert.throws(() => buildChannelLayer(`${redis.url}?processCapacity=many`), (e) => e instanceof ImproperlyConfigured && /processCapacity/.test(e.message));
    const built = buildChannelLayer(`${redis.url}?processCapacity=50&prefix=fan-url-`);
    assert.ok(built instanceof RedisChannelLayer);
    opened.push(built);
  });
});
