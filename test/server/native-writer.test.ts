// The native writer (native/write-each.c, built by npm's install step; the
// suite's setup installs gcc for it): loaded here, so the whole server suite
// runs its writes through it; tested directly over real TCP sockets for the
// bytes each peer gets, what the kernel did not take, and bad arguments.
// (shared-frames.test.ts runs the server without it: the fs.writeSync road.)
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { type Server, type Socket, createConnection, createServer } from 'node:net';
import { after, test } from 'node:test';
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import WebSocket from 'ws';
import type { Send } from 'switchyard';
import { writeEach } from '../../src/server/native-writer.js';
import { delay, until } from '../helpers/time.js';
import { openSocket } from '../helpers/ws-client.js';
import { serverPool } from './helpers.js';

const servers: Server[] = [];
const sockets: Socket[] = [];
after(() => {
  for (const socket of sockets) socket.destroy();
  for (const server of servers) server.close();
});

/** `count` connected pairs: the server side (written to by descriptor) and the client side (read). */
async function pairs(count: number): Promise<Array<{ server: Socket; client: Socket; fd: number; received: Buffer[] }>> {
  const accepted: Socket[] = [];
  const server = createServer((socket) => accepted.push(socket));
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  const made = [];
  for (let i = 0; i < count; i++) {
    const client = createConnection(port, '127.0.0.1');
    await once(client, 'connect');
    while (accepted.length <= i) await new Promise((resolve) => setImmediate(resolve));
    const received: Buffer[] = [];
    client.on('data', (chunk: Buffer) => received.push(chunk));
    const serverSide = accepted[i]!;
    sockets.push(client, serverSide);
    made.push({ server: serverSide, client, fd: (serverSide as Socket & { _handle: { fd: number } })._handle.fd, received });
  }
  return made;
}

test('it is built and loaded on this machine (the suite runs the server\'s writes through it)', () => {
  assert.equal(typeof writeEach, 'function', 'build/write-each.node missing or not loaded: is gcc installed (scripts/setup.sh)?');
});

test('each socket gets its frames, whole, once and in order (several in one writev); an entry with no frames is left alone', async () => {
  const peers = await pairs(4);
  const shared = Buffer.from('the same frame for two sockets');
  const [one, two, three] = [Buffer.from('first,'), Buffer.from('second,'), Buffer.from('third')];
  const fds = Int32Array.from(peers.map((p) => p.fd));
  // frames: [shared, one, two, three]; peer 0 and 3 get shared, peer 1 the three in a row, peer 2 nothing.
  const written = new Int32Array([-99, -99, -99, -99]);
  writeEach!(fds, Int32Array.from([0, 1, 0, 0]), Int32Array.from([1, 3, 0, 1]), [shared, one, two, three], 4, written);
  assert.deepEqual([...written], [shared.length, one.length + two.length + three.length, -99, shared.length]);
  await until(() => peers[3]!.received.length > 0 && peers[1]!.received.length > 0, 5000, 'the frames');
  await delay(50);
  assert.deepEqual(peers.map((p) => Buffer.concat(p.received).toString()), [shared.toString(), 'first,second,third', '', shared.toString()]);
});

test('a peer that reads nothing: the kernel takes what fits, then -EAGAIN; nothing is written twice', async () => {
  const [peer] = await pairs(1);
  peer!.client.pause();
  const frame = Buffer.alloc(256 * 1024, 7);
  const written = new Int32Array(1);
  let taken = 0;
  for (let i = 0; i < 200; i++) {
    writeEach!(Int32Array.of(peer!.fd), Int32Array.of(0), Int32Array.of(2), [frame, frame], 1, written);
    if (written[0]! < 0) break;
    taken += written[0]!;
  }
  assert.equal(written[0], -11, 'EAGAIN once the kernel buffers are full');
  peer!.client.resume();
  await until(() => peer!.received.reduce((n, chunk) => n + chunk.length, 0) === taken, 5000, 'every byte taken');
  assert.ok(peer!.received.every((chunk) => chunk.every((byte) => byte === 7)));
});

