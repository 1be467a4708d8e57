// The server reads and writes WebSocket frames itself on connections without
// extensions (frame-reader.ts, plain-websocket.ts). A raw TCP client sends
// frames cut and mixed the ways a network and a hostile client can, and
// reads the bytes the server answers with.
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { describe, test } from 'node:test';
import WebSocket from 'ws';
import type { ReceiveEvent } from 'switchyard';
import type { ServerOptions } from 'switchyard/server';
import { acceptingApp, deferred, serverPool } from './helpers.js';

const MASK = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);

/** A masked client frame: `first` is the FIN/RSV/opcode byte. */
function frame(first: number, payload: Buffer | string): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const length = body.length;
  const header = length < 126 ? Buffer.from([first, 0x80 | length])
    : length < 65536 ? Buffer.from([first, 0x80 | 126, length >> 8, length & 0xff])
      : Buffer.concat([Buffer.from([first, 0x80 | 127, 0, 0, 0, 0]), Buffer.from([length >>> 24, (length >> 16) & 0xff, (length >> 8) & 0xff, length & 0xff])]);
  return Buffer.concat([header, MASK, body.map((b, i) => b ^ MASK[i % 4]!)]);
}
const text = (t: string) => frame(0x81, t);
const close = (code?: number, reason = '') => frame(0x88, code === undefined ? Buffer.alloc(0) : Buffer.concat([Buffer.from([code >> 8, code & 0xff]), Buffer.from(reason)]));

interface ServerFrame { opcode: number; payload: Buffer }

/** A raw client: upgrades, then collects the frames the server sends and whether it ended the connection. */
class RawClient {
  readonly socket: net.Socket;
  readonly frames: ServerFrame[] = [];
  ended = false;
  #data = Buffer.alloc(0);
  #upgraded = deferred<string>();
  #waiters: Array<() => void> = [];

