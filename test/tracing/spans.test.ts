// Tracing in one process, on a real server and real sockets: the spans of a
// handshake, of handler calls and of layer calls, with their attributes and
// parents; an exception in a handler recorded; a refused handshake; a message
// whose trace context is damaged still handled; misuse of enableTracing
// refused or warned about; disabling stops the spans.
import { after, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  AsyncConsumer, InMemoryChannelLayer, StopConsumer, URLRouter, WebsocketConsumer, configureChannelLayers, path, type LayerMessage,
} from 'switchyard';
import { TRACE_KEY, TracedLayer, disableTracing, enableTracing, isTracingEnabled, parseTraceparent } from 'switchyard/tracing';
import { ApplicationCommunicator } from 'switchyard/testing';
import { frameClient } from '../helpers/ws-client.js';
import { captureLibraryLogs } from '../helpers/logs.js';
import { until } from '../helpers/time.js';
import WebSocket from 'ws';
import { deferred, serverPool } from '../server/helpers.js';
import { type SpanRecord, spanTree, tracingIntoMemory } from './helpers.js';

const { exporter, provider, spans } = tracingIntoMemory();
beforeEach(() => exporter.reset());
after(() => disableTracing());

const layer = new InMemoryChannelLayer();
configureChannelLayers({ default: layer });

/** A chat room: joins `room-<name>`, broadcasts what it receives, sends what the room says. */
class Room extends WebsocketConsumer {
  get group(): string { return `room-${String(this.scope.urlRoute?.kwargs.name)}`; }
  override async connect(): Promise<void> {
    const name = this.scope.urlRoute?.kwargs.name;
    if (name === 'closed') return this.close(4003);
    if (name === 'crash') throw new Error('boom in connect');
    if (name === 'slow') {
      slowConnect.resolve();
      await slowRelease.promise;
    }
    await this.channelLayer!.groupAdd(this.group, this.channelName);
    await this.accept();
  }
  override async receive(text: string | Uint8Array): Promise<void> {
    if (text === 'boom') throw new Error('boom in receive');
    await this.channelLayer!.groupSend(this.group, { type: 'chat.message', text: String(text) });
  }
  async chat_message(event: { text: string }): Promise<void> {
    await this.send(event.text);
  }
}

/** The `slow` room's connect: tells it started, then waits for the test. */
const slowConnect = deferred();
const slowRelease = deferred();

const app = URLRouter([path('ws/<name>/', Room.asApp())]);
const one = (list: SpanRecord[], what: string, match: (span: SpanRecord) => boolean): SpanRecord => {
  const found = list.filter(match);
  assert.equal(found.length, 1, `one ${what} span expected; spans:\n${spanTree(list)}`);
  return found[0]!;
};

