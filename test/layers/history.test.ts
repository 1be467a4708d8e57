// Group history (`groupHistory`, docs/recovery.md): one set of behaviours run
// against the in-memory layer, both Redis layers and NATS (JetStream; what only
// JetStream has is in nats-history.test.ts), then what only Redis has
// (a Redis that loses the keys, encryption at rest, several processes, peers
// without history).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { ImproperlyConfigured, InMemoryChannelLayer, InvalidNameError, LayerUnavailableError, type LayerMessage, buildChannelLayer } from 'switchyard';
import { type LayerLogger, RedisChannelLayer, RedisPubSubChannelLayer } from 'switchyard/redis';
import { NatsChannelLayer } from 'switchyard/nats';
import { type GroupHistoryConfig, type HistoryRead, POSITION_KEY, positionOf } from '../../src/layers/history.js';
import { historyKey, historyMetaKey } from '../../src/redis/history.js';
import { guardRedisKeys, keysWithPrefix } from '../helpers/redis-clean.js';
import { OwnedRedis } from '../helpers/redis-server.js';
import { TEST_NATS, guardNatsStreams } from '../helpers/nats-server.js';
import { delay } from '../helpers/time.js';

const REDIS = 'redis://127.0.0.1:6379/0';
const PREFIX = `sy-history-${process.pid}-`;
let prefixes = 0;
const uniquePrefix = () => `${PREFIX}${++prefixes}-`;
/** NATS prefixes are subject tokens (no trailing dash); each has its own history stream, deleted by flush(). */
const NATS_MARKER = `sy-h-${process.pid}-`;
const uniqueNatsPrefix = () => `${NATS_MARKER}${++prefixes}`;
const quiet: LayerLogger = { debug() {}, info() {}, warn() {}, error() {} };

type HistoryLayer = InMemoryChannelLayer | RedisChannelLayer | RedisPubSubChannelLayer | NatsChannelLayer;
const opened: HistoryLayer[] = [];
after(async () => {
  for (const layer of opened) {
    await layer.flush().catch(() => {});
    await layer.close();
  }
});
guardNatsStreams(NATS_MARKER); // after the layers are flushed (flush() deletes a NATS layer's stream)
function track<T extends HistoryLayer>(layer: T): T {
  opened.push(layer);
  return layer;
}

interface Flavour {
  name: string;
  make(groupHistory: GroupHistoryConfig, prefix?: string): HistoryLayer;
  /** The scheme of its URL, for option parsing. */
  url: (query: string) => string;
}

const FLAVOURS: Flavour[] = [
  { name: 'in-memory', make: (groupHistory) => track(new InMemoryChannelLayer({ groupHistory })), url: (q) => `memory://?${q}` },
  {
    name: 'Redis core',
    make: (groupHistory, prefix = uniquePrefix()) => track(new RedisChannelLayer({ hosts: [REDIS], prefix, groupHistory, logger: quiet })),
    url: (q) => `${REDIS}?prefix=${uniquePrefix()}&${q}`,
  },
  {
    name: 'Redis pub/sub',
    make: (groupHistory, prefix = uniquePrefix()) => track(new RedisPubSubChannelLayer({ hosts: [REDIS], prefix, groupHistory, logger: quiet })),
    url: (q) => `${REDIS.replace('redis:', 'redis+pubsub:')}?prefix=${uniquePrefix()}&${q}`,
  },
  {
    name: 'NATS',
    make: (groupHistory, prefix = uniqueNatsPrefix()) => track(new NatsChannelLayer({ servers: [TEST_NATS], prefix, groupHistory, logger: quiet })),
    url: (q) => `nats://${TEST_NATS}?prefix=${uniqueNatsPrefix()}&${q}`,
  },
];

const receive = (layer: HistoryLayer, channel: string) => layer.receive(channel, AbortSignal.timeout(5000));
const offsets = (read: HistoryRead | null) => read!.messages.map((message) => positionOf(message)!.offset);
const texts = (read: HistoryRead | null) => read!.messages.map((message) => (message as { n?: number }).n);

