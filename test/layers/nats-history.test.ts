// Group history on the NATS layer (JetStream): the cases of history.test.ts
// (which loops over its own list of layers, so they are written again here for
// NATS), then what only JetStream has (the stream, a lost stream, two
// processes, encryption at rest, a peer without history). Each test has its own
// prefix, so its own stream; flush() at the end deletes it.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'nats';
import { ImproperlyConfigured, InvalidNameError, type LayerMessage, buildChannelLayer } from 'switchyard';
import { NatsChannelLayer, historyStreamName, historySubject } from 'switchyard/nats';
import type { LayerLogger } from 'switchyard/redis';
import { type GroupHistoryConfig, type HistoryRead, POSITION_KEY, positionOf } from '../../src/layers/history.js';
import { TEST_NATS, guardNatsStreams } from '../helpers/nats-server.js';
import { delay } from '../helpers/time.js';

const MARKER = `sy-nh-${process.pid}-`;
let prefixes = 0;
const uniquePrefix = () => `${MARKER}${++prefixes}`;
const quiet: LayerLogger = { debug() {}, info() {}, warn() {}, error() {} };
const opened: NatsChannelLayer[] = [];
after(async () => {
  for (const layer of opened) {
    await layer.flush().catch(() => {});
    await layer.close();
  }
});
function track<T extends NatsChannelLayer>(layer: T): T {
  opened.push(layer);
  return layer;
}
const make = (groupHistory: GroupHistoryConfig | undefined, prefix = uniquePrefix(), extra = {}) =>
  track(new NatsChannelLayer({ servers: [TEST_NATS], prefix, groupHistory, logger: quiet, ...extra }));
const url = (query: string) => `nats://${TEST_NATS}?prefix=${uniquePrefix()}&${query}`;

const receive = (layer: NatsChannelLayer, channel: string) => layer.receive(channel, AbortSignal.timeout(5000));
const offsets = (read: HistoryRead | null) => read!.messages.map((message) => positionOf(message)!.offset);
const texts = (read: HistoryRead | null) => read!.messages.map((message) => (message as { n?: number }).n);

async function sendMany(layer: NatsChannelLayer, group: string, from: number, to: number): Promise<void> {
  for (let n = from; n <= to; n++) await layer.groupSend(group, { type: 'chat.message', n });
}