test('bad arguments throw a TypeError before anything is written', async () => {
  const [peer] = await pairs(1);
  const fds = Int32Array.of(peer!.fd);
  const frame = Buffer.from('x');
  const one = Int32Array.of(1);
  const cases: Array<[string, () => void]> = [
    ['fds must be an Int32Array', () => writeEach!(new Uint32Array(1) as unknown as Int32Array, Int32Array.of(0), one, [frame], 1, new Int32Array(1))],
    ['frames must hold Buffers', () => writeEach!(fds, Int32Array.of(0), one, ['x' as unknown as Buffer], 1, new Int32Array(1))],
    ['count exceeds an array', () => writeEach!(fds, Int32Array.of(0), one, [frame], 2, new Int32Array(1))],
    ["an entry's frames are out of range", () => writeEach!(fds, Int32Array.of(0), Int32Array.of(2), [frame], 1, new Int32Array(1))],
    ['an entry has more than 64 frames', () => writeEach!(fds, Int32Array.of(0), Int32Array.of(65), Array(65).fill(frame), 1, new Int32Array(1))],
    ['writeEach takes 6 arguments', () => (writeEach as unknown as (...args: unknown[]) => void)(fds)],
  ];
  for (const [message, call] of cases) assert.throws(call, (error) => error instanceof TypeError && error.message === message, message);
  await delay(50);
  assert.equal(peer!.received.length, 0);
});

test('a server broadcasting to 150 sockets in one turn, some given two frames: each gets its own, once, in order', async () => {
  const { serve, clients } = serverPool();
  const members: Send[] = [];
  const server = await serve(async (scope, receive, send) => {
    if (scope.type !== 'websocket') return;
    await receive();
    await send({ type: 'websocket.accept' });
    members.push(send);
    const event = await receive();
    if (event.type !== 'websocket.receive') return;
    // One turn: the same text to everyone, then a second one to every other member (two frames in one write).
    members.forEach((member) => void member({ type: 'websocket.send', text: 'to all' }));
    members.forEach((member, i) => { if (i % 2 === 1) void member({ type: 'websocket.send', text: `to ${i} alone` }); });
    await receive();
  });
  const sockets: Array<{ ws: WebSocket; got: string[] }> = [];
  for (let i = 0; i < 150; i++) {
    const ws = await openSocket(`ws://127.0.0.1:${server.port}/`);
    clients.push(ws);
    const got: string[] = [];
    ws.on('message', (data: Buffer) => got.push(data.toString()));
    sockets.push({ ws, got });
  }
  await until(() => members.length === 150, 5000, 'every member');
  sockets[0]!.ws.send('go');
  await until(() => sockets.every(({ got }, i) => got.length === (i % 2 === 1 ? 2 : 1)), 5000, 'every frame');
  await delay(50);
  sockets.forEach(({ got }, i) => assert.deepEqual(got, i % 2 === 1 ? ['to all', `to ${i} alone`] : ['to all']));
});

test('SWITCHYARD_NATIVE=0 at run time: the writer is not loaded (the server writes with fs.writeSync)', () => {
  const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e',
    "const { writeEach } = await import('./src/server/native-writer.ts'); console.log(writeEach === null ? 'off' : 'on');"],
  { encoding: 'utf8', env: { ...process.env, SWITCHYARD_NATIVE: '0' } });
  assert.equal(child.stdout.trim(), 'off', child.stderr);
});

test('installing on a machine whose compiler fails: one line says so, the install succeeds, the built writer is untouched', () => {
  const binary = 'build/write-each.node';
  const before = { bytes: readFileSync(binary), mtime: statSync(binary).mtimeMs };
  const child = spawnSync(process.execPath, ['scripts/build-native.mjs'], { encoding: 'utf8', env: { ...process.env, CC: '/bin/false' } });
  assert.equal(child.status, 0);
  assert.match(child.stdout, /^switchyard: native writer not built \(\/bin\/false failed: .*\); the server writes with fs\.writeSync\n$/);
  assert.ok(readFileSync(binary).equals(before.bytes) && statSync(binary).mtimeMs === before.mtime);
});
