// The shared conformance suite and the NATS layer's own behaviours (subjects,
// one publish per group send, capacity through the reply, bad input) on the
// machine's NATS (127.0.0.1:4222, JetStream on), each test under its own prefix.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'nats';
import {
  ChannelFull, ImproperlyConfigured, InvalidChannelLayerError, LayerUnavailableError, MessageTooLarge, buildChannelLayer,
  closeChannelLayers, configureChannelLayers, getChannelLayer, prepareChannelLayers, resetChannelLayers, runOnce,
} from 'switchyard';
import { NatsChannelLayer, type NatsChannelLayerOptions, channelSubject, groupSubject, leaseBucketName, natsOptionsFromUrl } from 'switchyard/nats';
import type { LayerLogger } from 'switchyard/redis';
import type { SlowConsumer } from '../../src/layers/slow-consumers.js';
import { NOTHING, layerConformance, receiveWithin } from './conformance.js';
import { TEST_NATS, guardNatsStreams } from '../helpers/nats-server.js';
import { closedPort } from '../helpers/ports.js';
import { delay, until } from '../helpers/time.js';

const MARKER = `sy-nats-${process.pid}-`;
let prefixes = 0;
const uniquePrefix = () => `${MARKER}${++prefixes}`;
const quiet: LayerLogger = { debug() {}, info() {}, warn() {}, error() {} };
const opened: NatsChannelLayer[] = [];
function layer(options: NatsChannelLayerOptions = {}): NatsChannelLayer {
  const made = new NatsChannelLayer({ servers: [TEST_NATS], prefix: uniquePrefix(), logger: quiet, ...options });
  opened.push(made);
  return made;
}
after(async () => {
  for (const each of opened) {
    await each.flush().catch(() => {});
    await each.close();
  }
});

layerConformance('NatsChannelLayer', (options, namespace) =>
  new NatsChannelLayer({ servers: [TEST_NATS], prefix: namespace.replace(/-$/, ''), logger: quiet, ...options }), {
  capacity: false,
  persistent: false,
  groupExpiry: true,
  shared: true,
});

/** A raw NATS connection of the test's own. */
async function raw() {
  return connect({ servers: TEST_NATS });
}

describe('NATS layer: subjects and fan-out', () => {
  test('newChannel names share one process subject; a group send is ONE publish on <prefix>.g.<group>, whatever the members', async () => {
    const l = layer();
    const channels = await Promise.all(Array.from({ length: 20 }, () => l.newChannel()));
    assert.equal(new Set(channels.map((c) => channelSubject(l.prefix, c))).size, 1);
    assert.match(channels[0]!, /^specific\.[A-Za-z]{12}![A-Za-z]{12}$/);
    for (const channel of channels) await l.groupAdd('room.1', channel);
    const spy = await raw();
    const seen: string[] = [];
    spy.subscribe(`${l.prefix}.>`, { callback: (_e, m) => seen.push(m.subject) });
    await spy.flush();
    await l.groupSend('room.1', { type: 'chat.message', text: 'hi' });
    const received = await Promise.all(channels.map((c) => l.receive(c, AbortSignal.timeout(5000))));
    assert.ok(received.every((m) => m === received[0]), 'every member got the same frozen object');
    await delay(50);
    assert.deepEqual(seen, [groupSubject(l.prefix, 'room.1')]);
    assert.equal(groupSubject(l.prefix, 'room.1'), `${l.prefix}.g.room:1`);
    await spy.close();
  });

  test('names with dots that would make empty subject tokens still work (a..b, trailing dot)', async () => {
    const l = layer();
    const mine = await l.newChannel('odd..name.');
    await l.groupAdd('g..', mine);
    await l.send(mine, { type: 'direct' });
    await l.groupSend('g..', { type: 'group' });
    assert.equal((await l.receive(mine, AbortSignal.timeout(5000))).type, 'direct');
    assert.equal((await l.receive(mine, AbortSignal.timeout(5000))).type, 'group');
  });

  test('a general channel is a queue group: of two receiving processes, exactly one gets each message', async () => {
    const prefix = uniquePrefix();
    const [a, b, sender] = [layer({ prefix }), layer({ prefix }), layer({ prefix })];
    const got: string[] = [];
    const loop = async (l: NatsChannelLayer, name: string, signal: AbortSignal) => {
      for (;;) {
        const message = await l.receive('workers', signal).catch(() => null);
        if (message === null) return;
        got.push(`${name}:${String(message.i)}`);
      }
    };
    const stop = new AbortController();
    const loops = [loop(a, 'a', stop.signal), loop(b, 'b', stop.signal)];
    await delay(100);
    for (let i = 0; i < 20; i++) await sender.send('workers', { type: 'job', i });
    await until(() => got.length >= 20, 5000, 'the 20 jobs');
    await delay(100);
    stop.abort();
    await Promise.all(loops);
    const numbers = got.map((g) => Number(g.split(':')[1])).sort((x, y) => x - y);
    assert.deepEqual(numbers, Array.from({ length: 20 }, (_, i) => i), 'each job once');
  });

  test('groupSend with except leaves that member out on every process', async () => {
    const prefix = uniquePrefix();
    const [a, b] = [layer({ prefix }), layer({ prefix })];
    const [sender, other, remote] = [await a.newChannel(), await a.newChannel(), await b.newChannel()];
    for (const [l, c] of [[a, sender], [a, other], [b, remote]] as const) await l.groupAdd('room', c);
    await a.groupSend('room', { type: 'chat.message' }, { except: sender });
    assert.equal((await a.receive(other, AbortSignal.timeout(5000))).type, 'chat.message');
    assert.equal((await b.receive(remote, AbortSignal.timeout(5000))).type, 'chat.message');
    assert.equal(await receiveWithin(a, sender, 200), NOTHING);
  });

  test('groupAdd of a channel this process does not receive is refused', async () => {
    const l = layer();
    await assert.rejects(l.groupAdd('room', 'specific.elsewhere!abc'), InvalidChannelLayerError);
    assert.throws(() => l.tap('specific.elsewhere!abc', () => {}), InvalidChannelLayerError);
  });
});