async function sendMany(layer: HistoryLayer, group: string, from: number, to: number): Promise<void> {
  for (let n = from; n <= to; n++) await layer.groupSend(group, { type: 'chat.message', n });
}

for (const flavour of FLAVOURS) {
  describe(`group history: ${flavour.name}`, () => {
    test('stamps the messages it delivers with offsets 1..n in one epoch; the sender\'s object is left as it was', async () => {
      const layer = flavour.make(['chat_*']);
      const member = await layer.newChannel();
      await layer.groupAdd('chat_lobby', member);
      const sent: LayerMessage = { type: 'chat.message', n: 1 };
      await layer.groupSend('chat_lobby', sent);
      await sendMany(layer, 'chat_lobby', 2, 3);
      assert.deepEqual(sent, { type: 'chat.message', n: 1 });
      const received = [await receive(layer, member), await receive(layer, member), await receive(layer, member)];
      const positions = received.map((message) => positionOf(message)!);
      assert.deepEqual(positions.map((p) => [p.group, p.offset]), [['chat_lobby', 1], ['chat_lobby', 2], ['chat_lobby', 3]]);
      assert.equal(new Set(positions.map((p) => p.epoch)).size, 1);
      assert.match(positions[0]!.epoch, /^[A-Za-z0-9]{12}$/);
      assert.deepEqual({ ...received[1] }, { type: 'chat.message', n: 2, [POSITION_KEY]: positions[1] });
    });

    test('readHistory after a position: exactly the later messages, in order, stamped; limit caps them', async () => {
      const layer = flavour.make(['chat_*']);
      await sendMany(layer, 'chat_a', 1, 6);
      const { epoch } = (await layer.readHistory('chat_a', null))!;
      const read = await layer.readHistory('chat_a', { epoch, offset: 3 });
      assert.deepEqual({ ...read, messages: texts(read) }, { epoch, top: 6, recovered: true, messages: [4, 5, 6] });
      assert.deepEqual(read!.messages.map((message) => positionOf(message)), [4, 5, 6].map((offset) => ({ group: 'chat_a', epoch, offset })));
      assert.ok(Object.isFrozen(read!.messages[0]));
      assert.deepEqual(offsets(await layer.readHistory('chat_a', { epoch, offset: 1 }, 2)), [2, 3]);
      const atTop = await layer.readHistory('chat_a', { epoch, offset: 6 });
      assert.deepEqual({ ...atTop, messages: atTop!.messages.length }, { epoch, top: 6, recovered: true, messages: 0 });
    });

    test('since null: the epoch and top only; an unknown group starts at 0', async () => {
      const layer = flavour.make(['chat_*']);
      const empty = await layer.readHistory('chat_empty', null);
      assert.deepEqual({ ...empty, epoch: typeof empty!.epoch }, { epoch: 'string', top: 0, recovered: true, messages: [] });
      await sendMany(layer, 'chat_b', 1, 2);
      const read = await layer.readHistory('chat_b', null);
      assert.deepEqual({ top: read!.top, recovered: read!.recovered, messages: read!.messages }, { top: 2, recovered: true, messages: [] });
      // The epoch a reader saw before the first message is the one the first message gets.
      await layer.groupSend('chat_empty', { type: 'chat.message', n: 1 });
      assert.deepEqual(await layer.readHistory('chat_empty', { epoch: empty!.epoch, offset: 0 }).then(offsets), [1]);
      assert.equal((await layer.readHistory('chat_empty', { epoch: empty!.epoch, offset: 0 }))!.recovered, true);
    });

    test('a position of another epoch: recovered false and the whole current window', async () => {
      const layer = flavour.make({ 'chat_*': { size: 5 } });
      await sendMany(layer, 'chat_c', 1, 3);
      const read = await layer.readHistory('chat_c', { epoch: 'AAAAAAAAAAAA', offset: 2 });
      assert.deepEqual({ recovered: read!.recovered, top: read!.top, n: texts(read) }, { recovered: false, top: 3, n: [1, 2, 3] });
    });

    test('a position that fell out of the window (size 5, 12 sent, read after 2): recovered false and the last 5', async () => {
      const layer = flavour.make({ 'chat_*': { size: 5 } });
      await sendMany(layer, 'chat_d', 1, 12);
      const { epoch } = (await layer.readHistory('chat_d', null))!;
      const read = await layer.readHistory('chat_d', { epoch, offset: 2 });
      assert.deepEqual({ recovered: read!.recovered, top: read!.top, offsets: offsets(read) }, { recovered: false, top: 12, offsets: [8, 9, 10, 11, 12] });
      // The oldest position still answerable: just before the window.
      const edge = await layer.readHistory('chat_d', { epoch, offset: 7 });
      assert.deepEqual({ recovered: edge!.recovered, offsets: offsets(edge) }, { recovered: true, offsets: [8, 9, 10, 11, 12] });
      // A position from the future of this epoch is not recovered either.
      assert.equal((await layer.readHistory('chat_d', { epoch, offset: 13 }))!.recovered, false);
    });

    test('messages older than ttl are dropped; the epoch and top stay', async () => {
      const layer = flavour.make({ 'chat_*': { ttl: 0.2 } });
      await sendMany(layer, 'chat_e', 1, 3);
      const { epoch } = (await layer.readHistory('chat_e', null))!;
      await delay(350);
      const lost = await layer.readHistory('chat_e', { epoch, offset: 1 });
      assert.deepEqual({ recovered: lost!.recovered, top: lost!.top, epoch: lost!.epoch, n: lost!.messages.length }, { recovered: false, top: 3, epoch, n: 0 });
      assert.equal((await layer.readHistory('chat_e', { epoch, offset: 3 }))!.recovered, true);
      await layer.groupSend('chat_e', { type: 'chat.message', n: 4 });
      const read = await layer.readHistory('chat_e', { epoch, offset: 3 });
      assert.deepEqual({ recovered: read!.recovered, offsets: offsets(read), epoch: read!.epoch }, { recovered: true, offsets: [4], epoch });
    });

    test('groups that match no pattern are not stamped and have no history', async () => {
      const layer = flavour.make({ 'chat_*': {}, 'news': { size: 3 } });
      const member = await layer.newChannel();
      await layer.groupAdd('other', member);
      await layer.groupSend('other', { type: 'chat.message', n: 1 });
      assert.deepEqual({ ...(await receive(layer, member)) }, { type: 'chat.message', n: 1 });
      assert.equal(await layer.readHistory('other', null), null);
      assert.equal(await layer.readHistory('news2', { epoch: 'x', offset: 0 }), null);
      assert.notEqual(await layer.readHistory('news', null), null);
      if (layer instanceof RedisChannelLayer || layer instanceof RedisPubSubChannelLayer) {
      assert.deepEqual(await withRedis((redis) => keysWithPrefix(redis, historyKey(layer.prefix, 'other'))), []);
    }
    });

    test('a layer without groupHistory: readHistory answers null and nothing is stamped', async () => {
      const layer = flavour.make(undefined as unknown as GroupHistoryConfig);
      const member = await layer.newChannel();
      await layer.groupAdd('chat_f', member);
      await layer.groupSend('chat_f', { type: 'chat.message', n: 1 });
      assert.equal(POSITION_KEY in (await receive(layer, member)), false);
      assert.equal(await layer.readHistory('chat_f', null), null);
    });

    test('flush() starts a new epoch', async () => {
      const layer = flavour.make(['chat_*']);
      await sendMany(layer, 'chat_g', 1, 3);
      const before = (await layer.readHistory('chat_g', null))!;
      await layer.flush();
      const after = await layer.readHistory('chat_g', { epoch: before.epoch, offset: 3 });
      assert.notEqual(after!.epoch, before.epoch);
      assert.deepEqual({ recovered: after!.recovered, top: after!.top }, { recovered: false, top: 0 });
      await layer.groupSend('chat_g', { type: 'chat.message', n: 4 });
      assert.deepEqual(await layer.readHistory('chat_g', { epoch: after!.epoch, offset: 0 }).then(offsets), [1]);
    });

    test('invalid group names are refused', async () => {
      const layer = flavour.make(['chat_*']);
      await assert.rejects(layer.readHistory('bad name!', null), InvalidNameError);
    });

    test('URL option groupHistory: a list of patterns, a JSON object; a bad value stops with ImproperlyConfigured', async () => {
      const listed = track(buildChannelLayer(flavour.url('groupHistory=chat_*,news')) as HistoryLayer);
      assert.equal((await listed.readHistory('chat_x', null))!.top, 0);
      assert.notEqual(await listed.readHistory('news', null), null);
      assert.equal(await listed.readHistory('other', null), null);
      const json = encodeURIComponent(JSON.stringify({ 'ticker.*': { size: 2, ttl: 60 } }));
      const object = track(buildChannelLayer(flavour.url(`groupHistory=${json}`)) as HistoryLayer);
      await sendMany(object, 'ticker.eur', 1, 3);
      const read = await object.readHistory('ticker.eur', { epoch: 'other', offset: 0 });
      assert.deepEqual(offsets(read), [2, 3]);
      assert.equal(await object.readHistory('chat_x', null), null);
      assert.throws(() => buildChannelLayer(flavour.url(`groupHistory=${encodeURIComponent('{"chat_*":')}`)), ImproperlyConfigured);
      assert.throws(() => buildChannelLayer(flavour.url(`groupHistory=${encodeURIComponent('[1,2]')}`)), ImproperlyConfigured);
      // A misspelt option, an empty pattern and a non-object are refused, not defaulted.
      assert.throws(() => buildChannelLayer(flavour.url(`groupHistory=${encodeURIComponent('{"chat_*":{"sise":5}}')}`)), /unknown option sise/);
      assert.throws(() => buildChannelLayer(flavour.url('groupHistory=')), /empty group pattern/);
      assert.throws(() => buildChannelLayer(flavour.url(`groupHistory=${encodeURIComponent('{"chat_*":5}')}`)), /must be an object/);
    });
  });
}

