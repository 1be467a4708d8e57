// Group history on the NATS layer (JetStream): what only JetStream has (the
// stream, a lost stream, two processes, encryption at rest, a peer without
// history); the cases every layer shares run in history.test.ts, NATS among
// them. Each test has its own prefix, so its own stream; flush() at the end deletes it.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, nanos } from 'nats';
import { LayerUnavailableError } from 'switchyard';
import { NatsChannelLayer, historyStreamName, historySubject } from 'switchyard/nats';
import type { LayerLogger } from 'switchyard/redis';
import { DEFAULT_HISTORY, type GroupHistoryConfig, type HistoryRead, positionOf } from '../../src/layers/history.js';
import { TEST_NATS, guardNatsStreams } from '../helpers/nats-server.js';
import { recordingLogger } from '../helpers/logs.js';
import { until } from '../helpers/time.js';

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

const receive = (layer: NatsChannelLayer, channel: string) => layer.receive(channel, AbortSignal.timeout(5000));
const offsets = (read: HistoryRead | null) => read!.messages.map((message) => positionOf(message)!.offset);
const texts = (read: HistoryRead | null) => read!.messages.map((message) => (message as { n?: number }).n);

async function sendMany(layer: NatsChannelLayer, group: string, from: number, to: number): Promise<void> {
  for (let n = from; n <= to; n++) await layer.groupSend(group, { type: 'chat.message', n });
}

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

  test('the stream refused while another is being made (JetStream says "subjects overlap"): the layer finds it and keeps the send; a lasting refusal is loud', async () => {
    // Two processes' first sends create the stream at once, and JetStream may answer the loser "subjects overlap"
    // while the winner's is made. Staged here: another stream holds the subjects, and is replaced by ours meanwhile.
    const prefix = uniquePrefix();
    const logs = recordingLogger();
    const layer = make(['chat_*'], prefix, { logger: logs });
    const holder = { name: `${prefix}_holder`, subjects: [historySubject(prefix, '*')] };
    await withJetStream(async (jsm) => {
      await jsm.streams.add(holder);
      const sent = layer.groupSend('chat_r', { type: 'chat.message', n: 1 });
      await until(() => logs.lines.some((line) => /another process may be doing: trying again/.test(line.message)), 5000, 'the layer to try again');
      await jsm.streams.delete(holder.name);
      await jsm.streams.add({ name: historyStreamName(prefix), subjects: holder.subjects, max_msgs_per_subject: DEFAULT_HISTORY.size + 1, max_age: nanos(86400e3) });
      await sent;
    });
    const read = await layer.readHistory('chat_r', { epoch: '', offset: 0 });
    assert.deepEqual(texts(read), [1]);
    assert.ok(!logs.lines.some((line) => line.level === 'warn'), 'the stream found has the limits asked for: no warning');
    // A process with another groupHistory uses the stream as it is, and says so.
    const otherLimits = recordingLogger();
    await make({ 'chat_*': { size: 5 } }, prefix, { logger: otherLimits }).groupSend('chat_r', { type: 'chat.message', n: 2 });
    assert.ok(otherLimits.lines.some((line) => line.level === 'warn' && /exists with other limits/.test(line.message)));

    // Another stream keeps the subjects: the send fails, naming JetStream's reason, after the retries.
    const other = uniquePrefix();
    const refused = make(['chat_*'], other);
    await withJetStream(async (jsm) => {
      await jsm.streams.add({ name: `${other}_holder`, subjects: [historySubject(other, '*')] });
      try {
        await assert.rejects(refused.groupSend('chat_r', { type: 'chat.message' }), (error) => error instanceof LayerUnavailableError && /could not create .*subjects overlap/.test(error.message));
      } finally {
        await jsm.streams.delete(`${other}_holder`);
      }
    });
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
