// The shared conformance suite and the channels_redis core-layer specifics
// (test_core.py, test_serializers.py, test_utils.py, spec §2) on a real Redis.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { ChannelFull, ImproperlyConfigured, InvalidMessageError, InvalidNameError, LayerUnavailableError, buildChannelLayer } from 'switchyard';
import {
  Fernet, InvalidToken, MessageCodec, layerOptionsFromUrl, normalizeHosts, MultiFernet, RedisChannelLayer, ScoreClock, SerializerDoesNotExist,
  channelKey, crc32, deriveFernetKey, getSerializer, groupKey, jsonSerializer, msgpackSerializer, registerSerializer, shardIndex,
} from 'switchyard/redis';
import { Inbox } from '../../src/redis/inbox.js';
import { delay } from '../helpers/time.js';
import { guardRedisKeys } from '../helpers/redis-clean.js';
import { recordingLogger } from '../helpers/logs.js';
import { NOTHING, layerConformance, receiveWithin } from './conformance.js';
import { OwnedRedis } from '../helpers/redis-server.js';

const REDIS = 'redis://127.0.0.1:6379/0';
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
const VECTOR = { a: true, b: null, c: { d: [] } };
const VECTOR_MSGPACK = '83a161c3a162c0a16381a16490';
let prefixes = 0;
const uniquePrefix = () => `sy-core-${process.pid}-${++prefixes}-`;
const raw = new Redis(REDIS);
const opened: RedisChannelLayer[] = [];
function layer(options: ConstructorParameters<typeof RedisChannelLayer>[0] = {}): RedisChannelLayer {
  const made = new RedisChannelLayer({ hosts: [REDIS], prefix: uniquePrefix(), ...options });
  opened.push(made);
  return made;
}
after(async () => {
  for (const each of opened) {
    await each.flush().catch(() => {});
    await each.close();
  }
  raw.disconnect();
});

layerConformance('RedisChannelLayer', (options, namespace) => new RedisChannelLayer({ ...options, hosts: [REDIS], prefix: namespace }), {
  capacity: true,
  persistent: true,
  groupExpiry: true,
  shared: true,
});

test('flush deletes every key of its prefix, page after page (SCAN), and nothing else', async () => {
  // A prefix with glob characters, taken literally: its neighbour below matches it as a pattern, not as a prefix.
  const prefix = `sy-core-${process.pid}-fl[a]sh*-`;
  const neighbour = `sy-core-${process.pid}-flash*-kept`;
  const other = `${uniquePrefix()}kept`;
  const l = layer({ prefix });
  await l.groupAdd('room', await l.newChannel());
  const many = raw.pipeline();
  for (let i = 0; i < 5000; i++) many.set(`${prefix}bulk-${i}`, 'x'); // five SCAN pages and more
  many.set(neighbour, 'keep').set(other, 'keep');
  await many.exec();
  await l.flush();
  assert.deepEqual(await raw.keys(`sy-core-${process.pid}-fl\\[a\\]sh\\*-*`), []);
  assert.equal(await raw.get(neighbour), 'keep');
  assert.equal(await raw.get(other), 'keep');
  await raw.del(neighbour, other);
});