  /** `after` is written with the upgrade request, in the same write (frames sent before the answer). */
  constructor(port: number, headers = '', after: Buffer = Buffer.alloc(0)) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.setNoDelay(true);
    this.socket.on('data', (chunk: Buffer) => this.#read(chunk));
    this.socket.on('end', () => { this.ended = true; this.#wake(); });
    this.socket.on('close', () => { this.ended = true; this.#wake(); });
    this.socket.on('error', () => {});
    this.socket.write(Buffer.concat([Buffer.from('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
      + `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${headers}\r\n`), after]));
  }

  /** The status line and headers of the handshake's answer. */
  get response(): Promise<string> { return this.#upgraded.promise; }

  #read(chunk: Buffer): void {
    this.#data = Buffer.concat([this.#data, chunk]);
    if (this.#upgraded !== null) {
      const end = this.#data.indexOf('\r\n\r\n');
      if (end === -1) return;
      const head = this.#data.subarray(0, end).toString('latin1');
      this.#data = this.#data.subarray(end + 4);
      const upgraded = this.#upgraded;
      this.#upgraded = null!;
      upgraded.resolve(head);
    }
    for (;;) {
      const d = this.#data;
      if (d.length < 2) break;
      let length = d[1]! & 0x7f;
      let offset = 2;
      if (length === 126) { if (d.length < 4) break; length = d.readUInt16BE(2); offset = 4; }
      else if (length === 127) { if (d.length < 10) break; length = d.readUInt32BE(6); offset = 10; }
      if (d.length < offset + length) break;
      this.frames.push({ opcode: d[0]! & 0x0f, payload: Buffer.from(d.subarray(offset, offset + length)) });
      this.#data = d.subarray(offset + length);
    }
    this.#wake();
  }

  #wake(): void { for (const w of this.#waiters.splice(0)) w(); }

  /** Waits until `check` holds (re-checked on every frame and at the end of the connection). */
  async until(check: () => boolean, what: string, ms = 3000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!check()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; frames: ${JSON.stringify(this.frames.map((f) => [f.opcode, f.payload.toString('latin1')]))}`);
      await new Promise<void>((resolve) => { this.#waiters.push(resolve); setTimeout(resolve, left); });
    }
  }

  /** Writes `bytes` one write per piece, a turn apart, so that the server reads them as separate chunks. */
  async dribble(bytes: Buffer, piece = 1): Promise<void> {
    for (let i = 0; i < bytes.length; i += piece) {
      this.socket.write(bytes.subarray(i, i + piece));
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }

  closeFrame(): { code: number; reason: string } | undefined {
    const f = this.frames.find((x) => x.opcode === 0x8);
    return f === undefined ? undefined : { code: f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005, reason: f.payload.subarray(2).toString('utf8') };
  }
}

/** `promise`, or a failure naming `what` after `ms`. */
function within<T>(promise: Promise<T>, what: string, ms = 3000): Promise<T> {
  let timer!: NodeJS.Timeout;
  const late = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms); });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** An app that records what it receives; `echo` sends every text back. */
function recordingApp(echo = false) {
  const events: ReceiveEvent[] = [];
  const disconnected = deferred<{ code: number; reason: string }>();
  const app = acceptingApp(async (event, send) => {
    events.push(event);
    if (event.type === 'websocket.disconnect') disconnected.resolve({ code: event.code ?? 1005, reason: event.reason ?? '' });
    else if (echo && event.type === 'websocket.receive') await send(event.text !== undefined ? { type: 'websocket.send', text: event.text } : { type: 'websocket.send', bytes: event.bytes! });
  });
  const texts = () => events.flatMap((e) => (e.type === 'websocket.receive' && e.text !== undefined ? [e.text] : []));
  return { app, events, texts, disconnected: disconnected.promise };
}

describe('frames the server reads', () => {
  const { serve } = serverPool();

  /** A server running a recording app (with `options`), and a raw client whose handshake it answered. */
  async function rawConnection(options: ServerOptions = {}) {
    const rec = recordingApp();
    const server = await serve(rec.app, options);
    const client = new RawClient(server.port);
    await client.response;
    return { rec, client };
  }

  test('a frame cut into single bytes, and many frames in one write, arrive whole and in order', async () => {
    const { rec, client } = await rawConnection();
    await client.dribble(text('héllo, byte by byte'));
    client.socket.write(Buffer.concat([text('one'), text('two'), frame(0x81, 'x'.repeat(300)), text('four')]));
    const deadline = Date.now() + 3000;
    while (rec.texts().length < 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(rec.texts(), ['héllo, byte by byte', 'one', 'two', 'x'.repeat(300), 'four']);
    client.socket.destroy();
  });

  test('frames sent with the upgrade request, before the app accepted, reach the app after the accept, in order', async () => {
    const events: string[] = [];
    const received = deferred();
    const app = async (scope: { type: string }, receive: () => Promise<ReceiveEvent>, send: (e: object) => Promise<void>) => {
      if (scope.type !== 'websocket') return;
      await receive();
      await new Promise((resolve) => setTimeout(resolve, 100)); // the frames are in the socket meanwhile
      await send({ type: 'websocket.accept' });
      for (;;) {
        const event = await receive();
        if (event.type !== 'websocket.receive') return;
        events.push(event.text ?? '');
        if (events.length === 2) received.resolve();
      }
    };
    const server = await serve(app as never);
    const client = new RawClient(server.port, '', Buffer.concat([text('early'), text('bird')]));
    assert.match(await client.response, /^HTTP\/1\.1 101 /);
    await received.promise;
    assert.deepEqual(events, ['early', 'bird']);
    client.socket.destroy();
  });

  test('a fragmented message with a ping between its fragments: pong with the same payload, the message whole (a character split across fragments too)', async () => {
    const { rec, client } = await rawConnection();
    const snowman = Buffer.from('☃'); // three bytes, split 1 + 2 across the fragments
    client.socket.write(Buffer.concat([
      frame(0x01, Buffer.concat([Buffer.from('snow'), snowman.subarray(0, 1)])),
      frame(0x89, 'are you there'),
      frame(0x00, Buffer.concat([snowman.subarray(1), Buffer.from('man')])),
      frame(0x80, '!'),
    ]));
    await client.until(() => client.frames.some((f) => f.opcode === 0xa), 'a pong');
    assert.equal(client.frames.find((f) => f.opcode === 0xa)!.payload.toString(), 'are you there');
    const deadline = Date.now() + 3000;
    while (rec.texts().length < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(rec.texts(), ['snow☃man!']);
    client.socket.destroy();
  });

  test('a 70,000-byte binary message (64-bit length) reaches the app whole, and the app\'s binary answer reaches the client whole', async () => {
    const rec = recordingApp(true);
    const server = await serve(rec.app);
    const payload = Buffer.alloc(70_000);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 31) & 0xff;
    const client = new WebSocket(`ws://127.0.0.1:${server.port}/`);
    await once(client, 'open');
    client.send(payload);
    const [answer] = await once(client, 'message') as [Buffer];
    assert.ok(Buffer.from(answer).equals(payload));
    client.close();
  });

  test('permessage-deflate, when the server offers it and the client asks: ws frames that connection, messages go both ways, the close code reaches the app', async () => {
    const rec = recordingApp(true);
    const server = await serve(rec.app, { wsPerMessageDeflate: true });
    const client = new WebSocket(`ws://127.0.0.1:${server.port}/`, { perMessageDeflate: true });
    await once(client, 'open');
    assert.match(client.extensions, /permessage-deflate/);
    client.send('squeeze me '.repeat(50));
    const [answer] = await within(once(client, 'message'), 'the answer') as [Buffer];
    assert.equal(answer.toString(), 'squeeze me '.repeat(50));
    client.close(4003, 'deflated');
    assert.deepEqual(await within(rec.disconnected, 'the disconnect'), { code: 4003, reason: 'deflated' });
  });

  test('the peer closes with a code and a reason: the server echoes them, ends the connection, and the app is told them', async () => {
    const { rec, client } = await rawConnection();
    client.socket.write(close(4001, 'bye ☃'));
    await client.until(() => client.ended, 'the server to end the connection');
    assert.deepEqual(client.closeFrame(), { code: 4001, reason: 'bye ☃' });
    assert.deepEqual(await within(rec.disconnected, 'the disconnect'), { code: 4001, reason: 'bye ☃' });
  });

  test('a close frame without a code: echoed without one, the app is told 1005', async () => {
    const { rec, client } = await rawConnection();
    client.socket.write(close());
    await client.until(() => client.ended, 'the server to end the connection');
    const echo = client.frames.find((f) => f.opcode === 0x8);
    assert.equal(echo?.payload.length, 0);
    assert.equal((await within(rec.disconnected, 'the disconnect')).code, 1005);
  });

  test('the server closes and the peer answers: the server ends the TCP connection; a peer that never answers is dropped after wsCloseTimeout', async () => {
    const app = acceptingApp(async (event, send) => {
      if (event.type === 'websocket.receive') await send({ type: 'websocket.close', code: 4002, reason: 'done' });
    });
    const server = await serve(app, { wsCloseTimeout: 0.3 });
    const polite = new RawClient(server.port);
    await polite.response;
    polite.socket.write(text('close me'));
    await polite.until(() => polite.closeFrame() !== undefined, 'the close frame');
    assert.deepEqual(polite.closeFrame(), { code: 4002, reason: 'done' });
    polite.socket.write(close(4002));
    await polite.until(() => polite.ended, 'the server to end the connection', 1000);

    const silent = new RawClient(server.port);
    await silent.response;
    silent.socket.write(text('close me'));
    await silent.until(() => silent.closeFrame() !== undefined, 'the close frame');
    const closedAt = Date.now();
    await silent.until(() => silent.ended, 'the server to drop the connection', 2000);
    assert.ok(Date.now() - closedAt >= 200, 'not dropped before the close timeout');
  });

  const errors: Array<[string, Buffer[], number]> = [
    ['a continuation frame without a message', [frame(0x80, 'x')], 1002],
    ['a new message inside a fragmented one', [frame(0x01, 'a'), frame(0x81, 'b')], 1002],
    ['a fragmented ping', [frame(0x09, 'p')], 1002],
    ['a ping of 126 bytes', [frame(0x89, 'p'.repeat(126))], 1002],
    ['a close frame of one byte', [frame(0x88, Buffer.from([3]))], 1002],
    ['a close reason that is not UTF-8', [frame(0x88, Buffer.from([0x03, 0xe8, 0xc3, 0x28]))], 1007],
    ['a fragmented message that grows past wsMaxSize', [frame(0x01, 'a'.repeat(60)), frame(0x00, 'a'.repeat(60))], 1009],
    ['a message in more than 16,384 fragments', [frame(0x01, 'a'), ...Array.from({ length: 16_384 }, () => frame(0x00, Buffer.alloc(0)))], 1008],
    ['a text message whose UTF-8 breaks across fragments', [frame(0x01, Buffer.from([0xe2, 0x98])), frame(0x80, Buffer.from([0x28]))], 1007],
  ];
  for (const [what, frames, code] of errors) {
    test(`${what}: close ${code} and the connection ends; the app is told ${code}, and nothing of the bad message`, async () => {
      const { rec, client } = await rawConnection({ wsMaxSize: 100 });
      client.socket.write(Buffer.concat([text('before'), ...frames, text('after')]));
      await client.until(() => client.ended, 'the server to end the connection');
      assert.equal(client.closeFrame()?.code, code);
      assert.equal((await within(rec.disconnected, 'the disconnect')).code, code);
      assert.deepEqual(rec.texts(), ['before']);
    });
  }

  test('an accept header that would split the 101 (CR LF in its value, or a name that is not a token) fails the app\'s send with a ProtocolError; nothing of it is written', async () => {
    for (const [name, value] of [['x-served-by', 'a\r\nX-Injected: 1'], ['bad name', 'x']] as const) {
      const refused = deferred<Error>();
      const app = async (scope: { type: string }, receive: () => Promise<unknown>, send: (e: object) => Promise<void>) => {
        if (scope.type !== 'websocket') return;
        await receive();
        try {
          await send({ type: 'websocket.accept', headers: [[Buffer.from(name), Buffer.from(value)]] });
        } catch (error) {
          refused.resolve(error as Error);
          throw error;
        }
      };
      const server = await serve(app as never);
      const client = new RawClient(server.port);
      const error = await within(refused.promise, 'the refusal');
      assert.equal(error.name, 'ProtocolError');
      assert.match(error.message, /Invalid header in 'websocket\.accept'/);
      const head = await within(client.response, 'the answer');
      assert.match(head, /^HTTP\/1\.1 500 /); // the app failed before accepting
      assert.doesNotMatch(head, /X-Injected|bad name/);
      client.socket.destroy();
    }
  });

  test('a malformed Sec-WebSocket-Protocol header is answered 400 at accept; a subprotocol the client offered is answered', async () => {
    const app = acceptingApp(() => {});
    const chooser = async (scope: { type: string }, receive: () => Promise<unknown>, send: (e: object) => Promise<void>) => {
      if (scope.type !== 'websocket') return;
      await receive();
      await send({ type: 'websocket.accept', subprotocol: 'chat.v2' });
      await receive();
    };
    const server = await serve(app);
    const bad = new RawClient(server.port, 'Sec-WebSocket-Protocol: chat, chat\r\n');
    assert.match(await bad.response, /^HTTP\/1\.1 400 /);
    const picky = await serve(chooser as never);
    const good = new RawClient(picky.port, 'Sec-WebSocket-Protocol: chat.v1, chat.v2\r\n');
    const head = await good.response;
    assert.match(head, /^HTTP\/1\.1 101 /);
    assert.match(head, /\r\nSec-WebSocket-Protocol: chat\.v2(\r\n|$)/);
    assert.match(head, /\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=(\r\n|$)/); // RFC 6455's own example key
    good.socket.destroy();
  });
});
