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
import { closeSync, copyFileSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import type { Send } from 'switchyard';
import { type WriteEach, writeEach, writeMethod } from '../../src/server/native-writer.js';
import { ioUringAllowed } from '../helpers/io-uring.js';
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

interface Addon { writeEach: WriteEach; writeMethod(): string }

function bytes(peer: { received: Buffer[] }): number {
  return peer.received.reduce((n, chunk) => n + chunk.length, 0);
}

/** This process's io_uring descriptors. */
function ringDescriptors(): number[] {
  return readdirSync('/proc/self/fd').map(Number).filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === 'anon_inode:[io_uring]';
    } catch {
      return false; // closed while listing (the listing's own descriptor)
    }
  });
}

const copies: string[] = [];
after(() => { for (const dir of copies) rmSync(dir, { recursive: true, force: true }); });

/** A fresh instance of the binary: a copy of it, loaded (an addon's state is per file loaded). */
function loadCopy(): Addon {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-writer-'));
  copies.push(dir);
  copyFileSync('build/write-each.node', join(dir, 'write-each.node'));
  return createRequire(import.meta.url)(join(dir, 'write-each.node')) as Addon;
}

/** A fresh instance of the binary, and the descriptor of its own ring. */
function freshAddon(): { addon: Addon; ring: number } {
  const before = new Set(ringDescriptors());
  const addon = loadCopy();
  addon.writeMethod();
  const mine = ringDescriptors().filter((fd) => !before.has(fd));
  assert.equal(mine.length, 1, 'one new ring');
  return { addon, ring: mine[0]! };
}

test('it is built and loaded on this machine (the suite runs the server\'s writes through it)', () => {
  assert.equal(typeof writeEach, 'function', 'build/write-each.node missing or not loaded: is gcc installed (scripts/setup.sh)?');
});

test('where the kernel allows io_uring, a turn\'s sends go in one submission; SWITCHYARD_IO_URING=0 writes one by one', () => {
  assert.equal(writeMethod(), ioUringAllowed() ? 'io_uring' : 'write');
  assert.equal(oneByOne().writeMethod(), 'write');
});

/** The other road: a second instance of the binary, first used with SWITCHYARD_IO_URING=0. */
let second: Addon | null = null;
function oneByOne(): Addon {
  if (second !== null) return second;
  process.env.SWITCHYARD_IO_URING = '0';
  try {
    second = loadCopy();
    second.writeMethod(); // the road is chosen on first use
  } finally {
    delete process.env.SWITCHYARD_IO_URING;
  }
  return second;
}

const roads: Array<[string, () => WriteEach]> = [['one submission', () => writeEach!], ['one call per socket', () => oneByOne().writeEach]];

for (const [road, writer] of roads) {
  test(`${road}: each socket gets its frames, whole, once and in order (several in one send); an entry with no frames is left alone`, async () => {
    const peers = await pairs(4);
    const shared = Buffer.from('the same frame for two sockets');
    const [one, two, three] = [Buffer.from('first,'), Buffer.from('second,'), Buffer.from('third')];
    const fds = Int32Array.from(peers.map((p) => p.fd));
    // frames: [shared, one, two, three]; peer 0 and 3 get shared, peer 1 the three in a row, peer 2 nothing.
    const written = new Int32Array([-99, -99, -99, -99]);
    assert.equal(writer()(fds, Int32Array.from([0, 1, 0, 0]), Int32Array.from([1, 3, 0, 1]), [shared, one, two, three], 4, written), undefined);
    assert.deepEqual([...written], [shared.length, one.length + two.length + three.length, -99, shared.length]);
    await until(() => peers[3]!.received.length > 0 && peers[1]!.received.length > 0, 5000, 'the frames');
    await delay(50);
    assert.deepEqual(peers.map((p) => Buffer.concat(p.received).toString()), [shared.toString(), 'first,second,third', '', shared.toString()]);
  });

  test(`${road}: a peer that reads nothing: the kernel takes what fits, then -EAGAIN; its neighbour gets everything; nothing is written twice`, async () => {
    const [stuck, reading] = await pairs(2);
    stuck!.client.pause();
    const frame = Buffer.alloc(256 * 1024, 7);
    const written = new Int32Array(2);
    const taken = [0, 0];
    let rounds = 0;
    for (; rounds < 200; rounds++) {
      // Two frames each, in one send (writev, or a sendmsg in the ring).
      writer()(Int32Array.of(stuck!.fd, reading!.fd), Int32Array.of(0, 0), Int32Array.of(2, 2), [frame, frame], 2, written);
      if (written[1]! > 0) taken[1]! += written[1]!;
      if (written[0]! < 0) break;
      taken[0]! += written[0]!;
      await until(() => bytes(reading!) === taken[1], 5000, 'the reading peer\'s bytes');
    }
    assert.equal(written[0], -11, 'EAGAIN once the kernel buffers are full');
    assert.ok(taken[0]! > 0 && rounds > 0, 'the stuck peer took some rounds first');
    stuck!.client.resume();
    await until(() => bytes(stuck!) === taken[0] && bytes(reading!) === taken[1], 5000, 'every byte taken');
    for (const peer of [stuck!, reading!]) assert.ok(peer.received.every((chunk) => chunk.every((byte) => byte === 7)));
  });
}

test('the ring failing as a whole is said once, and this turn\'s frames still go out, one socket at a time from then on', async () => {
  const peers = await pairs(3);
  assert.ok(ioUringAllowed(), 'this machine kind allows io_uring (the ring under test)');
  const { addon, ring } = freshAddon();
  assert.equal(addon.writeMethod(), 'io_uring');
  closeSync(ring); // the ring is gone under the writer (EBADF on its next submission)
  const written = new Int32Array(3);
  const said = addon.writeEach(Int32Array.from(peers.map((p) => p.fd)), Int32Array.of(0, 0, 0), Int32Array.of(1, 1, 1), [Buffer.from('still here')], 3, written);
  assert.match(said ?? '', /^io_uring failed \(.+\): the native writer writes one socket at a time from now on$/);
  assert.deepEqual([...written], [10, 10, 10]);
  assert.equal(addon.writeMethod(), 'write');
  assert.equal(addon.writeEach(Int32Array.from(peers.map((p) => p.fd)), Int32Array.of(0, 0, 0), Int32Array.of(1, 1, 1), [Buffer.from('!')], 3, written), undefined);
  await until(() => peers.every((p) => Buffer.concat(p.received).toString() === 'still here!'), 5000, 'every frame');
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