/** Runs `use` with a connection of its own to the shared Redis. */
async function withRedis<T>(use: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis(REDIS);
  try {
    return await use(redis);
  } finally {
    redis.disconnect();
  }
}

const REDIS_FLAVOURS = FLAVOURS.filter((flavour) => flavour.name.startsWith('Redis'));

for (const flavour of REDIS_FLAVOURS) {
  describe(`group history on Redis: ${flavour.name}`, () => {
    test('the keys are <prefix>switchyard:history:<group> (a stream) and its :meta hash (epoch, top), with TTLs', async () => {
      const prefix = uniquePrefix();
      const layer = flavour.make({ 'chat_*': { ttl: 60 } }, prefix);
      await sendMany(layer, 'chat_k', 1, 2);
      await withRedis(async (redis) => {
        assert.deepEqual(await keysWithPrefix(redis, prefix), [historyKey(prefix, 'chat_k'), historyMetaKey(prefix, 'chat_k')].sort());
        assert.equal(historyKey(prefix, 'chat_k'), `${prefix}switchyard:history:chat_k`);
        assert.equal(historyMetaKey(prefix, 'chat_k'), `${prefix}switchyard:history:chat_k:meta`);
        assert.equal(await redis.type(historyKey(prefix, 'chat_k')), 'stream');
        const meta = await redis.hgetall(historyMetaKey(prefix, 'chat_k'));
        assert.deepEqual({ top: meta.top, epoch: meta.epoch!.length }, { top: '2', epoch: 12 });
        const streamTtl = await redis.pttl(historyKey(prefix, 'chat_k'));
        const metaTtl = await redis.pttl(historyMetaKey(prefix, 'chat_k'));
        assert.ok(streamTtl > 55_000 && streamTtl <= 60_000, String(streamTtl));
        assert.ok(metaTtl > 60_000, 'the epoch outlives the messages');
        const entries = await redis.xrange(historyKey(prefix, 'chat_k'), '-', '+');
        assert.deepEqual(entries.map(([id, fields]) => [id, fields[0], fields[2]]), [['0-1', 'm', 't'], ['0-2', 'm', 't']]);
      });
    });

    test('a Redis that lost the keys: the next message opens a new epoch at offset 1; an old position is not recovered', async () => {
      const prefix = uniquePrefix();
      const layer = flavour.make(['chat_*'], prefix);
      await sendMany(layer, 'chat_l', 1, 4);
      const old = (await layer.readHistory('chat_l', null))!;
      await withRedis((redis) => redis.del(historyKey(prefix, 'chat_l'), historyMetaKey(prefix, 'chat_l')));
      const member = await layer.newChannel();
      await layer.groupAdd('chat_l', member);
      await layer.groupSend('chat_l', { type: 'chat.message', n: 5 });
      const position = positionOf(await receive(layer, member))!;
      assert.notEqual(position.epoch, old.epoch);
      assert.equal(position.offset, 1);
      const read = await layer.readHistory('chat_l', { epoch: old.epoch, offset: 4 });
      assert.deepEqual({ recovered: read!.recovered, epoch: read!.epoch, n: texts(read) }, { recovered: false, epoch: position.epoch, n: [5] });
    });

    test('a stream left without its meta (evicted) is discarded with the lost epoch', async () => {
      const prefix = uniquePrefix();
      const layer = flavour.make(['chat_*'], prefix);
      await sendMany(layer, 'chat_m', 1, 3);
      await withRedis((redis) => redis.del(historyMetaKey(prefix, 'chat_m')));
      await layer.groupSend('chat_m', { type: 'chat.message', n: 4 });
      const read = await layer.readHistory('chat_m', { epoch: 'none', offset: 0 });
      assert.deepEqual({ top: read!.top, n: texts(read), offsets: offsets(read) }, { top: 1, n: [4], offsets: [1] });
    });

    test('two processes sending to one group share one sequence of offsets', async () => {
      const prefix = uniquePrefix();
      const [a, b] = [flavour.make(['chat_*'], prefix), flavour.make(['chat_*'], prefix)];
      await Promise.all([sendMany(a, 'chat_n', 1, 10), sendMany(b, 'chat_n', 11, 20)]);
      const read = await b.readHistory('chat_n', { epoch: (await a.readHistory('chat_n', null))!.epoch, offset: 0 });
      assert.deepEqual(offsets(read), Array.from({ length: 20 }, (_, i) => i + 1));
      assert.deepEqual([...texts(read)].sort((x, y) => x! - y!), Array.from({ length: 20 }, (_, i) => i + 1));
    });

    test('with symmetricEncryptionKeys the stream holds ciphertext, and reads back', async () => {
      const prefix = uniquePrefix();
      const make = (keys: string[]) => track(flavour.name === 'Redis core'
        ? new RedisChannelLayer({ hosts: [REDIS], prefix, groupHistory: ['chat_*'], symmetricEncryptionKeys: keys, logger: quiet })
        : new RedisPubSubChannelLayer({ hosts: [REDIS], prefix, groupHistory: ['chat_*'], symmetricEncryptionKeys: keys, logger: quiet }));
      const layer = make(['secret-1']);
      await layer.groupSend('chat_s', { type: 'chat.message', text: 'plaintext-marker' });
      const raw = await withRedis((redis) => redis.xrangeBuffer(historyKey(prefix, 'chat_s'), '-', '+'));
      assert.equal(raw.length, 1);
      const payload = raw[0]![1][1]!;
      assert.equal(payload.includes('plaintext-marker'), false);
      assert.equal(payload.includes('chat.message'), false);
      const read = await layer.readHistory('chat_s', { epoch: '', offset: 0 });
      assert.equal((read!.messages[0] as { text?: string }).text, 'plaintext-marker');
      // A reader whose keys cannot decrypt it skips it and says something is lost.
      const stranger = make(['other-key']);
      const strange = await stranger.readHistory('chat_s', { epoch: read!.epoch, offset: 0 });
      assert.deepEqual({ recovered: strange!.recovered, n: strange!.messages.length, top: strange!.top }, { recovered: false, n: 0, top: 1 });
    });

    test('a peer without history on the same prefix (as Django): its sends are delivered unstamped and not kept; it receives stamped ones', async () => {
      const prefix = uniquePrefix();
      const layer = flavour.make(['chat_*'], prefix);
      const plain = flavour.make(undefined as unknown as GroupHistoryConfig, prefix);
      const mine = await layer.newChannel();
      const theirs = await plain.newChannel();
      await layer.groupAdd('chat_p', mine);
      await plain.groupAdd('chat_p', theirs);
      await plain.groupSend('chat_p', { type: 'chat.message', n: 1 });
      assert.deepEqual({ ...(await receive(layer, mine)) }, { type: 'chat.message', n: 1 });
      assert.deepEqual({ ...(await receive(plain, theirs)) }, { type: 'chat.message', n: 1 });
      assert.equal((await layer.readHistory('chat_p', null))!.top, 0);
      await layer.groupSend('chat_p', { type: 'chat.message', n: 2 });
      const got = await receive(plain, theirs);
      assert.deepEqual({ n: (got as { n?: number }).n, offset: positionOf(got)!.offset }, { n: 2, offset: 1 });
    });
  });
}