describe('serializers (test_serializers.py)', () => {
  test('test_serialize: msgpack and json vectors', () => {
    assert.equal(hex(msgpackSerializer.serialize(VECTOR)), VECTOR_MSGPACK);
    assert.equal(Buffer.from(jsonSerializer.serialize(VECTOR)).toString(), '{"a": true, "b": null, "c": {"d": []}}');
    assert.equal(Buffer.from(jsonSerializer.serialize({ type: 'x', s: 'é\n' })).toString(), '{"type": "x", "s": "\\u00e9\\n"}');
  });

  test('test_serialize: bytes after the random prefix are the vector, for prefix lengths 8, 12, 0, -1', () => {
    for (const [length, expected] of [[8, 8], [12, 12], [0, 0], [-1, 0]] as const) {
      const member = new MessageCodec({ randomPrefixLength: length }).encode(VECTOR);
      assert.equal(member.length, expected + VECTOR_MSGPACK.length / 2);
      assert.equal(hex(member.subarray(expected)), VECTOR_MSGPACK);
    }
    const json = new MessageCodec({ serializer: jsonSerializer }).encode(VECTOR);
    assert.equal(json.subarray(12).toString(), '{"a": true, "b": null, "c": {"d": []}}');
    const a = new MessageCodec().encode(VECTOR);
    const b = new MessageCodec().encode(VECTOR);
    assert.notEqual(hex(a.subarray(0, 12)), hex(b.subarray(0, 12)));
  });

  test('test_deserialize: fixed 8- and 12-byte prefixes are stripped', () => {
    const body = Buffer.from(VECTOR_MSGPACK, 'hex');
    assert.deepEqual(new MessageCodec({ randomPrefixLength: 8 }).decode(Buffer.concat([Buffer.from('510cbb3f51bce37c', 'hex'), body])), VECTOR);
    assert.deepEqual(new MessageCodec().decode(Buffer.concat([Buffer.from('510cbb3f51bce37c44fd3900', 'hex'), body])), VECTOR);
  });

  test('msgpack types as Python packs them: int64 past 32 bits, float64, bin, nil', () => {
    assert.equal(hex(msgpackSerializer.serialize({ n: 2 ** 40 })), '81a16ed30000010000000000');
    assert.equal(hex(msgpackSerializer.serialize({ f: 1.5, i: 7, m: -1 })), '83a166cb3ff8000000000000a169' + '07' + 'a16dff');
    assert.equal(hex(msgpackSerializer.serialize({ b: new Uint8Array([0, 1]), u: null })), '82a162c4020001a175c0');
    assert.throws(() => msgpackSerializer.serialize({ u: undefined }), /message\.u: undefined is not allowed/);
    assert.equal(hex(msgpackSerializer.serialize({ s: 'x'.repeat(40) })).slice(0, 10), '81a173d928');
    assert.deepEqual(msgpackSerializer.deserialize(Buffer.from('81a16ecf0000010000000000', 'hex')), { n: 2 ** 40 });
  });

  test('values Python cannot decode are refused at the sender', () => {
    for (const bad of [{ m: new Map([[1, 2]]) }, { d: new Date() }, { s: new Set() }, { f: () => 1 }]) {
      assert.throws(() => msgpackSerializer.serialize(bad), InvalidMessageError);
    }
    assert.throws(() => jsonSerializer.serialize({ b: new Uint8Array(1) }), InvalidMessageError);
  });

  test('test_refuse_to_register_bad_serializers / test_raise_error_for_unregistered_serializer', () => {
    assert.throws(() => registerSerializer('bad1', { serialize: () => new Uint8Array() } as never), TypeError);
    assert.throws(() => registerSerializer('bad2', { deserialize: () => ({}) } as never), TypeError);
    assert.throws(() => registerSerializer('bad3', (() => 1) as never), TypeError);
    assert.throws(() => getSerializer('nope'), SerializerDoesNotExist);
    assert.throws(() => new RedisChannelLayer({ serializerFormat: 'nope' }), SerializerDoesNotExist);
  });

  test('test_register_custom_serializer: a registered format carries messages through Redis', async () => {
    registerSerializer('reversed-json', {
      serialize: (message) => Buffer.from(JSON.stringify(message)).reverse(),
      deserialize: (body) => JSON.parse(Buffer.from(body).reverse().toString()),
    });
    const custom = layer({ serializerFormat: 'reversed-json' });
    const channel = await custom.newChannel();
    await custom.send(channel, { type: 'custom', n: 1 });
    assert.deepEqual(await custom.receive(channel), { type: 'custom', n: 1 });
  });

  test('test_serialization_encrypted: ciphertext differs from plaintext, round trip equal', () => {
    for (const serializer of [msgpackSerializer, jsonSerializer]) {
      const codec = new MessageCodec({ serializer, randomPrefixLength: 4, crypter: MultiFernet.fromSecrets(['a-test-key']) });
      const member = codec.encode(VECTOR);
      assert.ok(!member.includes(Buffer.from(serializer.serialize(VECTOR))));
      assert.ok(member.subarray(4).toString('latin1').startsWith('gAAAAA'));
      assert.deepEqual(codec.decode(member), VECTOR);
    }
  });
});