describe('NATS layer: capacity and expiry (as the in-memory layer)', () => {
  test('a send to a full channel of another process raises ChannelFull; channelCapacity patterns win; a group send skips it', async () => {
    const prefix = uniquePrefix();
    const receiver = layer({ prefix, capacity: 3, channelCapacity: { 'tiny.*': 1 } });
    const sender = layer({ prefix });
    const channel = await receiver.newChannel();
    const tiny = await receiver.newChannel('tiny');
    for (let i = 0; i < 3; i++) await sender.send(channel, { type: 'm', i });
    await assert.rejects(sender.send(channel, { type: 'm' }), (error) => error instanceof ChannelFull && error.channel === channel);
    await sender.send(tiny, { type: 'one' });
    await assert.rejects(sender.send(tiny, { type: 'two' }), ChannelFull);
    await receiver.groupAdd('g', channel);
    // A member with room hears the group message in the same delivery: once it has it, the full channel was passed over.
    const roomy = await receiver.newChannel();
    await receiver.groupAdd('g', roomy);
    await sender.groupSend('g', { type: 'skipped' });
    assert.equal((await receiver.receive(roomy)).type, 'skipped');
    for (let i = 0; i < 3; i++) assert.equal((await receiver.receive(channel)).i, i);
    assert.equal(await receiveWithin(receiver, channel, 200), NOTHING, 'the group message was skipped, not queued');
    await sender.send(channel, { type: 'room again' });
    assert.equal((await receiver.receive(channel)).type, 'room again');
  });

  test('a tapped consumer\'s slow-consumer policy applies to group messages it cannot take (drop-oldest keeps the newest)', async () => {
    const prefix = uniquePrefix();
    const receiver = layer({ prefix, capacity: 3 });
    const sender = layer({ prefix });
    const channel = await receiver.newChannel();
    await receiver.groupAdd('ticker', channel);
    let told = 0;
    const slow: SlowConsumer = { policyFor: (_message, group) => (group === 'ticker' ? { kind: 'drop-oldest', key: null } : null), tooSlow: () => { told++; } };
    const tap = receiver.tap(channel, () => {}, slow);
    // A second member of the same process, read as it comes: once it has the last tick, so has the tapped one.
    const witness = await receiver.newChannel();
    await receiver.groupAdd('ticker', witness);
    const seen = (async () => { for (let i = 0; i < 6; i++) await receiver.receive(witness, AbortSignal.timeout(5000)); })();
    for (let i = 0; i < 6; i++) await sender.groupSend('ticker', { type: 'tick', i });
    await seen;
    const taken: unknown[] = [];
    for (let message = tap.take(); message !== undefined; message = tap.take()) taken.push(message.i);
    assert.deepEqual(taken, [3, 4, 5]);
    assert.equal(told, 0);
    tap.close();
  });

  test('a send to a channel whose process is gone is dropped and counted, not an error', async () => {
    const l = layer();
    await l.send('specific.GoneProcessXy!abc', { type: 'to nobody' });
    assert.equal(l.stats().unclaimed, 1);
  });
});

