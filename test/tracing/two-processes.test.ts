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
import { eventually, until } from '../helpers/time.js';
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
async function startServer(name: string, layerUrls: Record<string, string>): Promise<{ port: number; file: string }> {
  const file = join(dir, `${name}.jsonl`);
  writeFileSync(file, '');
  const server = runCommand(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'fixtures/traced-server.ts')], {
    env: { ...process.env, LAYER_URLS: JSON.stringify(layerUrls), TRACE_FILE: file, PROCESS_NAME: name },
  });
  servers.push(server);
  const line = await server.waitFor((l) => typeof l.text === 'string' && l.text.startsWith('LISTENING '), 30_000, `process ${name} listening`);
  return { port: Number(String(line.text).slice('LISTENING '.length)), file };
}

const read = (file: string): SpanRecord[] => readFileSync(file, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as SpanRecord);

// One pair of processes serves both flavours: each has a layer alias per flavour, a room route per alias.
const LAYERS = { core: `redis://127.0.0.1:6379/0?prefix=${PREFIX}core-`, pubsub: `redis+pubsub://127.0.0.1:6379/0?prefix=${PREFIX}pubsub-` };
const processes = Promise.all([startServer('A', LAYERS), startServer('B', LAYERS)]);
processes.catch(() => {});
const reports: string[] = [];
/** B's chat_message spans already looked at (the second flavour's test must find its own). */
const seen = new Set<string>();
after(() => {
  const artifacts = new URL('../../test-artifacts/', import.meta.url);
  mkdirSync(artifacts, { recursive: true });
  writeFileSync(new URL('trace-two-processes.txt', artifacts), reports.join('\n'));
});

for (const [alias, url] of Object.entries(LAYERS)) {
  describe(`two processes on ${url.slice(0, url.indexOf(':'))}://`, () => {
    test("a message from a client of A to a client of B is one trace, B's handler the child of A's groupSend", async () => {
      const [a, b] = await processes;
      const alice = await frameClient(`ws://127.0.0.1:${a.port}/ws/${alias}/lobby/`);
      const bob = await frameClient(`ws://127.0.0.1:${b.port}/ws/${alias}/lobby/`);
      clients.push(alice, bob);
      await alice.next((frame) => frame.text === 'joined');
      await bob.next((frame) => frame.text === 'joined');
      const line = `hello from A over ${alias}`;
      alice.ws.send(line);
      await bob.next((frame) => frame.text === line, 10_000);
      await alice.next((frame) => frame.text === line, 10_000);

      // Each span is in its file once it ended; B's ends once its handler's send settled: wait for it.
      const received = await eventually(() => read(b.file).find((span) => span.name === 'Room.chat_message' && !seen.has(span.spanId)), 10_000, "B's chat_message span");
      seen.add(received.spanId);
      // A's spans of the same trace end once A's handlers returned, which may be after the frame reached
      // both clients (A's groupSend settles when its Redis reply comes): wait for them as well.
      const ofA = (name: string) => (span: SpanRecord) => span.process === 'A' && span.traceId === received.traceId && span.name === name;
      await until(() => read(a.file).some(ofA('Room.websocket_receive')) && read(a.file).some(ofA('Room.chat_message')), 10_000, "A's spans of the trace");
      const all = [...read(a.file), ...read(b.file)];
      const theTrace = all.filter((span) => span.traceId === received.traceId);
      const tree = spanTree(theTrace);
      const report = `One trace across two processes (${url.slice(0, url.indexOf('?'))}), trace ${received.traceId}:\n${tree}\n`;
      console.log(report);
      reports.push(report);

      const sent = theTrace.find((span) => span.process === 'A' && span.name === 'Room.websocket_receive');
      assert.ok(sent, `A's handler of the frame is in B's handler's trace; all spans:\n${spanTree(all)}`);
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