describe('group history: NATS (the cases of history.test.ts)', () => {
  test('stamps the messages it delivers with offsets 1..n in one epoch; the sender\'s object is left as it was', async () => {
    const layer = make(['chat_*']);
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
    const layer = make(['chat_*']);
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
    const layer = make(['chat_*']);
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
    const layer = make({ 'chat_*': { size: 5 } });
    await sendMany(layer, 'chat_c', 1, 3);
    const read = await layer.readHistory('chat_c', { epoch: 'AAAAAAAAAAAA', offset: 2 });
    assert.deepEqual({ recovered: read!.recovered, top: read!.top, n: texts(read) }, { recovered: false, top: 3, n: [1, 2, 3] });
  });

  test('a position that fell out of the window (size 5, 12 sent, read after 2): recovered false and the last 5', async () => {
    const layer = make({ 'chat_*': { size: 5 } });
    await sendMany(layer, 'chat_d', 1, 12);
    const { epoch } = (await layer.readHistory('chat_d', null))!;
    const read = await layer.readHistory('chat_d', { epoch, offset: 2 });
    assert.deepEqual({ recovered: read!.recovered, top: read!.top, offsets: offsets(read) }, { recovered: false, top: 12, offsets: [8, 9, 10, 11, 12] });
    const edge = await layer.readHistory('chat_d', { epoch, offset: 7 });
    assert.deepEqual({ recovered: edge!.recovered, offsets: offsets(edge) }, { recovered: true, offsets: [8, 9, 10, 11, 12] });
    assert.equal((await layer.readHistory('chat_d', { epoch, offset: 13 }))!.recovered, false);
    // A position that is not an offset is before everything.
    assert.equal((await layer.readHistory('chat_d', { epoch, offset: Number.NaN }))!.recovered, false);
  });

  test('messages older than ttl are dropped; the epoch and top stay', async () => {
    const layer = make({ 'chat_*': { ttl: 0.2 } });
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
    const layer = make({ 'chat_*': {}, 'news': { size: 3 } });
    const member = await layer.newChannel();
    await layer.groupAdd('other', member);
    await layer.groupSend('other', { type: 'chat.message', n: 1 });
    assert.deepEqual({ ...(await receive(layer, member)) }, { type: 'chat.message', n: 1 });
    assert.equal(await layer.readHistory('other', null), null);
    assert.equal(await layer.readHistory('news2', { epoch: 'x', offset: 0 }), null);
    assert.notEqual(await layer.readHistory('news', null), null);
    const stored = await withJetStream((jsm) => jsm.streams.info(historyStreamName(layer.prefix)));
    assert.equal(stored.state.messages, 1, 'only the marker of news: nothing of other');
  });

  test('a layer without groupHistory: readHistory answers null and nothing is stamped', async () => {
    const layer = make(undefined);
    const member = await layer.newChannel();
    await layer.groupAdd('chat_f', member);
    await layer.groupSend('chat_f', { type: 'chat.message', n: 1 });
    assert.equal(POSITION_KEY in (await receive(layer, member)), false);
    assert.equal(await layer.readHistory('chat_f', null), null);
  });

  test('flush() starts a new epoch', async () => {
    const layer = make(['chat_*']);
    await sendMany(layer, 'chat_g', 1, 3);
    const before = (await layer.readHistory('chat_g', null))!;
    await layer.flush();
    const later = await layer.readHistory('chat_g', { epoch: before.epoch, offset: 3 });
    assert.notEqual(later!.epoch, before.epoch);
    assert.deepEqual({ recovered: later!.recovered, top: later!.top }, { recovered: false, top: 0 });
    await layer.groupSend('chat_g', { type: 'chat.message', n: 4 });
    assert.deepEqual(await layer.readHistory('chat_g', { epoch: later!.epoch, offset: 0 }).then(offsets), [1]);
  });

  test('invalid group names are refused', async () => {
    const layer = make(['chat_*']);
    await assert.rejects(layer.readHistory('bad name!', null), InvalidNameError);
  });

  test('URL option groupHistory: a list of patterns, a JSON object; a bad value stops with ImproperlyConfigured', async () => {
    const listed = track(buildChannelLayer(url('groupHistory=chat_*,news')) as NatsChannelLayer);
    assert.equal((await listed.readHistory('chat_x', null))!.top, 0);
    assert.notEqual(await listed.readHistory('news', null), null);
    assert.equal(await listed.readHistory('other', null), null);
    const json = encodeURIComponent(JSON.stringify({ 'ticker.*': { size: 2, ttl: 60 } }));
    const object = track(buildChannelLayer(url(`groupHistory=${json}`)) as NatsChannelLayer);
    await sendMany(object, 'ticker.eur', 1, 3);
    assert.deepEqual(offsets(await object.readHistory('ticker.eur', { epoch: 'other', offset: 0 })), [2, 3]);
    assert.equal(await object.readHistory('chat_x', null), null);
    assert.throws(() => buildChannelLayer(url(`groupHistory=${encodeURIComponent('{"chat_*":')}`)), ImproperlyConfigured);
    assert.throws(() => buildChannelLayer(url(`groupHistory=${encodeURIComponent('[1,2]')}`)), ImproperlyConfigured);
    assert.throws(() => buildChannelLayer(url(`groupHistory=${encodeURIComponent('{"chat_*":{"sise":5}}')}`)), /unknown option sise/);
    assert.throws(() => buildChannelLayer(url('groupHistory=')), /empty group pattern/);
    assert.throws(() => buildChannelLayer(url(`groupHistory=${encodeURIComponent('{"chat_*":5}')}`)), /must be an object/);
  });
});

/** Runs `use` with a JetStream manager on a connection of its own. */
async function withJetStream<T>(use: (jsm: Awaited<ReturnType<Awaited<ReturnType<typeof connect>>['jetstreamManager']>>) => Promise<T>): Promise<T> {
  const connection = await connect({ servers: TEST_NATS });
  try {
    return await use(await connection.jetstreamManager());
  } finally {
    await connection.close();
  }
}