describe('group history on Redis: failures', () => {
  test('a Redis restarted empty (no persistence): the next message opens a new epoch; the old position is not recovered', async () => {
    const server = await OwnedRedis.start();
    const layer = new RedisChannelLayer({ hosts: [server.url], prefix: 'sy-owned-', groupHistory: ['chat_*'], logger: quiet });
    try {
      await sendMany(layer, 'chat_r', 1, 3);
      const old = (await layer.readHistory('chat_r', null))!;
      await server.stop();
      await assert.rejects(layer.groupSend('chat_r', { type: 'chat.message', n: 4 }), LayerUnavailableError);
      await server.startAgain();
      let read: HistoryRead | null = null;
      for (let i = 0; i < 100 && read === null; i++) read = await layer.readHistory('chat_r', { epoch: old.epoch, offset: 3 }).catch(() => delay(50).then(() => null));
      assert.deepEqual({ recovered: read!.recovered, top: read!.top, fresh: read!.epoch !== old.epoch }, { recovered: false, top: 0, fresh: true });
      await layer.groupSend('chat_r', { type: 'chat.message', n: 5 });
      assert.deepEqual(offsets(await layer.readHistory('chat_r', { epoch: read!.epoch, offset: 0 })), [1]);
    } finally {
      await layer.close();
      await server.stop();
    }
  });

  test('Redis away: groupSend and readHistory of a history group fail with LayerUnavailableError', async () => {
    const layer = track(new RedisChannelLayer({ hosts: ['redis://127.0.0.1:1/0'], prefix: uniquePrefix(), groupHistory: ['chat_*'], connectTimeout: 100, logger: quiet }));
    await assert.rejects(layer.groupSend('chat_z', { type: 'x' }), LayerUnavailableError);
    await assert.rejects(layer.readHistory('chat_z', null), LayerUnavailableError);
  });
});

guardRedisKeys(PREFIX);