describe('Fernet (spec §2.4)', () => {
  test('key derivation: "secret-key-1" → psHq751f...', () => {
    assert.equal(deriveFernetKey('secret-key-1'), 'psHq751fI_ThPZtXTLvgeuh3In2SvofQdwBdxndrzcw=');
  });

  test('the Fernet specification vector (generate.json / verify.json)', () => {
    const fernet = new Fernet('cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=');
    const now = Date.parse('1985-10-26T01:20:00-07:00') / 1000;
    const token = 'gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0ODy021cpGVWKZ_eEwCGM4BLLF_5CV9dOPmrhuVUPgJobwOz7JcbmrR64jVmpU4IwqDA==';
    assert.equal(fernet.encrypt(Buffer.from('hello'), now, Buffer.from([...Array(16).keys()])).toString(), token);
    assert.equal(fernet.decrypt(Buffer.from(token), 60, now + 1).toString(), 'hello');
    assert.throws(() => fernet.decrypt(Buffer.from(token), 60, now + 61), InvalidToken);
    assert.throws(() => fernet.decrypt(Buffer.from(token), undefined, now - 61), InvalidToken);
    const tampered = Buffer.from(token);
    tampered[20] = tampered[20] === 65 ? 66 : 65;
    assert.throws(() => fernet.decrypt(tampered, undefined, now), InvalidToken);
  });

  test('rotation: the first key encrypts, every key decrypts', () => {
    const token = MultiFernet.fromSecrets(['new', 'old']).encrypt(Buffer.from('x'));
    assert.equal(MultiFernet.fromSecrets(['other', 'new']).decrypt(token).toString(), 'x');
    assert.throws(() => MultiFernet.fromSecrets(['old']).decrypt(token), InvalidToken);
    assert.throws(() => MultiFernet.fromSecrets('k' as never), TypeError);
  });
});

describe('sharding and keys (test_utils.py, test_core.py)', () => {
  test('test_consistent_hash_result: the vectors of spec §2.9', () => {
    assert.equal(crc32('key_one') & 0xfff, 2849);
    assert.equal(crc32('key_two') & 0xfff, 1974);
    const vectors: [string, number, number][] = [
      ['key_one', 1, 0], ['key_one', 2, 1], ['key_one', 10, 6], ['key_two', 1, 0], ['key_two', 2, 0], ['key_two', 10, 4],
      ['chat', 3, 0], ['specific.abc!', 4, 3],
    ];
    for (const [value, ring, index] of vectors) {
      assert.equal(shardIndex(value, ring), index, `${value} over ${ring}`);
      assert.equal(shardIndex(Buffer.from(value), ring), index);
    }
    assert.equal(crc32('123456789'), 0xcbf43926);
  });

  test('test_default_group_key_format / test_custom_group_key_format', () => {
    assert.equal(groupKey('asgi', 'test_group'), 'asgi:group:test_group');
    assert.equal(groupKey('test_prefix', 'test_group'), 'test_prefix:group:test_group');
    assert.equal(channelKey('asgi', 'worker-tasks'), 'asgiworker-tasks');
    assert.equal(channelKey('asgi', 'specific.abc!def'), 'asgispecific.abc!');
  });

  test('test_random_reset__client_prefix: names are specific.<32 hex>!<32 hex>, prefixes differ per layer', async () => {
    const [a, b] = [layer(), layer()];
    assert.match(a.clientPrefix, /^[0-9a-f]{32}$/);
    assert.notEqual(a.clientPrefix, b.clientPrefix);
    assert.match(await a.newChannel(), new RegExp(`^specific\\.${a.clientPrefix}![0-9a-f]{32}$`));
  });

  test('test_reject_bad_client_prefix: receiving on another process\'s channel is refused', async () => {
    const a = layer();
    await assert.rejects(a.receive('not-client-prefix!local_part'), InvalidNameError);
    await assert.rejects(a.receive(await layer().newChannel()), /Wrong client prefix/);
  });

  test('the score clock is strictly increasing at µs resolution', () => {
    const clock = new ScoreClock();
    let last = 0;
    for (let i = 0; i < 10000; i++) {
      const next = clock.nextMicros();
      assert.ok(next > last);
      last = next;
    }
    assert.match(clock.nextScore(), /^\d{10}\.\d{6}$/);
  });
});

