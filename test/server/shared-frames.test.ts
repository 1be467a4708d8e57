// Shared frames (the `websocket.send.shared_frames` scope extension): a text
// equal to the last one the server framed goes out as the very same frame
// bytes on every connection without permessage-deflate. Checked over real
// sockets: what each client receives, byte for byte, and which buffers the
// server wrote to each TCP socket, through the stream or straight to its
// descriptor (the same object for every plain socket when the text is
// shared; never shared with a deflate connection).
import '../helpers/without-native-writer.js'; // first: this file sees the writes through node:fs
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { after, describe, test } from 'node:test';
import WebSocket from 'ws';
import type { Application, ReceiveEvent, Send, WebsocketScope } from 'switchyard';
import { deferred, serverPool, type TestServer } from './helpers.js';

/** A server-to-client frame as RFC 6455 §5.2 has it: final, unmasked, header then payload. */
function expectedFrame(opcode: number, payload: Buffer): Buffer {
  const n = payload.length;
  const header = n < 126 ? Buffer.from([0x80 | opcode, n])
    : n < 65536 ? Buffer.from([0x80 | opcode, 126, n >> 8, n & 0xff])
      : Buffer.concat([Buffer.from([0x80 | opcode, 127]), Buffer.from(new BigUint64Array([BigInt(n)]).buffer).reverse()]);
  return Buffer.concat([header, payload]);
}

/**
 * Records every chunk the server writes to each upgraded TCP socket, by
 * request URL: through `socket.write()`, and straight to the socket's file
 * descriptor (the server's direct writes, `fs.writeSync`/`writevSync`, seen
 * here by patching `node:fs` and syncing its ES module exports).
 */
function recordWrites(server: TestServer): Map<string, unknown[]> {
  const writes = new Map<string, unknown[]>();
  const byFd = new Map<number, unknown[]>();
  server.httpServer.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
    const chunks: unknown[] = [];
    writes.set(req.url!, chunks);
    const fd = (socket as Duplex & { _handle?: { fd?: number } })._handle?.fd;
    if (typeof fd === 'number') byFd.set(fd, chunks);
    socket.once('close', () => { if (typeof fd === 'number') byFd.delete(fd); });
    const write = socket.write;
    socket.write = function (this: Duplex, chunk: unknown, ...rest: unknown[]): boolean {
      chunks.push(chunk);
      return (write as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
    } as Duplex['write'];
  });
  const { writeSync, writevSync } = fs;
  fs.writeSync = function (fd: number, buffer: unknown, ...rest: unknown[]): number {
    byFd.get(fd)?.push(buffer);
    return (writeSync as (...args: unknown[]) => number)(fd, buffer, ...rest);
  } as typeof fs.writeSync;
  fs.writevSync = function (fd: number, buffers: readonly NodeJS.ArrayBufferView[], position?: number): number {
    byFd.get(fd)?.push(...buffers);
    return writevSync(fd, buffers, position);
  };
  syncBuiltinESMExports();
  restores.push(() => {
    fs.writeSync = writeSync;
    fs.writevSync = writevSync;
    syncBuiltinESMExports();
  });
  return writes;
}
const restores: Array<() => void> = [];
after(() => { for (const restore of restores) restore(); });

/** The chunk written to a socket whose bytes are exactly `frame` (the first one), or undefined. */
const chunkOf = (chunks: unknown[], frame: Buffer): Buffer | undefined =>
  chunks.find((c): c is Buffer => Buffer.isBuffer(c) && c.equals(frame));

interface Received { data: Buffer; binary: boolean }

/** Opens a client; collects its messages until the server closes it. */
async function client(url: string, deflate: boolean): Promise<{ ws: WebSocket; messages: Received[]; closed: Promise<number> }> {
  const ws = new WebSocket(url, { perMessageDeflate: deflate });
  const messages: Received[] = [];
  ws.on('message', (data: Buffer, binary) => messages.push({ data, binary }));
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
  return { ws, messages, closed };
}

