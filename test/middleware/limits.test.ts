// Abuse limits: the token bucket, flood handling (notice, drop, close 1008), per-address
// connection caps, and the per-connection group cap.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Application } from 'switchyard';
import { TooManyGroups, InMemoryChannelLayer } from 'switchyard';
import { LimitsMiddleware, TokenBucket, withGroupLimit } from 'switchyard/middleware';
import { WebsocketCommunicator } from 'switchyard/testing';
import { delay } from '../helpers/time.js';

test('TokenBucket: a burst, then the refill rate', () => {
  const bucket = new TokenBucket(3, 2, 0);
  assert.deepEqual([bucket.take(0), bucket.take(0), bucket.take(0), bucket.take(0)], [true, true, true, false]);
  assert.equal(bucket.take(400), false, '0.8 token after 400 ms');
  assert.equal(bucket.take(500), true, '1 token after 500 ms');
  assert.equal(bucket.take(10_000), true);
  assert.equal(bucket.take(10_000), true);
  assert.equal(bucket.take(10_000), true);
  assert.equal(bucket.take(10_000), false, 'never more than the capacity');
});

/** Echoes every message with a counter; records how it ended. */
function counter(record: { received: number; disconnectCode?: number }): Application {
  return async (_scope, receive, send) => {
    await receive();
    await send({ type: 'websocket.accept' });
    for (;;) {
      const event = await receive();
      if (event.type === 'websocket.disconnect') {
        record.disconnectCode = event.code as number;
        return;
      }
      record.received += 1;
      await send({ type: 'websocket.send', text: JSON.stringify({ n: record.received }) });
    }
  };
}

test('over the rate: messages are dropped before the app, the client gets one notice per interval', async () => {
  const record = { received: 0 };
  const app = LimitsMiddleware(counter(record), { burst: 5, messagesPerSecond: 1, maxDropped: 100, noticeInterval: 60 });
  const client = new WebsocketCommunicator(app, '/');
  await client.connect();
  for (let i = 0; i < 20; i++) await client.sendTo({ text: 'x' });
  const frames: unknown[] = [];
  while (!(await client.receiveNothing(50))) frames.push(JSON.parse(String(await client.receiveFrom())));
  assert.equal(record.received, 5, 'only the burst reached the app');
  const notices = frames.filter((f) => (f as { type?: string }).type === 'error');
  assert.equal(notices.length, 1);
  assert.deepEqual(notices[0], { type: 'error', code: 'rate_limited', message: 'Too many messages: slow down. Some were not delivered.' });
  await client.disconnect();
});

test('persistent flooding closes with 1008 and the app sees a 1008 disconnect', async () => {
  const record: { received: number; disconnectCode?: number } = { received: 0 };
  const app = LimitsMiddleware(counter(record), { burst: 5, messagesPerSecond: 1, maxDropped: 10, forgivePerSecond: 0 });
  const client = new WebsocketCommunicator(app, '/');
  await client.connect();
  for (let i = 0; i < 50; i++) await client.sendTo({ text: 'x' });
  let close;
  for (;;) {
    const out = await client.receiveOutput();
    if (out.type === 'websocket.close') { close = out; break; }
  }
  assert.deepEqual(close, { type: 'websocket.close', code: 1008, reason: 'Rate limit exceeded' });
  await client.wait();
  assert.equal(record.disconnectCode, 1008);
  assert.equal(record.received, 5);
});

test('a client under the rate is never throttled', async () => {
  const record = { received: 0 };
  const app = LimitsMiddleware(counter(record), { burst: 2, messagesPerSecond: 50 });
  const client = new WebsocketCommunicator(app, '/');
  await client.connect();
  for (let i = 0; i < 10; i++) {
    await client.sendTo({ text: 'x' });
    assert.deepEqual(JSON.parse(String(await client.receiveFrom())), { n: i + 1 });
    await delay(25);
  }
  await client.disconnect();
});