describe('NATS layer: runOnce on JetStream KV leases', () => {
  test('of three processes one leads; when it stops, another takes over with a larger generation', async () => {
    const prefix = uniquePrefix();
    const stops = [new AbortController(), new AbortController(), new AbortController()];
    const runs: Array<{ index: number; generation: number }> = [];
    const done = stops.map((stop, index) => runOnce('ticker', async (leader) => {
      runs.push({ index, generation: leader.generation });
      await new Promise((resolve) => leader.signal.addEventListener('abort', resolve, { once: true }));
    }, { layer: layer({ prefix }), ttl: 1000, renewEvery: 200, retryEvery: 100, signal: stop.signal }));
    await until(() => runs.length === 1, 5000, 'a leader');
    await delay(600);
    assert.equal(runs.length, 1, 'renewed: nobody else leads');
    stops[runs[0]!.index]!.abort(new Error('stop'));
    await until(() => runs.length === 2, 3000, 'a second leader');
    assert.notEqual(runs[1]!.index, runs[0]!.index);
    assert.ok(runs[1]!.generation > runs[0]!.generation);
    for (const stop of stops) stop.abort(new Error('stop'));
    await Promise.allSettled(done);
  });
});

describe('NATS layer: the lease bucket made by two processes at once', () => {
  test('a bucket JetStream refuses while another is being made: the lease waits for it and is granted; a lasting refusal is loud', async () => {
    // JetStream may refuse the loser of a race to make the bucket ("subjects overlap"): staged with a stream
    // holding the bucket's subjects, replaced by the real bucket while the layer tries again.
    const logs: string[] = [];
    const l = layer({ logger: { ...quiet, debug: (_f, message) => logs.push(message) } });
    const bucket = leaseBucketName(l.prefix);
    const connection = await raw();
    try {
      const jsm = await connection.jetstreamManager();
      await jsm.streams.add({ name: `${l.prefix}_holder`, subjects: [`$KV.${bucket}.>`] });
      const leased = l.lease('job', 1000);
      await until(() => logs.some((message) => /another process may be doing: trying again/.test(message)), 5000, 'the layer to try again');
      await jsm.streams.delete(`${l.prefix}_holder`);
      await connection.jetstream().views.kv(bucket, { history: 1 });
      const lease = await leased;
      assert.equal(lease?.name, 'job');
      assert.equal(await l.lease('job', 1000), null, 'held: the bucket is the one both see');

      const refused = layer();
      await jsm.streams.add({ name: `${refused.prefix}_holder`, subjects: [`$KV.${leaseBucketName(refused.prefix)}.>`] });
      try {
        await assert.rejects(refused.lease('job', 1000), (error) => error instanceof LayerUnavailableError && /could not open SY_LEASES_.*subjects overlap/.test(error.message));
      } finally {
        await jsm.streams.delete(`${refused.prefix}_holder`);
      }
    } finally {
      await connection.close();
    }
  });
});

describe('NATS layer: bad input and failures', () => {
  test('NATS unreachable at startup: building connects to nothing; the first call fails with a clear LayerUnavailableError', async () => {
    const port = await closedPort();
    const l = layer({ servers: [`127.0.0.1:${port}`], connectTimeout: 500 });
    const started = Date.now();
    await assert.rejects(l.send('specific.a!b', { type: 'x' }), (error) =>
      error instanceof LayerUnavailableError && error.message.includes(`NATS at 127.0.0.1:${port} is unreachable`));
    await assert.rejects(l.newChannel(), LayerUnavailableError);
    await assert.rejects(l.groupSend('g', { type: 'x' }), LayerUnavailableError);
    await assert.rejects(l.ping(), LayerUnavailableError);
    assert.ok(Date.now() - started < 4000, 'fails fast');
  });

  test('a malformed message on the process subject or a group subject is counted and logged, not a crash; delivery goes on', async () => {
    const warnings: string[] = [];
    const l = layer({ logger: { ...quiet, warn: (_f, message) => warnings.push(message) } });
    const channel = await l.newChannel();
    await l.groupAdd('room', channel);
    const other = await raw();
    other.publish(channelSubject(l.prefix, channel), new Uint8Array([0xc1, 0xff, 0x00]));
    other.publish(groupSubject(l.prefix, 'room'), new TextEncoder().encode('not msgpack {'));
    // Valid msgpack but no target channel: skipped too.
    other.publish(channelSubject(l.prefix, channel), new Uint8Array([0x81, 0xa4, 0x74, 0x79, 0x70, 0x65, 0xa1, 0x78]));
    await other.flush();
    await until(() => l.stats().malformed === 3, 5000, 'three malformed messages counted');
    assert.ok(warnings.some((w) => w.includes('cannot be decoded')));
    await l.send(channel, { type: 'still.works' });
    assert.equal((await l.receive(channel)).type, 'still.works');
    await other.close();
  });

  test('a message over the server\'s max_payload is refused with MessageTooLarge before anything is sent', async () => {
    const l = layer({ groupHistory: ['chat_*'] });
    const channel = await l.newChannel();
    await l.groupAdd('chat_big', channel);
    const big = { type: 'big', blob: new Uint8Array(1024 * 1024 + 10) };
    await assert.rejects(l.send(channel, big), (error) => error instanceof MessageTooLarge && /max_payload \(1048576 bytes\)/.test(error.message));
    await assert.rejects(l.groupSend('chat_big', big), MessageTooLarge);
    assert.equal((await l.readHistory('chat_big', null))!.top, 0, 'not kept in the history either');
    assert.equal(await receiveWithin(l, channel, 200), NOTHING);
  });

  test('options are checked: a bad prefix, a bad timeout, an unknown historyStorage', () => {
    assert.throws(() => new NatsChannelLayer({ prefix: 'a b' }), /prefix/);
    assert.throws(() => new NatsChannelLayer({ prefix: 'a.>' }), /prefix/);
    assert.throws(() => new NatsChannelLayer({ requestTimeout: 0 }), /requestTimeout/);
    assert.throws(() => new NatsChannelLayer({ historyStorage: 'disk' as 'file' }), /historyStorage/);
    assert.throws(() => new NatsChannelLayer({ capacity: 0 }), /capacity/);
  });
});