describe('shared frames', () => {
  const { serve, clients } = serverPool();
  const wsUrl = (server: TestServer, path: string): string => `${server.url.replace('http', 'ws')}${path}`;

  test('the scope announces the extension', async () => {
    const seen = deferred<WebsocketScope>();
    const server = await serve(async (scope, receive, send) => {
      if (scope.type !== 'websocket') return;
      seen.resolve(scope);
      await receive();
      await send({ type: 'websocket.close' });
    });
    const ws = new WebSocket(wsUrl(server, '/'));
    ws.on('error', () => {}); // refused with 403: expected
    clients.push(ws);
    const scope = await seen.promise;
    assert.deepEqual(scope.extensions?.['websocket.send.shared_frames'], {});
    assert.deepEqual(scope.extensions?.['websocket.http.response'], {});
  });

  test('a broadcast to N clients delivers the right bytes to each; plain sockets share one frame, a deflate one does not', async () => {
    const members = new Map<string, Send>();
    const allIn = deferred();
    const N = 6; // five plain clients and one with permessage-deflate
    const server = await serve(async (scope, receive, send) => {
      if (scope.type !== 'websocket') return;
      await receive();
      await send({ type: 'websocket.accept' });
      members.set(scope.path + '?' + Buffer.from(scope.query_string).toString(), send);
      if (members.size === N) allIn.resolve();
      await receive();
    }, { wsPerMessageDeflate: true });
    const writes = recordWrites(server);
    const urls = Array.from({ length: N }, (_, i) => `/?member=${i}`);
    const deflateUrl = urls[N - 1]!;
    const conns = [];
    for (const url of urls) {
      const c = await client(wsUrl(server, url), url === deflateUrl);
      clients.push(c.ws);
      conns.push(c);
    }
    await allIn.promise;
    assert.match(conns[N - 1]!.ws.extensions, /permessage-deflate/);
    assert.equal(conns[0]!.ws.extensions, '');

    const shared = {
      small: 'hello',
      unicode: 'héllo ✓ 🎉 — ünïcödé',
      medium: 'm'.repeat(1000), // 16-bit length
      large: 'é'.repeat(40_000) + 'L'.repeat(2000), // 82,000 bytes: over 64 KiB, 64-bit length
      empty: '',
    };
    const binary = Buffer.from(Array.from({ length: 300 }, (_, i) => i % 256));
    const expected: Received[][] = urls.map(() => []);
    const order = [...members.keys()].sort();
    // Everything in one synchronous stretch, as a burst of group messages would come.
    for (const text of Object.values(shared)) {
      for (const url of order) {
        void members.get(url)!({ type: 'websocket.send', text });
        expected[urls.indexOf(url)]!.push({ data: Buffer.from(text), binary: false });
      }
    }
    for (const url of order) {
      void members.get(url)!({ type: 'websocket.send', bytes: binary });
      expected[urls.indexOf(url)]!.push({ data: binary, binary: true });
    }
    // Equal texts that are different string instances (each member renders its own).
    for (const url of order) {
      const text = JSON.stringify({ type: 'chat.message', text: 'rendered per member', n: 7 });
      void members.get(url)!({ type: 'websocket.send', text });
      expected[urls.indexOf(url)]!.push({ data: Buffer.from(text), binary: false });
    }
    // Interleaved different texts: the kept frame changes at every send.
    for (const url of order) {
      for (const text of ['A'.repeat(200), 'B'.repeat(70_000), `to ${url}`]) {
        void members.get(url)!({ type: 'websocket.send', text });
        expected[urls.indexOf(url)]!.push({ data: Buffer.from(text), binary: false });
      }
    }
    // A different text per member, of equal length, back to back: never mistaken for the kept one.
    for (const url of order) {
      const text = `only for ${url}`;
      void members.get(url)!({ type: 'websocket.send', text });
      expected[urls.indexOf(url)]!.push({ data: Buffer.from(text), binary: false });
    }
    for (const url of order) void members.get(url)!({ type: 'websocket.close', code: 4000 });

    for (const c of conns) assert.equal(await c.closed, 4000);
    conns.forEach((c, i) => {
      assert.equal(c.messages.length, expected[i]!.length, `member ${i}: message count`);
      c.messages.forEach((m, j) => {
        assert.equal(m.binary, expected[i]![j]!.binary, `member ${i}, message ${j}: kind`);
        assert.ok(m.data.equals(expected[i]![j]!.data), `member ${i}, message ${j}: bytes`);
      });
    });

    const plain = urls.filter((u) => u !== deflateUrl).map((u) => writes.get(u)!);
    const compressed = writes.get(deflateUrl)!;
    const sharedTexts = [...Object.values(shared), JSON.stringify({ type: 'chat.message', text: 'rendered per member', n: 7 })];
    for (const text of sharedTexts) {
      const frame = expectedFrame(0x1, Buffer.from(text));
      const chunks = plain.map((c) => chunkOf(c, frame));
      assert.ok(chunks.every((c) => c !== undefined), `every plain socket was written the exact frame of ${JSON.stringify(text.slice(0, 20))}`);
      assert.equal(new Set(chunks).size, 1, `one frame buffer for ${JSON.stringify(text.slice(0, 20))} on every plain socket`);
      assert.ok(!compressed.includes(chunks[0]), 'the deflate connection gets its own frame');
    }
    // Interleaved texts are still framed exactly (each one afresh).
    for (const c of plain) assert.ok(chunkOf(c, expectedFrame(0x1, Buffer.from('B'.repeat(70_000)))) !== undefined);
  });

  test('a plain ASGI app gets the sharing: one string for every member, or an equal one rendered per member', async () => {
    for (const perMember of [false, true]) {
      const members = new Set<Send>();
      const app: Application = async (scope, receive, send) => {
        if (scope.type !== 'websocket') return;
        await receive();
        await send({ type: 'websocket.accept' });
        members.add(send);
        for (;;) {
          const event = await receive() as ReceiveEvent;
          if (event.type === 'websocket.disconnect') { members.delete(send); return; }
          if (event.type !== 'websocket.receive') continue;
          const said = String(event.text);
          const shared = JSON.stringify({ said });
          await Promise.all([...members].map((member) =>
            member({ type: 'websocket.send', text: perMember ? JSON.stringify({ said }) : shared })));
        }
      };
      const server = await serve(app);
      const writes = recordWrites(server);
      const conns = [];
      for (let i = 0; i < 4; i++) {
        const c = await client(wsUrl(server, `/?n=${i}`), false);
        clients.push(c.ws);
        conns.push(c);
      }
      const everyone = Promise.all(conns.map((c) => new Promise<void>((resolve) => c.ws.once('message', () => resolve()))));
      conns[0]!.ws.send('hi all');
      await everyone;
      const body = Buffer.from(JSON.stringify({ said: 'hi all' }));
      for (const c of conns) assert.deepEqual(c.messages.map((m) => m.data.toString()), [body.toString()]);
      const frame = expectedFrame(0x1, body);
      const chunks = [...writes.values()].map((c) => chunkOf(c, frame));
      assert.equal(chunks.length, 4);
      assert.ok(chunks.every((c) => c !== undefined));
      assert.equal(new Set(chunks).size, 1, perMember ? 'equal texts share a frame' : 'one string, one frame');
      for (const c of conns) c.ws.close();
    }
  });
});