describe('spans on a real server', () => {
  const { serve, clients } = serverPool();

  test('a handshake, its handlers and layer calls; a message followed from sender to every member in one trace', async () => {
    assert.equal(isTracingEnabled(), true);
    const server = await serve(app);
    const alice = await frameClient(`ws://127.0.0.1:${server.port}/ws/lobby/`);
    const bob = await frameClient(`ws://127.0.0.1:${server.port}/ws/lobby/`);
    clients.push(alice.ws, bob.ws);
    alice.ws.send('hello');
    await bob.next((frame) => frame.text === 'hello');
    await alice.next((frame) => frame.text === 'hello');
    alice.ws.close(4000);
    await alice.closed;
    await until(() => spans().some((span) => span.name === 'Room.websocket_disconnect'), 5000, 'the disconnect span');
    const all = spans();

    // The handshake: a SERVER span named after its consumer, with path, route values and 101.
    const handshakes = all.filter((span) => span.name === 'websocket handshake Room');
    assert.equal(handshakes.length, 2, spanTree(all));
    const handshake = handshakes[0]!;
    assert.equal(handshake.kind, SpanKind.SERVER);
    assert.equal(handshake.parentSpanId, null);
    assert.equal(handshake.attributes['url.path'], '/ws/lobby/');
    assert.equal(handshake.attributes['switchyard.route.name'], 'lobby');
    assert.equal(handshake.attributes['switchyard.consumer'], 'Room');
    assert.equal(handshake.attributes['http.response.status_code'], 101);

    // websocket_connect and its groupAdd are children of the handshake, in its trace.
    const connect = one(all, 'connect', (span) => span.name === 'Room.websocket_connect' && span.parentSpanId === handshake.spanId);
    assert.equal(connect.traceId, handshake.traceId);
    assert.equal(connect.attributes['switchyard.handler'], 'websocket_connect');
    assert.equal(connect.attributes['switchyard.event.type'], 'websocket.connect');
    const groupAdd = one(all, 'groupAdd', (span) => span.name === 'groupAdd room-lobby' && span.parentSpanId === connect.spanId);
    assert.equal(groupAdd.kind, SpanKind.CLIENT);
    assert.equal(groupAdd.attributes['messaging.system'], 'switchyard');
    assert.equal(groupAdd.attributes['messaging.operation'], 'groupAdd');
    assert.equal(groupAdd.attributes['messaging.destination.name'], 'room-lobby');
    assert.match(String(groupAdd.attributes['switchyard.channel']), /^specific\./);

    // A frame after the handshake starts a trace of its own, linked to its handshake.
    const receive = one(all, 'receive', (span) => span.name === 'Room.websocket_receive');
    assert.equal(receive.parentSpanId, null);
    assert.equal(receive.kind, SpanKind.SERVER);
    assert.equal(connect.kind, SpanKind.INTERNAL);
    assert.notEqual(receive.traceId, handshake.traceId);
    assert.equal(receive.links.length, 1);
    assert.ok(handshakes.some((span) => span.spanId === receive.links[0]), 'linked to its handshake');

    // The groupSend is its child; each member's chat_message handler is the groupSend's child.
    const groupSend = one(all, 'groupSend', (span) => span.name === 'groupSend room-lobby');
    assert.equal(groupSend.parentSpanId, receive.spanId);
    assert.equal(groupSend.kind, SpanKind.PRODUCER);
    assert.equal(groupSend.attributes['messaging.operation'], 'groupSend');
    assert.equal(groupSend.attributes['switchyard.event.type'], 'chat.message');
    const handled = all.filter((span) => span.name === 'Room.chat_message');
    assert.equal(handled.length, 2, spanTree(all));
    for (const span of handled) {
      assert.equal(span.parentSpanId, groupSend.spanId);
      assert.equal(span.traceId, receive.traceId);
      assert.equal(span.kind, SpanKind.CONSUMER);
      assert.equal(span.attributes['messaging.operation'], 'process');
      assert.equal(span.attributes['messaging.destination.name'], span.attributes['switchyard.channel']);
      assert.equal(span.status.code, SpanStatusCode.UNSET);
    }
    assert.notEqual(handled[0]!.attributes['switchyard.channel'], handled[1]!.attributes['switchyard.channel']);

    // The disconnect carries its close code; leaving the group is not part of the handshake's (ended) trace.
    const disconnect = one(all, 'disconnect', (span) => span.name === 'Room.websocket_disconnect');
    assert.equal(disconnect.attributes['switchyard.websocket.close_code'], 4000);
    const trace1 = all.filter((span) => span.traceId === receive.traceId);
    console.log(`one message's trace:\n${spanTree(trace1)}`);
  });

  test('a handler that throws: its span records the exception, status ERROR; the connection closes with 1011', async () => {
    const server = await serve(app);
    const client = await frameClient(`ws://127.0.0.1:${server.port}/ws/errors/`);
    clients.push(client.ws);
    client.ws.send('boom');
    assert.equal(await client.closed, 1011);
    const all = spans();
    const failed = one(all, 'failing receive', (span) => span.name === 'Room.websocket_receive');
    assert.equal(failed.status.code, SpanStatusCode.ERROR);
    assert.equal(failed.status.message, 'boom in receive');
    assert.deepEqual(failed.events, ['exception']);
  });

  test('a refused handshake: the span ends with the HTTP status and the close code the app is told', async () => {
    const server = await serve(app);
    await assert.rejects(frameClient(`ws://127.0.0.1:${server.port}/ws/closed/`), /handshake refused: 403/);
    await until(() => spans().some((span) => span.name.startsWith('websocket handshake')), 5000, 'the handshake span');
    const handshake = one(spans(), 'handshake', (span) => span.name === 'websocket handshake Room');
    assert.equal(handshake.attributes['http.response.status_code'], 403);
    assert.equal(handshake.attributes['switchyard.websocket.close_code'], 1006);
    assert.equal(handshake.status.code, SpanStatusCode.UNSET, 'a refusal is an answer, not a failure');
  });

  test('an app failing before accept: the handshake answers 500, both spans are errors', async () => {
    const server = await serve(app);
    await assert.rejects(frameClient(`ws://127.0.0.1:${server.port}/ws/crash/`), /handshake refused: 500/);
    await until(() => spans().some((span) => span.name.startsWith('websocket handshake')), 5000, 'the handshake span');
    const handshake = one(spans(), 'handshake', (span) => span.name === 'websocket handshake Room');
    assert.equal(handshake.attributes['http.response.status_code'], 500);
    assert.equal(handshake.status.code, SpanStatusCode.ERROR);
    const connect = one(spans(), 'connect', (span) => span.name === 'Room.websocket_connect');
    assert.equal(connect.parentSpanId, handshake.spanId);
    assert.equal(connect.status.message, 'boom in connect');
  });

  test('a client leaving during the handshake: the span ends, abandoned, with 1006', async () => {
    const server = await serve(app);
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/ws/slow/`);
    ws.on('error', () => {}); // the client gives up: its own abort is reported as an error
    await slowConnect.promise;
    ws.terminate();
    await until(() => spans().some((span) => span.name.startsWith('websocket handshake')), 5000, 'the handshake span');
    slowRelease.resolve();
    const handshake = one(spans(), 'handshake', (span) => span.name === 'websocket handshake Room');
    assert.equal(handshake.attributes['switchyard.websocket.abandoned'], true);
    assert.equal(handshake.attributes['switchyard.websocket.close_code'], 1006);
    assert.equal(handshake.attributes['http.response.status_code'], undefined);
  });

  test("a client's traceparent header makes the handshake a child of the client's span", async () => {
    const server = await serve(app);
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const client = await frameClient(`ws://127.0.0.1:${server.port}/ws/headers/`, { headers: { traceparent } });
    clients.push(client.ws);
    await until(() => spans().some((span) => span.name === 'websocket handshake Room'), 5000, 'the handshake span');
    const handshake = one(spans(), 'handshake', (span) => span.name === 'websocket handshake Room');
    assert.equal(handshake.traceId, '0af7651916cd43dd8448eb211c80319c');
    assert.equal(handshake.parentSpanId, 'b7ad6b7169203331');
  });
});