describe('Redis state (spec §2.2, §2.13)', () => {
  test('a direct send stores one member in prefix+"specific.<cp>!" with __asgi_channel__ last, TTL = expiry', async () => {
    const l = layer({ expiry: 30 });
    const channel = await l.newChannel();
    await l.send(channel, { type: 'chat.message', text: 'hi' });
    const key = `${l.prefix}specific.${l.clientPrefix}!`;
    assert.equal(await raw.type(key), 'zset');
    const ttl = await raw.pttl(key);
    assert.ok(ttl > 28000 && ttl <= 30000, `ttl ${ttl}`);
    const [member, score] = await raw.zrangeBuffer(key, '0', '-1', 'WITHSCORES');
    const body = member!.subarray(12);
    assert.equal(hex(body.subarray(0, 1)), '83');
    assert.ok(body.toString('latin1').endsWith(`\xb0__asgi_channel__\xd9\x4a${channel}`));
    assert.ok(Math.abs(Number(score!.toString()) - Date.now() / 1000) < 5);
    assert.deepEqual(await l.receive(channel), { type: 'chat.message', text: 'hi' });
  });

  test('test_groups_same_prefix: a group send stores ONE copy per process naming its members; group key TTL', async () => {
    const l = layer({ groupExpiry: 500 });
    const members = [await l.newChannel(), await l.newChannel(), await l.newChannel()];
    for (const member of members) await l.groupAdd('room1', member);
    await l.send('worker-tasks', { type: 'x' });
    await l.groupAdd('room1', 'worker-tasks');
    const gkey = groupKey(l.prefix, 'room1');
    assert.deepEqual(await raw.zrange(gkey, '0', '-1'), [...members, 'worker-tasks']);
    const ttl = await raw.ttl(gkey);
    assert.ok(ttl > 490 && ttl <= 500);
    await l.groupSend('room1', { type: 'chat.message', text: 'to group' });
    const stored = await raw.zrangeBuffer(`${l.prefix}specific.${l.clientPrefix}!`, '0', '-1');
    assert.equal(stored.length, 1);
    const names = Buffer.concat(members.map((m) => Buffer.concat([Buffer.from([0xd9, 0x4a]), Buffer.from(m)])));
    assert.ok(stored[0]!.subarray(12).toString('latin1').endsWith(`\xb0__asgi_channel__\x93${names.toString('latin1')}`));
    const worker = await raw.zrangeBuffer(`${l.prefix}worker-tasks`, '0', '-1');
    assert.equal(worker.length, 2);
    assert.ok(worker[1]!.toString('latin1').endsWith('\xb0__asgi_channel__\x91\xacworker-tasks'));
    assert.deepEqual(await l.receive('worker-tasks'), { type: 'x' });
    assert.deepEqual(await l.receive('worker-tasks'), { type: 'chat.message', text: 'to group' });
  });

  test('test_group_send_capacity: INFO log "1 of 1 channels over capacity in group test-group"', async () => {
    const logger = recordingLogger();
    const l = layer({ capacity: 1, logger });
    const channel = await l.newChannel();
    await l.groupAdd('test-group', channel);
    await l.groupSend('test-group', { type: 'one' });
    await l.groupSend('test-group', { type: 'two' });
    assert.deepEqual(logger.lines, [{ level: 'info', message: '1 of 1 channels over capacity in group test-group' }]);
  });

  test('send capacity counts the shared process key; ChannelFull names the channel', async () => {
    const l = layer({ capacity: 2 });
    const [a, b] = [await l.newChannel(), await l.newChannel()];
    await l.send(a, { type: 'x' });
    await l.send(b, { type: 'x' });
    await assert.rejects(l.send(a, { type: 'x' }), (error) => error instanceof ChannelFull && error.channel === a);
  });
});

