// One trace across two server processes on a real Redis: a client of process
// A sends a chat line, a client of process B receives it, and the spans both
// processes export (JSON lines, one file each) form ONE trace: A's handler
// of the frame → A's groupSend → B's chat_message handler (its parent, read
// from the message's __switchyard_trace__). The trace's tree is printed and
// written to test-artifacts/trace-two-processes.txt.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand, type Running } from '../helpers/processes.js';
import { frameClient, type FrameClient } from '../helpers/ws-client.js';
import { eventually } from '../helpers/time.js';
import { deleteRedisKeysAfter, guardRedisKeys } from '../helpers/redis-clean.js';
import { type SpanRecord, spanTree } from './helpers.js';

const PREFIX = `sy-trace2-${process.pid}-`;
const dir = mkdtempSync(join(tmpdir(), 'switchyard-trace2-'));
const servers: Running[] = [];
const clients: FrameClient[] = [];
after(async () => {
  for (const client of clients) client.ws.terminate();
  for (const server of servers) server.stop();
  await Promise.all(servers.map((server) => server.exited));
  rmSync(dir, { recursive: true, force: true });
});

/** Starts the traced server fixture as process `name`; resolves with its port and its span file. */
async function startServer(name: string, layerUrl: string): Promise<{ port: number; file: string }> {
  const file = join(dir, `${name}-${servers.length}.jsonl`);
  writeFileSync(file, '');
  const server = runCommand(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'fixtures/traced-server.ts')], {
    env: { ...process.env, CHANNEL_LAYER_URL: layerUrl, TRACE_FILE: file, PROCESS_NAME: name },
  });
  servers.push(server);
  const line = await server.waitFor((l) => typeof l.text === 'string' && l.text.startsWith('LISTENING '), 30_000, `process ${name} listening`);
  return { port: Number(String(line.text).slice('LISTENING '.length)), file };
}

const read = (file: string): SpanRecord[] => readFileSync(file, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as SpanRecord);

for (const scheme of ['redis', 'redis+pubsub']) {
  describe(`two processes on ${scheme}://`, () => {
    test("a message from a client of A to a client of B is one trace, B's handler the child of A's groupSend", async () => {
      const url = `${scheme}://127.0.0.1:6379/0?prefix=${PREFIX}${scheme.length}-`;
      const [a, b] = await Promise.all([startServer('A', url), startServer('B', url)]);
      const alice = await frameClient(`ws://127.0.0.1:${a.port}/ws/lobby/`);
      const bob = await frameClient(`ws://127.0.0.1:${b.port}/ws/lobby/`);
      clients.push(alice, bob);
      await alice.next((frame) => frame.text === 'joined');
      await bob.next((frame) => frame.text === 'joined');
      alice.ws.send('hello from A');
      await bob.next((frame) => frame.text === 'hello from A', 10_000);
      await alice.next((frame) => frame.text === 'hello from A', 10_000);

      // B's span ends once its handler's send settled: wait for it in B's file.
      const received = await eventually(() => read(b.file).find((span) => span.name === 'Room.chat_message'), 10_000, "B's chat_message span");
      const sent = await eventually(() => read(a.file).find((span) => span.name === 'Room.websocket_receive'), 10_000, "A's websocket_receive span");
      const all = [...read(a.file), ...read(b.file)];
      const theTrace = all.filter((span) => span.traceId === received.traceId);
      const tree = spanTree(theTrace);
      const report = `One trace across two processes (${scheme}://), trace ${received.traceId}:\n${tree}\n`;
      console.log(report);
      const artifacts = new URL('../../test-artifacts/', import.meta.url);
      mkdirSync(artifacts, { recursive: true });
      writeFileSync(new URL('trace-two-processes.txt', artifacts), report, { flag: scheme === 'redis' ? 'w' : 'a' });

      assert.equal(sent.traceId, received.traceId, `A's handler and B's handler are in one trace; spans:\n${spanTree(all)}`);
      assert.equal(sent.parentSpanId, null, "the frame's handler starts the trace");
      const groupSend = theTrace.find((span) => span.process === 'A' && span.name === 'groupSend room-lobby');
      assert.ok(groupSend, `A's groupSend is in the trace:\n${tree}`);
      assert.equal(groupSend.parentSpanId, sent.spanId);
      assert.equal(received.parentSpanId, groupSend.spanId, "B's handler is the child of A's groupSend");
      assert.equal(received.process, 'B');
      assert.equal(received.attributes['messaging.system'], 'switchyard');
      assert.equal(received.attributes['messaging.operation'], 'process');
      // A's own member got it too, in the same trace; nothing else of B is (its handshake is another trace).
      assert.ok(theTrace.some((span) => span.process === 'A' && span.name === 'Room.chat_message' && span.parentSpanId === groupSend.spanId), tree);
      assert.deepEqual(theTrace.filter((span) => span.process === 'B').map((span) => span.name), ['Room.chat_message']);
    });
  });
}

deleteRedisKeysAfter(PREFIX);
guardRedisKeys(PREFIX);