describe('handlers and layers without a server', () => {
  test('StopConsumer is control flow: the span is not an error', async () => {
    class Stopper extends AsyncConsumer {
      async websocket_connect(): Promise<void> { throw new StopConsumer(); }
    }
    const instance = new ApplicationCommunicator(Stopper.asApp(), { type: 'websocket', path: '/' } as never);
    await instance.sendInput({ type: 'websocket.connect' });
    await instance.wait(2000);
    const span = one(spans(), 'connect', (s) => s.name === 'Stopper.websocket_connect');
    assert.equal(span.status.code, SpanStatusCode.UNSET);
    assert.equal(span.attributes['switchyard.control'], 'StopConsumer');
  });

  test('a message whose trace context is damaged is handled as usual, in a new trace', async () => {
    const got: LayerMessage[] = [];
    class Worker extends AsyncConsumer {
      task_run(message: LayerMessage): void { got.push(message); }
    }
    const instance = new ApplicationCommunicator(Worker.asApp(), { type: 'channel', channel: 'tasks' });
    await instance.sendInput({ type: 'task.run', [TRACE_KEY]: { traceparent: 'not-a-traceparent' } } as LayerMessage);
    await until(() => got.length === 1, 2000, 'the message handled');
    const span = one(spans(), 'task', (s) => s.name === 'Worker.task_run');
    assert.equal(span.parentSpanId, null);
    assert.equal(span.attributes['switchyard.event.type'], 'task.run');
    instance.cancel();
  });

  test("a TracedLayer puts the active span's context in a copy of the message; the receiver's receive span is its child", async () => {
    const traced = new TracedLayer(new InMemoryChannelLayer());
    const channel = await traced.newChannel();
    const message = { type: 'note', n: 1 };
    const tracer = provider.getTracer('test');
    const outer = tracer.startSpan('outer');
    await context.with(trace.setSpan(context.active(), outer), () => traced.send(channel, message));
    outer.end();
    assert.deepEqual(message, { type: 'note', n: 1 }, "the sender's object is left as it was");
    const received = await traced.receive(channel, AbortSignal.timeout(2000));
    const carried = parseTraceparent((received as Record<string, { traceparent: string }>)[TRACE_KEY]!.traceparent);
    const send = one(spans(), 'send', (s) => s.name === 'send');
    assert.equal(send.parentSpanId, outer.spanContext().spanId);
    assert.equal(send.attributes['messaging.destination.name'], channel);
    assert.equal(carried?.spanId, send.spanId);
    const receive = one(spans(), 'receive', (s) => s.name === 'receive');
    assert.equal(receive.parentSpanId, send.spanId);
    assert.equal(receive.kind, SpanKind.CONSUMER);
  });

  test('a bad message through a TracedLayer is refused with the layer\'s own error, and the span records it', async () => {
    const traced = new TracedLayer(new InMemoryChannelLayer());
    await assert.rejects(traced.send('some-channel', { type: 'x', when: new Date() } as unknown as LayerMessage), /message.when: Date is not allowed/);
    await assert.rejects(traced.groupSend('bad group!', { type: 'x' }), /Group name must be/);
    const failed = spans().filter((s) => s.status.code === SpanStatusCode.ERROR);
    assert.equal(failed.length, 2, spanTree(spans()));
  });

  test('enableTracing refuses options it does not know, and a provider that is not one', () => {
    assert.throws(() => enableTracing({ tracerProvidr: provider } as never), { name: 'TypeError', message: "enableTracing() has no option 'tracerProvidr' (known: tracerProvider)" });
    assert.throws(() => enableTracing({ tracerProvider: {} as never }), /must be an OpenTelemetry TracerProvider/);
    assert.equal(isTracingEnabled(), true, 'a refused call leaves tracing as it was');
  });

  test('enableTracing with no context manager registered says spans will not nest (a warning, not silence)', () => {
    const logs = captureLibraryLogs('warn');
    context.disable(); // back to the no-op context manager
    try {
      enableTracing({ tracerProvider: provider });
      assert.equal(logs.lines.length, 1);
      assert.match(logs.lines[0]!.msg, /no OpenTelemetry context manager is registered, so spans will not nest/);
    } finally {
      context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
      logs.restore();
    }
    const quiet = captureLibraryLogs('warn');
    try {
      enableTracing({ tracerProvider: provider });
      assert.deepEqual(quiet.lines, [], 'with one registered, nothing to say');
    } finally {
      quiet.restore();
    }
  });

  test('disableTracing: handlers and layers make no span, and messages carry no trace context', async () => {
    disableTracing();
    try {
      const traced = new TracedLayer(new InMemoryChannelLayer());
      const channel = await traced.newChannel();
      await traced.send(channel, { type: 'plain' });
      assert.deepEqual(await traced.receive(channel, AbortSignal.timeout(2000)), { type: 'plain' });
      class Quiet extends AsyncConsumer {
        quiet_note(): void {}
      }
      const instance = new ApplicationCommunicator(Quiet.asApp(), { type: 'channel', channel: 'quiet' });
      await instance.sendInput({ type: 'quiet.note' });
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.deepEqual(spans(), []);
    } finally {
      enableTracing({ tracerProvider: provider });
    }
  });
});