describe('receive path', () => {
  test('test_receive_buffer_respects_capacity: a buffer keeps the newest 100 of 10,000', () => {
    const inbox = new Inbox(100);
    for (let i = 0; i < 10000; i++) inbox.deliver('c', { type: 'n', i }, Date.now() + 60000);
    assert.equal(inbox.stats().buffered, 100);
    assert.equal(inbox.stats().dropped, 9900);
    return inbox.take('c').then((first) => assert.equal(first.i, 9900));
  });

  test('the process buffer of a channel nobody reads stays bounded while another is read', async () => {
    const l = layer({ capacity: 1000, receiveBufferSize: 5 });
    const [idle, busy] = [await l.newChannel(), await l.newChannel()];
    for (let i = 0; i < 50; i++) await l.send(idle, { type: 'idle', i });
    await l.send(busy, { type: 'busy' });
    assert.equal((await l.receive(busy)).type, 'busy');
    assert.equal(l.bufferStats().buffered, 5);
    assert.equal((await l.receive(idle)).i, 45);
  });

  test('a cancelled receive frees its channel\'s buffer', async () => {
    const l = layer();
    const channel = await l.newChannel();
    assert.equal(await receiveWithin(l, channel, 50), NOTHING);
    assert.equal(l.bufferStats().channels, 0);
    assert.equal(l.bufferStats().waiting, 0);
  });

  test('poison messages (bad bytes, wrong key, no __asgi_channel__) are logged and skipped', async () => {
    const logger = recordingLogger();
    const l = layer({ logger, symmetricEncryptionKeys: ['right-key'] });
    const channel = await l.newChannel();
    const key = `${l.prefix}specific.${l.clientPrefix}!`;
    const wrongKey = new MessageCodec({ crypter: MultiFernet.fromSecrets(['wrong-key']) });
    const rightKey = new MessageCodec({ crypter: MultiFernet.fromSecrets(['right-key']) });
    const now = Date.now() / 1000;
    await raw.zadd(key, String(now), Buffer.from('not a message at all'));
    await raw.zadd(key, String(now + 0.00001), wrongKey.encode({ type: 'x', __asgi_channel__: channel }));
    await raw.zadd(key, String(now + 0.00002), rightKey.encode({ type: 'no target' }));
    await l.send(channel, { type: 'good' });
    assert.deepEqual(await l.receive(channel), { type: 'good' });
    assert.equal(logger.lines.filter((line) => line.level === 'warn').length, 3);
  });

  test('a message older than expiry in the process key is dropped at receive', async () => {
    const l = layer({ expiry: 5 });
    const channel = await l.newChannel();
    const key = `${l.prefix}specific.${l.clientPrefix}!`;
    await raw.zadd(key, String(Date.now() / 1000 - 6), new MessageCodec().encode({ type: 'stale', __asgi_channel__: channel }));
    await l.send(channel, { type: 'fresh' });
    assert.equal((await l.receive(channel)).type, 'fresh');
  });
});

