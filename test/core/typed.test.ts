// TypedJsonConsumer: client messages and group events validated by Standard Schema
// schemas (zod, valibot, arktype; sync and async) before any handler sees them.
import { beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import * as v from 'valibot';
import { type } from 'arktype';
import {
  type ChannelLayer, type EventOf, InMemoryChannelLayer, type ReceivedMessage, TypedJsonConsumer, configureChannelLayers, defineProtocol, getChannelLayer, groupSender,
} from 'switchyard';
import { WebsocketCommunicator } from 'switchyard/testing';
import { typedCounts } from '../../src/consumers/typed.js';
import { captureLibraryLogs } from '../helpers/logs.js';

beforeEach(() => configureChannelLayers({ default: new InMemoryChannelLayer() }));

const zodRoom = defineProtocol({
  messages: { say: z.object({ text: z.string().min(1).max(10) }), shout: z.object({ text: z.string(), times: z.number().int().positive() }) },
  events: { chat_message: z.object({ text: z.string(), user: z.string() }) },
  frames: { said: z.object({ text: z.string(), user: z.string() }) },
});

class ZodRoom extends TypedJsonConsumer<typeof zodRoom> {
  static override protocol = zodRoom;
  static override groups = ['room'];
  seen: unknown[] = [];

  override async receiveJson(message: ReceivedMessage<typeof zodRoom>) {
    const text = message.type === 'shout' ? message.text.repeat(message.times) : message.text;
    await this.groupSend('room', { type: 'chat_message', text, user: 'u' });
  }

  async chat_message(event: EventOf<typeof zodRoom, 'chat_message'>) {
    await this.sendJson({ type: 'said', text: event.text, user: event.user });
  }
}

async function open(app: ReturnType<typeof ZodRoom.asApp>, path = '/ws/') {
  const client = new WebsocketCommunicator(app, path);
  assert.equal((await client.connect()).connected, true);
  return client;
}

test('zod, a map by type: valid messages reach receiveJson as the schema outputs them; groupSend reaches the handler', async () => {
  const client = await open(ZodRoom.asApp());
  await client.sendJsonTo({ type: 'say', text: 'hello' });
  assert.deepEqual(await client.receiveJsonFrom(), { type: 'said', text: 'hello', user: 'u' });
  await client.sendJsonTo({ type: 'shout', text: 'ha', times: 3 });
  assert.deepEqual(await client.receiveJsonFrom(), { type: 'said', text: 'hahaha', user: 'u' });
  await client.disconnect();
});

test('an invalid message never reaches receiveJson: the seeds error frame plus code and issues naming the field; the connection lives; one debug line', async () => {
  const logs = captureLibraryLogs('debug');
  const before = typedCounts.invalidMessages;
  try {
    const client = await open(ZodRoom.asApp());
    await client.sendJsonTo({ type: 'say', text: 'x'.repeat(11) });
    const frame = await client.receiveJsonFrom() as { type: string; message: string; code: string; issues: Array<{ path: string; message: string }> };
    assert.equal(frame.type, 'error');
    assert.equal(frame.code, 'invalid_message');
    assert.equal(frame.issues.length, 1);
    assert.equal(frame.issues[0]!.path, 'text');
    assert.match(frame.issues[0]!.message, /10/);
    assert.match(frame.message, /^Invalid message: text: /);
    await client.sendJsonTo({ type: 'shout', text: 'a', times: 'many' });
    assert.deepEqual((await client.receiveJsonFrom() as { issues: Array<{ path: string }> }).issues.map((i) => i.path), ['times']);
    await client.sendJsonTo({ type: 'whisper', text: 'a' });
    const unknown = await client.receiveJsonFrom() as { code: string; issues: Array<{ path: string; message: string }> };
    assert.equal(unknown.code, 'invalid_message');
    assert.deepEqual(unknown.issues, [{ path: 'type', message: 'Expected one of: "say", "shout"' }]);
    await client.sendJsonTo([1, 2]);
    assert.equal((await client.receiveJsonFrom() as { code: string }).code, 'invalid_message');
    // Still the seeds' answer to text that is not JSON.
    await client.sendTo({ text: '{"type": oops' });
    assert.deepEqual(await client.receiveJsonFrom(), { type: 'error', message: 'Invalid JSON format' });
    // The connection lives.
    await client.sendJsonTo({ type: 'say', text: 'still' });
    assert.deepEqual(await client.receiveJsonFrom(), { type: 'said', text: 'still', user: 'u' });
    assert.equal(typedCounts.invalidMessages - before, 4);
    const lines = logs.lines.filter((l) => l.msg.startsWith('invalid message'));
    assert.equal(lines.length, 4, 'one debug line per invalid message');
    assert.ok(lines.every((l) => l.level === 20));
    await client.disconnect();
  } finally {
    logs.restore();
  }
});

test('a group event that fails its schema on receipt is dropped with one warn line and counted; valid ones go on', async () => {
  const logs = captureLibraryLogs('warn');
  const before = typedCounts.invalidEvents;
  try {
    const [a, b] = [await open(ZodRoom.asApp()), await open(ZodRoom.asApp())];
    const layer = getChannelLayer() as ChannelLayer;
    // Another process, running older code, sends a field of the wrong type.
    await layer.groupSend('room', { type: 'chat_message', text: 42, user: 'old' });
    await layer.groupSend('room', { type: 'chat_message', text: 'fine', user: 'new', extra: true });
    for (const client of [a, b]) assert.deepEqual(await client.receiveJsonFrom(), { type: 'said', text: 'fine', user: 'new' });
    assert.equal(await a.receiveNothing(50), true);
    assert.equal(typedCounts.invalidEvents - before, 1, 'counted once per broadcast (two members)');
    const warned = logs.lines.filter((l) => l.msg.startsWith('group event dropped'));
    assert.equal(warned.length, 1);
    assert.match(warned[0]!.msg, /text/);
    await a.disconnect();
    await b.disconnect();
  } finally {
    logs.restore();
  }
});

test('a declared event validated once per broadcast: every member renders the same validated object (one frame for all)', async () => {
  const rendered: object[] = [];
  class Rendering extends TypedJsonConsumer<typeof zodRoom> {
    static override protocol = zodRoom;
    static override groups = ['room'];
    static override renders = {
      chat_message: (event: EventOf<typeof zodRoom, 'chat_message'>) => {
        rendered.push(event);
        return JSON.stringify({ type: 'said', text: event.text, user: event.user });
      },
    };
  }
  const members = await Promise.all([1, 2, 3].map(() => open(Rendering.asApp())));
  await (getChannelLayer() as ChannelLayer).groupSend('room', { type: 'chat_message', text: 'once', user: 'u' });
  for (const m of members) assert.deepEqual(await m.receiveJsonFrom(), { type: 'said', text: 'once', user: 'u' });
  assert.equal(rendered.length, 1, 'rendered once for three members');
  await (getChannelLayer() as ChannelLayer).groupSend('room', { type: 'chat_message', text: 7, user: 'u' });
  for (const m of members) assert.equal(await m.receiveNothing(50), true);
  assert.equal(rendered.length, 1, 'the invalid one rendered for nobody');
  await Promise.all(members.map((m) => m.disconnect()));
});

test('valibot: one schema for every message (no type), and an event map', async () => {
  const line = v.object({ message: v.pipe(v.string(), v.minLength(1, 'Message cannot be empty')), username: v.optional(v.string(), 'Anonymous') });
  const protocol = defineProtocol({ messages: line, events: { line: v.object({ message: v.string(), username: v.string() }) } });
  class Lines extends TypedJsonConsumer<typeof protocol> {
    static override protocol = protocol;
    static override groups = ['lines'];
    override async receiveJson(message: ReceivedMessage<typeof protocol>) {
      await this.groupSend('lines', { type: 'line', message: message.message, username: message.username });
    }
    async line(event: EventOf<typeof protocol, 'line'>) {
      await this.sendJson({ message: event.message, username: event.username });
    }
  }
  const client = await open(Lines.asApp());
  await client.sendJsonTo({ message: 'hi' });
  assert.deepEqual(await client.receiveJsonFrom(), { message: 'hi', username: 'Anonymous' }, 'the default comes from the schema output');
  await client.sendJsonTo({ message: '' });
  const error = await client.receiveJsonFrom() as { message: string; issues: unknown };
  assert.equal(error.message, 'Invalid message: message: Message cannot be empty');
  assert.deepEqual(error.issues, [{ path: 'message', message: 'Message cannot be empty' }]);
  await client.disconnect();
});

test('arktype: a map of messages; the issue names the field', async () => {
  const protocol = defineProtocol({ messages: { move: type({ x: 'number', y: 'number' }) } });
  const moves: Array<{ x: number; y: number }> = [];
  class Board extends TypedJsonConsumer<typeof protocol> {
    static override protocol = protocol;
    override async receiveJson(message: ReceivedMessage<typeof protocol>) {
      moves.push({ x: message.x, y: message.y });
      await this.sendJson({ ok: true });
    }
  }
  const client = await open(Board.asApp());
  await client.sendJsonTo({ type: 'move', x: 1, y: 2 });
  assert.deepEqual(await client.receiveJsonFrom(), { ok: true });
  await client.sendJsonTo({ type: 'move', x: 1, y: 'two' });
  const error = await client.receiveJsonFrom() as { code: string; issues: Array<{ path: string; message: string }> };
  assert.equal(error.code, 'invalid_message');
  assert.equal(error.issues[0]!.path, 'y');
  assert.match(error.issues[0]!.message, /number/);
  assert.deepEqual(moves, [{ x: 1, y: 2 }]);
  await client.disconnect();
});

test('async validation (zod refine with a promise): valid messages and events wait for it, invalid ones are refused', async () => {
  const taken = new Set(['root']);
  const lookUp = async (name: string) => { await new Promise((r) => setTimeout(r, 5)); return !taken.has(name); };
  const protocol = defineProtocol({
    messages: { claim: z.object({ name: z.string().refine(lookUp, 'That name is taken') }) },
    events: { claimed: z.object({ name: z.string().refine(lookUp, 'That name is taken') }) },
  });
  class Names extends TypedJsonConsumer<typeof protocol> {
    static override protocol = protocol;
    static override groups = ['names'];
    override async receiveJson(message: ReceivedMessage<typeof protocol>) {
      await this.groupSend('names', { type: 'claimed', name: message.name });
    }
    async claimed(event: EventOf<typeof protocol, 'claimed'>) { await this.sendJson({ claimed: event.name }); }
  }
  const client = await open(Names.asApp());
  await client.sendJsonTo({ type: 'claim', name: 'ada' });
  assert.deepEqual(await client.receiveJsonFrom(), { claimed: 'ada' });
  await client.sendJsonTo({ type: 'claim', name: 'root' });
  assert.deepEqual((await client.receiveJsonFrom() as { issues: unknown }).issues, [{ path: 'name', message: 'That name is taken' }]);
  await (getChannelLayer() as ChannelLayer).groupSend('names', { type: 'claimed', name: 'root' });
  await (getChannelLayer() as ChannelLayer).groupSend('names', { type: 'claimed', name: 'bob' });
  assert.deepEqual(await client.receiveJsonFrom(), { claimed: 'bob' }, 'the invalid event dropped, the next one in order');
  await client.disconnect();
});

test('defineProtocol refuses what is not a protocol, naming the part', () => {
  assert.throws(() => defineProtocol({ mesages: {} } as never), { name: 'TypeError', message: /unknown part "mesages"/ });
  assert.throws(() => defineProtocol({ events: { a: { parse() {} } } } as never), { name: 'TypeError', message: 'defineProtocol(): events.a is not a Standard Schema' });
  assert.throws(() => defineProtocol({ requests: { r: { output: z.string() } } } as never), { message: /requests\.r is not a Standard Schema/ });
  assert.throws(() => defineProtocol({ events: z.string() } as never), { message: /"events" must be a map of schemas/ });
});

test('with recovery on, a valid event goes out marked with its position and an invalid one leaves a position mark (no gap for the client to wait on)', async () => {
  configureChannelLayers({ default: new InMemoryChannelLayer({ groupHistory: { room: { size: 10, ttl: 60 } } }) });
  const client = new WebsocketCommunicator(ZodRoom.asApp(), '/ws/?switchyard.recover=1');
  assert.equal((await client.connect()).connected, true);
  assert.equal((await client.receiveJsonFrom() as { $sy: string }).$sy, 'r');
  const layer = getChannelLayer() as ChannelLayer;
  await layer.groupSend('room', { type: 'chat_message', text: 'one', user: 'u' });
  await layer.groupSend('room', { type: 'chat_message', text: 2, user: 'u' });
  await layer.groupSend('room', { type: 'chat_message', text: 'three', user: 'u' });
  const frames = [await client.receiveJsonFrom(), await client.receiveJsonFrom(), await client.receiveJsonFrom()] as Array<{ $sy: string; o: number; d?: string }>;
  assert.deepEqual(frames.map((f) => [f.$sy, f.o]), [['m', 1], ['p', 2], ['m', 3]]);
  assert.deepEqual(JSON.parse(frames[2]!.d!), { type: 'said', text: 'three', user: 'u' });
  await client.disconnect();
});

test('groupSender: groupSend from outside a consumer, typed by the protocol and validated before sending', async () => {
  const client = await open(ZodRoom.asApp());
  const send = groupSender(getChannelLayer() as ChannelLayer, zodRoom);
  await send('room', { type: 'chat_message', text: 'from a view', user: 'admin' });
  assert.deepEqual(await client.receiveJsonFrom(), { type: 'said', text: 'from a view', user: 'admin' });
  await assert.rejects(send('room', { type: 'chat_message', text: 7, user: 'admin' } as never), { name: 'TypeError', message: /^groupSend: chat_message: Invalid message: text: / });
  await assert.rejects(send('room', { type: 'chat_mesage', text: 'x', user: 'admin' } as never), { name: 'TypeError', message: 'groupSend: the protocol declares no event "chat_mesage"' });
  assert.equal(await client.receiveNothing(50), true, 'nothing invalid was sent');
  await client.disconnect();
});

test('the server metrics export the typed counters: invalid messages by source, request errors by code', async () => {
  const { ServerMetrics } = await import('switchyard/server');
  const value = (text: string, series: string) => Number(new RegExp(`^${series.replace(/[{}"]/g, '\\$&')} (\\d+)$`, 'm').exec(text)?.[1] ?? NaN);
  const metrics = new ServerMetrics();
  const before = (await metrics.collect()).text;
  const client = await open(ZodRoom.asApp());
  await client.sendJsonTo({ type: 'say', text: 'x'.repeat(11) });
  assert.equal((await client.receiveJsonFrom() as { code: string }).code, 'invalid_message');
  await client.disconnect();
  const after = (await metrics.collect()).text;
  const series = 'switchyard_invalid_messages_total{source="client"}';
  assert.equal(value(after, series) - value(before, series), 1);
  assert.ok(Number.isFinite(value(after, 'switchyard_invalid_messages_total{source="layer"}')));
  assert.match(after, /^# TYPE switchyard_request_errors_total counter$/m);
});
