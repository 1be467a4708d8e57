// Request/reply, the consumer's half: {"$sy":"q"} frames answered by what a declared
// handler returns, correlated by id, validated, timed out, and a throw answered, not fatal.
import { beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { type ChannelLayer, InMemoryChannelLayer, RequestError, type RequestHandlers, TypedJsonConsumer, configureChannelLayers, defineProtocol, getChannelLayer } from 'switchyard';
import { WebsocketCommunicator } from 'switchyard/testing';
import { captureLibraryLogs } from '../helpers/logs.js';
import { delay } from '../helpers/time.js';

beforeEach(() => configureChannelLayers({ default: new InMemoryChannelLayer() }));

const protocol = defineProtocol({
  messages: { say: z.object({ text: z.string() }) },
  events: { tick: z.object({ n: z.number() }) },
  requests: {
    add: { input: z.object({ a: z.number(), b: z.number() }), output: z.number() },
    rename: { input: z.object({ name: z.string().min(1).max(20) }), output: z.object({ name: z.string() }) },
    slow: z.object({ ms: z.number() }),
    crash: z.object({}),
    refuse: z.object({}),
    lie: { input: z.object({}), output: z.object({ ok: z.boolean() }) },
    missing: z.object({}),
  },
});

class Calc extends TypedJsonConsumer<typeof protocol> {
  static override protocol = protocol;
  static override groups = ['ticks'];
  static override requestTimeout = 300;
  name = 'anonymous';

  override requests: RequestHandlers<typeof protocol> = {
    add: ({ a, b }) => a + b,
    rename: async ({ name }) => ({ name: (this.name = name) }),
    slow: async ({ ms }) => { await delay(ms); return 'done'; },
    crash: () => { throw new Error('database password is hunter2'); },
    refuse: () => { throw new RequestError('name_refused', 'That name is reserved'); },
    lie: () => ({ ok: 'yes' }) as never,
    missing: undefined as never, // declared, not implemented: answered unknown_request, and a warn line
  };

  async tick(event: { n: number }) { await this.sendJson({ type: 'tick', n: event.n }); }
}

async function open() {
  const client = new WebsocketCommunicator(Calc.asApp(), '/ws/');
  assert.equal((await client.connect()).connected, true);
  return client;
}

const ask = (client: WebsocketCommunicator, id: number, r: string, d: unknown) => client.sendJsonTo({ $sy: 'q', id, r, d });

test('a request is answered with what its handler returns, as {"$sy":"a","id":n,"d":...}', async () => {
  const client = await open();
  await ask(client, 1, 'add', { a: 2, b: 3 });
  assert.equal(await client.receiveFrom(), '{"$sy":"a","id":1,"d":5}');
  await ask(client, 2, 'rename', { name: 'ada' });
  assert.deepEqual(await client.receiveJsonFrom(), { $sy: 'a', id: 2, d: { name: 'ada' } });
  await client.disconnect();
});

test('invalid input, an unknown request, a malformed frame: error replies with stable codes; no handler runs; the connection lives', async () => {
  const client = await open();
  await ask(client, 3, 'rename', { name: '' });
  const invalid = await client.receiveJsonFrom() as { $sy: string; id: number; error: { code: string; message: string; issues: Array<{ path: string }> } };
  assert.equal(invalid.id, 3);
  assert.equal(invalid.error.code, 'invalid_message');
  assert.deepEqual(invalid.error.issues.map((i) => i.path), ['name']);
  assert.match(invalid.error.message, /^Invalid message: name: /);
  await ask(client, 4, 'nope', {});
  assert.deepEqual(await client.receiveJsonFrom(), { $sy: 'a', id: 4, error: { code: 'unknown_request', message: 'Unknown request "nope"' } });
  const logs = captureLibraryLogs('warn');
  try {
    await ask(client, 5, 'missing', {});
    assert.equal((await client.receiveJsonFrom() as { error: { code: string } }).error.code, 'unknown_request');
    assert.ok(logs.lines.some((l) => l.msg.includes('without a handler')), 'a declared request with no handler is a warn line');
  } finally {
    logs.restore();
  }
  await client.sendJsonTo({ $sy: 'q', id: 'x', r: 'add' });
  assert.deepEqual(await client.receiveJsonFrom(), { type: 'error', code: 'bad_request', message: 'Malformed request: "id" must be a non-negative integer and "r" a request name' });
  await ask(client, 6, 'add', { a: 1, b: 1 });
  assert.deepEqual(await client.receiveJsonFrom(), { $sy: 'a', id: 6, d: 2 });
  await client.disconnect();
});

test('a handler that throws answers handler_error without its message (logged at error); a RequestError answers its own code; the socket stays open', async () => {
  const logs = captureLibraryLogs('error');
  try {
    const client = await open();
    await ask(client, 7, 'crash', {});
    const reply = await client.receiveFrom() as string;
    assert.deepEqual(JSON.parse(reply), { $sy: 'a', id: 7, error: { code: 'handler_error', message: 'The request failed' } });
    assert.ok(!reply.includes('hunter2'), 'internals do not leak');
    assert.equal(logs.lines.filter((l) => l.msg === 'request handler failed').length, 1);
    await ask(client, 8, 'refuse', {});
    assert.deepEqual(await client.receiveJsonFrom(), { $sy: 'a', id: 8, error: { code: 'name_refused', message: 'That name is reserved' } });
    await ask(client, 9, 'lie', {});
    assert.deepEqual(await client.receiveJsonFrom(), { $sy: 'a', id: 9, error: { code: 'handler_error', message: 'The request failed' } }, 'a reply that breaks its output schema is not sent');
    await ask(client, 10, 'add', { a: 1, b: 2 });
    assert.deepEqual(await client.receiveJsonFrom(), { $sy: 'a', id: 10, d: 3 });
    await client.disconnect();
  } finally {
    logs.restore();
  }
});

test('a handler slower than requestTimeout is answered timeout; the next request is served', async () => {
  const client = await open();
  await ask(client, 11, 'slow', { ms: 1500 });
  assert.deepEqual(await client.receiveJsonFrom(2000), { $sy: 'a', id: 11, error: { code: 'timeout', message: 'The request took longer than 300 ms' } });
  await ask(client, 12, 'slow', { ms: 1 });
  assert.deepEqual(await client.receiveJsonFrom(), { $sy: 'a', id: 12, d: 'done' });
  // The slow handler's late result is never sent.
  assert.equal(await client.receiveNothing(100), true);
  await client.disconnect();
});

test('replies interleave with broadcasts and each finds its id', async () => {
  const client = await open();
  const layer = getChannelLayer() as ChannelLayer;
  const sends: Array<Promise<unknown>> = [];
  for (let i = 0; i < 20; i++) {
    sends.push(ask(client, 100 + i, 'add', { a: i, b: i }));
    sends.push(layer.groupSend('ticks', { type: 'tick', n: i }));
  }
  await Promise.all(sends);
  const replies = new Map<number, unknown>();
  const ticks: number[] = [];
  while (replies.size < 20 || ticks.length < 20) {
    const frame = await client.receiveJsonFrom() as { $sy?: string; id?: number; d?: unknown; n?: number };
    if (frame.$sy === 'a') replies.set(frame.id!, frame.d);
    else ticks.push(frame.n!);
  }
  for (let i = 0; i < 20; i++) assert.equal(replies.get(100 + i), 2 * i);
  assert.deepEqual(ticks, [...Array(20).keys()]);
  await client.disconnect();
});

test('a seeds-protocol message is still a message; requests are only what carries "$sy":"q"', async () => {
  const seen: unknown[] = [];
  class Echo extends TypedJsonConsumer {
    override async receiveJson(message: unknown) { seen.push(message); }
  }
  const client = new WebsocketCommunicator(Echo.asApp(), '/ws/');
  await client.connect();
  await client.sendJsonTo({ message: 'hi', $sy: 'm' });
  await client.sendJsonTo({ $sy: 'q', id: 1, r: 'anything' });
  assert.deepEqual(await client.receiveJsonFrom(), { $sy: 'a', id: 1, error: { code: 'unknown_request', message: 'Unknown request "anything"' } });
  assert.deepEqual(seen, [{ message: 'hi', $sy: 'm' }]);
  await client.disconnect();
});

// Handlers declared once for the class (static), called with the connection's consumer as `this`;
// an instance's own `requests` win over them.
const small = defineProtocol({ requests: { rename: { input: z.object({ name: z.string().min(1) }), output: z.object({ name: z.string() }) } } });

class Named extends TypedJsonConsumer<typeof small> {
  static override protocol = small;
  name = 'anonymous';

  static override requests = {
    rename({ name }) {
      return { name: (this.name = `${name}!`) };
    },
  } satisfies RequestHandlers<typeof small, Named>;
}

class NamedOwn extends Named {
  override requests: RequestHandlers<typeof small> = { rename: ({ name }) => ({ name: `own ${name}` }) };
}

test('static requests: one handler map for the class, `this` the connection\'s consumer; an instance\'s own requests win', async () => {
  const first = new WebsocketCommunicator(Named.asApp(), '/ws/');
  const second = new WebsocketCommunicator(Named.asApp(), '/ws/');
  assert.equal((await first.connect()).connected, true);
  assert.equal((await second.connect()).connected, true);
  await ask(first, 1, 'rename', { name: 'ada' });
  assert.deepEqual(await first.receiveJsonFrom(), { $sy: 'a', id: 1, d: { name: 'ada!' } });
  await ask(second, 1, 'rename', { name: 'bob' });
  assert.deepEqual(await second.receiveJsonFrom(), { $sy: 'a', id: 1, d: { name: 'bob!' } });
  await ask(first, 2, 'rename', { name: '' });
  assert.equal((await first.receiveJsonFrom() as { error: { code: string } }).error.code, 'invalid_message');
  await first.disconnect();
  await second.disconnect();
  const own = new WebsocketCommunicator(NamedOwn.asApp(), '/ws/');
  assert.equal((await own.connect()).connected, true);
  await ask(own, 1, 'rename', { name: 'cy' });
  assert.deepEqual(await own.receiveJsonFrom(), { $sy: 'a', id: 1, d: { name: 'own cy' } });
  await own.disconnect();
});