describe('two hosts (sharding, django/channels#1492)', () => {
  const HOSTS = ['redis://127.0.0.1:6379/0', 'redis://127.0.0.1:6379/1'];
  const db1 = new Redis('redis://127.0.0.1:6379/1');
  after(() => db1.disconnect());

  test('test_groups_multiple_hosts: writes land on hash(nonLocalName); the own key is read on every shard', async () => {
    const l = layer({ hosts: HOSTS });
    assert.deepEqual(l.hosts, ['127.0.0.1:6379/0', '127.0.0.1:6379/1']);
    const channels = [await l.newChannel(), await l.newChannel(), await l.newChannel()];
    for (const channel of channels) await l.groupAdd('test-group', channel);
    const groupDb = l.shardFor('test-group') === 0 ? raw : db1;
    assert.equal(await groupDb.zcard(groupKey(l.prefix, 'test-group')), 3);
    await l.groupSend('test-group', { type: 'message.1' });
    await l.groupSend('test-group', { type: 'message.2' });
    for (const channel of channels) {
      assert.equal((await l.receive(channel)).type, 'message.1');
      assert.equal((await l.receive(channel)).type, 'message.2');
    }
    const key = `${l.prefix}specific.${l.clientPrefix}!`;
    const home = l.shardFor(`specific.${l.clientPrefix}!`);
    await l.send(channels[0]!, { type: 'direct' });
    assert.equal(await (home === 0 ? raw : db1).zcard(key), 1);
    assert.equal((await l.receive(channels[0]!)).type, 'direct');
    // Django hashes the full name for direct sends: the message may sit on the other shard.
    await (home === 0 ? db1 : raw).zadd(key, String(Date.now() / 1000), new MessageCodec().encode({ type: 'misrouted', __asgi_channel__: channels[1]! }));
    assert.equal((await l.receive(channels[1]!)).type, 'misrouted');
    await l.flush();
    assert.equal(await db1.exists(key, groupKey(l.prefix, 'test-group')), 0);
  });

  test('CHANNEL_LAYER_URL with host= parameters builds a sharded layer with its options', async () => {
    const l = buildChannelLayer(`redis://127.0.0.1:6379/0?host=redis://127.0.0.1:6379/1&prefix=${uniquePrefix()}&capacity=7&channelCapacity={"tiny":1}`) as RedisChannelLayer;
    opened.push(l);
    assert.ok(l instanceof RedisChannelLayer);
    assert.deepEqual(l.hosts, ['127.0.0.1:6379/0', '127.0.0.1:6379/1']);
    assert.equal(l.capacity, 7);
    assert.equal(l.capacityFor('tiny'), 1);
    // General channels are written round robin over the shards (as channels_redis): one per shard fits.
    await l.send('tiny', { type: 'a' });
    await l.send('tiny', { type: 'b' });
    await assert.rejects(l.send('tiny', { type: 'c' }), ChannelFull);
  });
});