describe('NATS layer: URLs', () => {
  test('nats:// URLs: servers, credentials, TLS and options; misspelt or mistyped options are refused', () => {
    assert.deepEqual(natsOptionsFromUrl(new URL('nats://127.0.0.1:4222?prefix=chat&capacity=10&groupHistory=chat_*')), {
      servers: ['127.0.0.1:4222'], prefix: 'chat', capacity: 10, groupHistory: ['chat_*'],
    });
    assert.deepEqual(natsOptionsFromUrl(new URL('nats://u:p%40ss@h1?server=h2:4223&server=nats://h3:4224')), {
      servers: ['h1:4222', 'h2:4223', 'h3:4224'], user: 'u', pass: 'p@ss',
    });
    assert.deepEqual(natsOptionsFromUrl(new URL('nats+tls://:s3cret@h1:4443')), { servers: ['h1:4443'], token: 's3cret', tls: true });
    assert.deepEqual(natsOptionsFromUrl(new URL('tls://s3cret@h1')), { servers: ['h1:4222'], token: 's3cret', tls: true });
    assert.deepEqual(natsOptionsFromUrl(new URL('nats://')).servers, ['127.0.0.1:4222']);
    assert.throws(() => natsOptionsFromUrl(new URL('nats://h1:4222?capacty=10')), /unknown option "capacty"/);
    assert.throws(() => natsOptionsFromUrl(new URL('nats://h1:4222?capacity=ten')), ImproperlyConfigured);
    assert.throws(() => natsOptionsFromUrl(new URL('nats://h1:4222/0')), /no path/);
    assert.throws(() => natsOptionsFromUrl(new URL('nats://h1:4222?server=h2:99999')), /port 1 to 65535/);
    assert.throws(() => natsOptionsFromUrl(new URL('nats://h1:4222?historyStorage=disk')), /file or memory/);
    assert.ok(buildChannelLayer('nats://127.0.0.1:4222?prefix=x') instanceof NatsChannelLayer);
  });

  test('CHANNEL_LAYER_URL=nats://... works through the registry, as the other layers\' URLs do', async () => {
    const prefix = uniquePrefix();
    configureChannelLayers({ default: `nats://${TEST_NATS}?prefix=${prefix}&capacity=5` });
    try {
      await prepareChannelLayers();
      const l = getChannelLayer()! as NatsChannelLayer;
      assert.ok(l instanceof NatsChannelLayer);
      assert.equal(l.capacity, 5);
      const channel = await l.newChannel();
      await l.send(channel, { type: 'via.url' });
      assert.equal((await l.receive(channel)).type, 'via.url');
      await l.flush();
    } finally {
      await closeChannelLayers();
      resetChannelLayers();
    }
    configureChannelLayers({ default: `nats://${TEST_NATS}?prefx=oops` });
    await assert.rejects(prepareChannelLayers(), /unknown option "prefx"/);
    resetChannelLayers();
  });
});

guardNatsStreams(MARKER);
guardNatsStreams(`sy-conf-${process.pid}-`);