test('TokenBucket: a token taken ahead leaves the bucket one short of full until its event comes', () => {
  const bucket = new TokenBucket(3, 2, 0);
  assert.equal(bucket.takeAhead(0), true);
  assert.equal(bucket.take(5_000), true, 'long idle: the bucket is full but for the token taken ahead');
  assert.equal(bucket.take(5_000), true);
  assert.equal(bucket.take(5_000), false);
  bucket.settle(5_000);
  assert.equal(bucket.take(5_500), true, 'settled: it fills again');
  assert.equal(bucket.take(6_000), true);
  assert.equal(bucket.take(6_000), false, 'capacity back to 3 after settle, 1 token per 500 ms');
});

test('after an idle while, a burst of exactly `burst` messages passes, not one more', async () => {
  const record = { received: 0 };
  const app = LimitsMiddleware(counter(record), { burst: 3, messagesPerSecond: 10, maxDropped: 100, noticeInterval: 60 });
  const client = new WebsocketCommunicator(app, '/');
  await client.connect();
  await client.sendTo({ text: 'x' });
  await client.receiveFrom();
  await delay(300); // 3 tokens' worth of refill: the bucket must still hold only its capacity
  for (let i = 0; i < 6; i++) await client.sendTo({ text: 'x' });
  while (!(await client.receiveNothing(50))) await client.receiveFrom();
  assert.equal(record.received, 1 + 3);
  await client.disconnect();
});

test("a read that will pass is the server's own promise: an idle connection holds none of the middleware's", async () => {
  const idle = new Promise<never>(() => {});
  let reads = 0;
  const receive = () => (++reads === 1 ? Promise.resolve({ type: 'websocket.connect' as const }) : idle);
  let waiting: Promise<unknown> | undefined;
  const app: Application = async (_scope, appReceive, appSend) => {
    await appReceive();
    await appSend({ type: 'websocket.accept' });
    waiting = appReceive();
  };
  const scope = { type: 'websocket', path: '/', headers: [], client: ['10.0.0.1', 1] } as unknown as Parameters<Application>[0];
  await LimitsMiddleware(app)(scope, receive, async () => {});
  assert.equal(waiting, idle);
});

test('the app gets the scope as it came: a limit only reads it, and makes no copy', async () => {
  let seen: unknown;
  const scope = { type: 'websocket', path: '/', headers: [], client: ['10.0.0.1', 1] } as unknown as Parameters<Application>[0];
  await LimitsMiddleware(async (appScope) => { seen = appScope; })(scope, async () => ({ type: 'websocket.connect' }), async () => {});
  assert.equal(seen, scope);
});

test('per-address connection cap: the next handshake is refused until one closes', async () => {
  const app = LimitsMiddleware(counter({ received: 0 }), { maxConnectionsPerAddress: 2 });
  const open = (address: string) => new WebsocketCommunicator(app, '/', { scope: { client: [address, 1234] } });
  const a = open('10.0.0.1');
  const b = open('10.0.0.1');
  assert.equal((await a.connect()).connected, true);
  assert.equal((await b.connect()).connected, true);
  assert.equal((await open('10.0.0.1').connect()).connected, false);
  assert.equal((await open('10.0.0.2').connect()).connected, true, 'other addresses are not affected');
  await a.disconnect();
  assert.equal((await open('10.0.0.1').connect()).connected, true);
});

test('withGroupLimit: a channel cannot join more than N groups; leaving gives room back', async () => {
  const layer = withGroupLimit(new InMemoryChannelLayer(), 3);
  const me = await layer.newChannel();
  for (const g of ['a', 'b', 'c']) await layer.groupAdd(g, me);
  await layer.groupAdd('a', me); // re-adding is not a new group
  await assert.rejects(layer.groupAdd('d', me), TooManyGroups);
  const other = await layer.newChannel();
  await layer.groupAdd('d', other);
  await layer.groupDiscard('a', me);
  await layer.groupAdd('d', me);
  await layer.groupSend('d', { type: 'hello' });
  assert.deepEqual(await layer.receive(me), { type: 'hello' });
});

test('invalid limits are refused with a clear message', () => {
  assert.throws(() => LimitsMiddleware(counter({ received: 0 }), { burst: -1 }), /The "burst" limit must be a non-negative number/);
});