describe('group history on JetStream', () => {
  test('one stream per prefix, SY_HISTORY_<prefix>: subjects <prefix>.h.<group>, file storage, per-subject limit size+1; headers carry epoch and offset', async () => {
    const prefix = uniquePrefix();
    const layer = make({ 'chat_*': { size: 7, ttl: 60 }, 'news': { size: 3 } }, prefix);
    await sendMany(layer, 'chat_k', 1, 2);
    await withJetStream(async (jsm) => {
      const info = await jsm.streams.info(historyStreamName(prefix));
      assert.equal(info.config.name, `SY_HISTORY_${prefix}`);
      assert.deepEqual(info.config.subjects, [`${prefix}.h.*`]);
      assert.equal(info.config.storage, 'file');
      assert.equal(info.config.max_msgs_per_subject, 8);
      assert.ok(info.config.max_age >= 86400e9, 'idle groups keep their epoch a day');
      const last = await jsm.streams.getMessage(historyStreamName(prefix), { last_by_subj: historySubject(prefix, 'chat_k') });
      const { epoch } = (await layer.readHistory('chat_k', null))!;
      assert.deepEqual([last.header.get('Sy-Epoch'), last.header.get('Sy-Offset')], [epoch, '2']);
    });
  });

  test('a stream deleted under the layer (as a server that lost its storage): the next message opens a new epoch at offset 1', async () => {
    const prefix = uniquePrefix();
    const layer = make(['chat_*'], prefix);
    await sendMany(layer, 'chat_l', 1, 4);
    const old = (await layer.readHistory('chat_l', null))!;
    await withJetStream((jsm) => jsm.streams.delete(historyStreamName(prefix)));
    const member = await layer.newChannel();
    await layer.groupAdd('chat_l', member);
    await layer.groupSend('chat_l', { type: 'chat.message', n: 5 });
    const position = positionOf(await receive(layer, member))!;
    assert.notEqual(position.epoch, old.epoch);
    assert.equal(position.offset, 1);
    const read = await layer.readHistory('chat_l', { epoch: old.epoch, offset: 4 });
    assert.deepEqual({ recovered: read!.recovered, epoch: read!.epoch, n: texts(read) }, { recovered: false, epoch: position.epoch, n: [5] });
  });

  test('two processes sending to one group at once share one dense sequence of offsets', async () => {
    const prefix = uniquePrefix();
    const [a, b] = [make(['chat_*'], prefix), make(['chat_*'], prefix)];
    await Promise.all([sendMany(a, 'chat_n', 1, 15), sendMany(b, 'chat_n', 16, 30)]);
    const read = await b.readHistory('chat_n', { epoch: (await a.readHistory('chat_n', null))!.epoch, offset: 0 });
    assert.deepEqual(offsets(read), Array.from({ length: 30 }, (_, i) => i + 1));
    assert.deepEqual([...texts(read)].sort((x, y) => x! - y!), Array.from({ length: 30 }, (_, i) => i + 1));
  });

  test('concurrent sends of one process to one group: offsets follow the calls, and members receive them in that order', async () => {
    const layer = make(['chat_*']);
    const member = await layer.newChannel();
    await layer.groupAdd('chat_q', member);
    await Promise.all(Array.from({ length: 30 }, (_, i) => layer.groupSend('chat_q', { type: 'chat.message', n: i + 1 })));
    const read = await layer.readHistory('chat_q', { epoch: '', offset: 0 });
    assert.deepEqual(texts(read), Array.from({ length: 30 }, (_, i) => i + 1));
    const received: Array<number | undefined> = [];
    for (let i = 0; i < 30; i++) received.push(positionOf(await receive(layer, member))!.offset);
    assert.deepEqual(received, Array.from({ length: 30 }, (_, i) => i + 1));
  });

  test('with symmetricEncryptionKeys the stream holds ciphertext, and reads back; other keys read recovered false', async () => {
    const prefix = uniquePrefix();
    const layer = make(['chat_*'], prefix, { symmetricEncryptionKeys: ['secret-1'] });
    await layer.groupSend('chat_s', { type: 'chat.message', text: 'plaintext-marker' });
    const stored = await withJetStream((jsm) => jsm.streams.getMessage(historyStreamName(prefix), { last_by_subj: historySubject(prefix, 'chat_s') }));
    assert.equal(Buffer.from(stored.data).includes('plaintext-marker'), false);
    const read = await layer.readHistory('chat_s', { epoch: '', offset: 0 });
    assert.equal((read!.messages[0] as { text?: string }).text, 'plaintext-marker');
    const stranger = make(['chat_*'], prefix, { symmetricEncryptionKeys: ['other-key'] });
    const strange = await stranger.readHistory('chat_s', { epoch: read!.epoch, offset: 0 });
    assert.deepEqual({ recovered: strange!.recovered, n: strange!.messages.length, top: strange!.top }, { recovered: false, n: 0, top: 1 });
  });

  test('a peer without history on the same prefix: its sends are delivered unstamped and not kept; it receives stamped ones', async () => {
    const prefix = uniquePrefix();
    const layer = make(['chat_*'], prefix);
    const plain = make(undefined, prefix);
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

guardNatsStreams(MARKER);