describe('Redis going away (own redis-server)', () => {
  test('send fails with LayerUnavailableError; the receive loop reconnects; nothing is delivered twice', async () => {
    const server = await OwnedRedis.start();
    const logger = recordingLogger();
    const l = layer({ hosts: [server.url], logger, connectTimeout: 500 });
    try {
      const channel = await l.newChannel();
      await l.send(channel, { type: 'before', i: 0 });
      assert.equal((await l.receive(channel)).type, 'before');
      const pending = l.receive(channel);
      await server.stop();
      await delay(100);
      const started = Date.now();
      await assert.rejects(l.send(channel, { type: 'during' }), LayerUnavailableError);
      await assert.rejects(l.groupSend('g', { type: 'during' }), LayerUnavailableError);
      await assert.rejects(l.groupAdd('g', channel), LayerUnavailableError);
      assert.ok(Date.now() - started < 2000, 'fails fast while Redis is away');
      await server.startAgain();
      let sent = false;
      for (let i = 0; i < 100 && !sent; i++) {
        try {
          await l.send(channel, { type: 'after', i: 1 });
          sent = true;
        } catch (error) {
          assert.ok(error instanceof LayerUnavailableError);
          await delay(50);
        }
      }
      assert.ok(sent, 'send works again after the restart');
      assert.deepEqual(await pending, { type: 'after', i: 1 });
      await l.send(channel, { type: 'after', i: 2 });
      assert.equal((await l.receive(channel)).i, 2);
      assert.equal(await receiveWithin(l, channel, 300), NOTHING, 'nothing delivered twice');
    } finally {
      await l.close();
      await server.stop();
    }
  });

  test('a receive pending on a general channel (a worker) survives a restart and gets the next message', async () => {
    const server = await OwnedRedis.start();
    const l = layer({ hosts: [server.url], logger: recordingLogger(), connectTimeout: 500 });
    try {
      await l.send('worker-tasks', { type: 'task', i: 0 });
      assert.equal((await l.receive('worker-tasks')).i, 0);
      const pending = l.receive('worker-tasks');
      await server.stop();
      await delay(200);
      await server.startAgain();
      for (let i = 0; ; i++) {
        try {
          await l.send('worker-tasks', { type: 'task', i: 1 });
          break;
        } catch (error) {
          assert.ok(error instanceof LayerUnavailableError && i < 100);
          await delay(50);
        }
      }
      assert.deepEqual(await pending, { type: 'task', i: 1 });
      assert.equal(await receiveWithin(l, 'worker-tasks', 300), NOTHING);
    } finally {
      await l.close();
      await server.stop();
    }
  });

  test('a layer whose Redis is down at startup raises LayerUnavailableError after connectTimeout', async () => {
    const server = await OwnedRedis.start();
    await server.stop();
    const l = layer({ hosts: [server.url], connectTimeout: 300, logger: recordingLogger() });
    const started = Date.now();
    await assert.rejects(l.send('worker', { type: 'x' }), LayerUnavailableError);
    assert.ok(Date.now() - started < 1500);
    await l.close();
  });
});

describe('configuration', () => {
  test('CHANNEL_LAYER_URL: rediss, credentials, db, host= shards in order, JSON and number options', () => {
    const options = layerOptionsFromUrl(new URL(
      'rediss://user:p%40ss@h1:6380/3?host=h2:6381&host=redis://h3/4&prefix=chat&expiry=30&symmetricEncryptionKeys=["a","b"]',
    ));
    assert.deepEqual(options.hosts, [
      { host: 'h1', port: 6380, db: 3, username: 'user', password: 'p@ss', tls: {} },
      { host: 'h2', port: 6381, db: 3, username: 'user', password: 'p@ss', tls: {} },
      { host: 'h3', port: 6379, db: 4 },
    ]);
    assert.equal(options.prefix, 'chat');
    assert.equal(options.expiry, 30);
    assert.deepEqual(options.symmetricEncryptionKeys, ['a', 'b']);
    assert.deepEqual(layerOptionsFromUrl(new URL('redis+pubsub://127.0.0.1/0')).hosts, [{ host: '127.0.0.1', port: 6379, db: 0 }]);
  });

  test('hosts as channels_redis accepts them; a bare string is refused', () => {
    assert.deepEqual(normalizeHosts([['h', 1], 'redis://x:2/5', { address: 'redis://y:3', password: 'pw' }, { host: 'z', port: 4 }]), [
      { host: 'h', port: 1 }, { host: 'x', port: 2, db: 5 }, { host: 'y', port: 3, password: 'pw' }, { host: 'z', port: 4 },
    ]);
    assert.deepEqual(normalizeHosts(undefined), [{ host: '127.0.0.1', port: 6379 }]);
    assert.deepEqual(normalizeHosts([{ sentinels: [['s1', 26379]] as never, master_name: 'mymaster', sentinel_kwargs: { password: 'pw' } }]), [
      { sentinels: [{ host: 's1', port: 26379 }], name: 'mymaster', sentinelPassword: 'pw' },
    ]);
    assert.throws(() => normalizeHosts('redis://h' as never), ImproperlyConfigured);
    assert.throws(() => normalizeHosts(['http://h']), ImproperlyConfigured);
  });
});

guardRedisKeys(`sy-core-${process.pid}-`, `sy-conf-${process.pid}-`);
