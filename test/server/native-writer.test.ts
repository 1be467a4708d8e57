// The native writer (native/write-each.c, built by npm's install step; the
// suite's setup installs gcc for it): loaded here, so the whole server suite
// runs its writes through it; tested directly over real TCP sockets for the
// bytes each peer gets, what the kernel did not take, and bad arguments.
// (shared-frames.test.ts runs the server without it: the fs.writeSync road.)
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { type Server, type Socket, createConnection, createServer } from 'node:net';
import { after, test } from 'node:test';
import { writeEach } from '../../src/server/native-writer.js';

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

const until = async (check: () => boolean): Promise<void> => {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.ok(check(), 'timed out');
};

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
  await until(() => peers[3]!.received.length > 0 && peers[1]!.received.length > 0);
  await new Promise((resolve) => setTimeout(resolve, 50));
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
  await until(() => peer!.received.reduce((n, chunk) => n + chunk.length, 0) === taken);
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
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(peer!.received.length, 0);
});
