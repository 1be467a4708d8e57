/**
 * The optional native writer (`native/`, compiled at install by
 * `scripts/build-native.mjs` into `build/write-each.node`): the direct writes
 * of a turn (direct-writes.ts) in one call; on Linux, one io_uring
 * submission for every socket (`native/ring.c`), elsewhere (or with
 * `SWITCHYARD_IO_URING=0`, or where io_uring is refused) a `write(2)` or
 * `writev(2)` per socket in C.
 *
 * Why. From JavaScript each socket's `write(2)` goes through `fs.writeSync`'s
 * argument checks and a binding call: about 0.3 µs per socket on loopback,
 * beside the kernel's 2. A broadcast to a room of 500 is 500 of them. Each
 * system call costs its own entry into the kernel too: one submission for
 * the turn rather than one call per socket takes about a quarter off a
 * broadcast's CPU on loopback.
 *
 * Without it (no C compiler at install, another platform, or
 * `SWITCHYARD_NATIVE=0`), the same writes are made with `fs.writeSync`, one
 * per socket: the same bytes in the same order, a little more CPU. A binary
 * that is there but does not load (built for another Node) is said at warn.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { logger } from '../log.js';

/**
 * For each `i < count` with `counts[i] > 0`: writes `frames[first[i]]` and the
 * `counts[i] - 1` frames after it (at most {@link MAX_FRAMES_PER_SOCKET}) to
 * `fds[i]` in one send; `written[i]` is what the kernel took, or `-errno`
 * (`-EAGAIN`: its buffer is full; {@link UNKNOWN}: the ring failed with this
 * send in flight). Entries with `counts[i] <= 0` are left alone. Returns what
 * went wrong the one time the io_uring road fails as a whole (writes then go
 * one socket at a time). Throws a TypeError, having written nothing, on bad
 * arguments.
 */
export type WriteEach = (fds: Int32Array, first: Int32Array, counts: Int32Array, frames: readonly Buffer[], count: number, written: Int32Array) => string | undefined;

/** `written[i]` of a send whose fate is unknown (`-EIO`): its connection must end, not write it again. */
export const UNKNOWN = -5;

/** The most frames one socket's entry may carry (native/write-each.c's limit). */
export const MAX_FRAMES_PER_SOCKET = 64;

const BINARY = join('build', 'write-each.node');

/**
 * The package's `build/write-each.node`, looked for upwards from this module:
 * the package root is two levels up from `src/server/`, three from
 * `dist/src/server/`, more from a transpiled copy under `node_modules/.cache`.
 */
function findBinary(): string | null {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let level = 0; level < 8; level++) {
    const candidate = join(dir, BINARY);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return null;
}

interface NativeWriter { writeEach: WriteEach; writeMethod: () => 'io_uring' | 'write' }

function load(): NativeWriter | null {
  if (process.env.SWITCHYARD_NATIVE === '0' || process.platform === 'win32') return null;
  const path = findBinary();
  if (path === null) return null;
  try {
    const loaded = createRequire(import.meta.url)(path) as Partial<NativeWriter>;
    if (typeof loaded.writeEach === 'function' && typeof loaded.writeMethod === 'function') return loaded as NativeWriter;
    logger.warn({ path }, 'The native writer is not this version\'s (rebuild it: npm rebuild switchyard): the server writes with fs.writeSync');
  } catch (error) {
    logger.warn({ err: error, path }, 'The native writer did not load (rebuild it: npm rebuild switchyard): the server writes with fs.writeSync');
  }
  return null;
}

const native = load();

/** The native writer, or null when it is not built or turned off. */
export const writeEach: WriteEach | null = native?.writeEach ?? null;

/** How the server writes a turn's frames: one io_uring submission, a native `write(2)` per socket, or `fs.writeSync` per socket. */
export function writeMethod(): 'io_uring' | 'write' | 'fs.writeSync' {
  return native?.writeMethod() ?? 'fs.writeSync';
}
