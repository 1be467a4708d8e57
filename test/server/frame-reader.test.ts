// The frame reader against random traffic: messages of every size class
// (7-bit, 16-bit and 64-bit lengths), text and binary, whole or in
// fragments with pings between them, masked with random keys, all cut into
// chunks at random places. Whatever the cuts, the reader must hand over the
// same messages and pings, in order, and report no error. A seeded generator
// makes a failure repeatable (the seed is in the test's name).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CLOSE, type FrameError, FrameReader, PING, PONG } from '../../src/server/frame-reader.js';

/** A small seeded generator (mulberry32). */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A masked client frame. */
function frame(first: number, payload: Buffer, mask: Buffer): Buffer {
  const length = payload.length;
  const header = length < 126 ? Buffer.from([first, 0x80 | length])
    : length < 65536 ? Buffer.from([first, 0x80 | 126, length >> 8, length & 0xff])
      : Buffer.from([first, 0x80 | 127, 0, 0, 0, 0, length >>> 24, (length >> 16) & 0xff, (length >> 8) & 0xff, length & 0xff]);
  return Buffer.concat([header, mask, payload.map((b, i) => b ^ mask[i % 4]!)]);
}

type Seen = { kind: 'text' | 'binary' | 'ping'; data: Buffer };

class Recorder extends FrameReader {
  readonly seen: Seen[] = [];
  readonly errors: FrameError[] = [];
  feed(chunk: Buffer): void { this.read(chunk); }
  protected message(data: Buffer, binary: boolean): void { this.seen.push({ kind: binary ? 'binary' : 'text', data: Buffer.from(data) }); }
  protected control(opcode: typeof CLOSE | typeof PING | typeof PONG, payload: Buffer): void {
    if (opcode === PING) this.seen.push({ kind: 'ping', data: Buffer.from(payload) });
  }
  protected protocolError(error: FrameError): void { this.errors.push(error); }
}

/** Random traffic: what was sent (the expected sightings) and its bytes. */
function traffic(next: () => number): { expected: Seen[]; bytes: Buffer } {
  const expected: Seen[] = [];
  const frames: Buffer[] = [];
  const mask = () => Buffer.from([0, 0, 0, 0].map(() => Math.floor(next() * 256)));
  const sizes = [0, 1, 125, 126, 127, 1000, 65535, 65536, 70_000];
  for (let m = 0; m < 12; m++) {
    const size = next() < 0.3 ? sizes[Math.floor(next() * sizes.length)]! : Math.floor(next() * 300);
    const binary = next() < 0.5;
    // Text is ASCII and multi-byte characters (cut anywhere between fragments); binary is any byte.
    const data = binary
      ? Buffer.from(Array.from({ length: size }, () => Math.floor(next() * 256)))
      : Buffer.from(Array.from({ length: size }, () => (next() < 0.1 ? 'é☃' : 'a')).join('').slice(0, size), 'utf8');
    expected.push({ kind: binary ? 'binary' : 'text', data });
    const pieces = next() < 0.4 ? 1 + Math.floor(next() * 4) : 1;
    let at = 0;
    for (let p = 0; p < pieces; p++) {
      const end = p === pieces - 1 ? data.length : Math.min(data.length, at + Math.floor(next() * (data.length - at + 1)));
      const opcode = p === 0 ? (binary ? 0x2 : 0x1) : 0x0;
      frames.push(frame((p === pieces - 1 ? 0x80 : 0) | opcode, data.subarray(at, end), mask()));
      at = end;
      if (p < pieces - 1 && next() < 0.5) {
        const ping = Buffer.from(`ping ${m}.${p}`);
        frames.push(frame(0x89, ping, mask()));
        // A ping between fragments is seen before the message it interrupts.
        expected.splice(expected.length - 1, 0, { kind: 'ping', data: ping });
      }
    }
  }
  return { expected, bytes: Buffer.concat(frames) };
}

for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
  test(`random traffic (seed ${seed}), cut into random chunks 25 times: the same messages and pings, in order, no error`, () => {
    const next = random(seed);
    const { expected, bytes } = traffic(next);
    for (let round = 0; round < 25; round++) {
      const reader = new Recorder(0);
      let at = 0;
      while (at < bytes.length) {
        // Mostly small cuts (headers split across chunks), sometimes large ones.
        const size = next() < 0.7 ? 1 + Math.floor(next() * 16) : 1 + Math.floor(next() * 20_000);
        reader.feed(Buffer.from(bytes.subarray(at, at + size))); // a fresh buffer, as a socket hands over
        at += size;
      }
      assert.deepEqual(reader.errors, []);
      assert.equal(reader.seen.length, expected.length);
      reader.seen.forEach((seen, i) => {
        assert.equal(seen.kind, expected[i]!.kind, `sighting ${i} of seed ${seed}, round ${round}`);
        assert.ok(seen.data.equals(expected[i]!.data), `sighting ${i} of seed ${seed}, round ${round}: ${seen.data.length} bytes, ${expected[i]!.data.length} expected`);
      });
    }
  });
}
