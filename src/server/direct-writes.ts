/**
 * Writing frames to a plain TCP socket with one system call, past Node's stream machinery.
 *
 * Why. On loopback most of a delivery's cost is the kernel's, and the rest,
 * on Node, is `socket.write()`: the Writable state machine, a write request
 * object made in C++ for every call, a `nextTick` for its callback.
 * uWebSockets.js pays none of it. When nothing is queued on the socket, a
 * `write(2)` (or `writev(2)`) on its file descriptor puts the bytes where
 * `socket.write()` would, at once and in order, for a fraction of the cost.
 *
 * When it is safe. Only on a plain TCP socket (no TLS: those bytes must be
 * encrypted) with nothing queued in Node (`writableLength` 0, not corked):
 * then every earlier write has reached the kernel, so this one cannot
 * overtake it. The descriptor is read once per connection and written to
 * only while the socket still has its handle: a destroyed socket loses its
 * handle as its descriptor closes, so a number the kernel hands out again to
 * another connection is never written to in this one's name. What the kernel does not take (`EAGAIN`: its buffer is full, or
 * a part) goes to `socket.write()`, which queues it in order and drains it
 * as usual; from then on `writableLength` is not 0 and every write takes
 * that road until the queue is empty. Any other error is left to the
 * socket's own road, which reports it.
 */
import { writeSync, writevSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import { logger } from '../log.js';
import { MAX_FRAMES_PER_SOCKET, UNKNOWN, writeEach } from './native-writer.js';

/** What a net.Socket has beyond Duplex that this needs (its libuv handle is internal to Node: read defensively). */
interface TcpSocket extends Duplex {
  _handle?: { fd?: unknown } | null;
  encrypted?: boolean;
}

/**
 * The descriptor of a plain TCP socket, to pass to {@link writeFrames}, or -1
 * (TLS, or no descriptor: every write then takes the stream's road). Read once
 * per connection: the descriptor lives as long as the socket's handle, and
 * {@link writeFrames} checks that the handle is still there.
 */
export function directFd(socket: Duplex): number {
  const tcp = socket as TcpSocket;
  const fd = tcp.encrypted === true ? undefined : tcp._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : -1;
}

/** True when `socket` may be written on `fd` now: a plain TCP socket that still has its handle, with nothing queued in Node and not corked. */
function directNow(socket: Duplex, fd: number): boolean {
  // The handle is gone once the socket is destroyed (its descriptor closed, its number free for reuse).
  return fd !== -1 && (socket as TcpSocket)._handle != null && socket.writableLength === 0 && socket.writableCorked === 0;
}

/**
 * Writes `frames` (one buffer or several, in order) to `socket`: with one
 * system call on `fd` (from {@link directFd}) when nothing is queued in Node,
 * and what the kernel did not take with `socket.write()`. True when the
 * kernel took every byte (nothing was left queued in Node).
 */
export function writeFrames(socket: Duplex, fd: number, frames: Buffer | Buffer[]): boolean {
  return directNow(socket, fd) ? writeDirect(socket, fd, frames) : writeRest(socket, frames, 0);
}

/** One system call, then `socket.write()` for what the kernel did not take. True when it took every byte. */
function writeDirect(socket: Duplex, fd: number, frames: Buffer | Buffer[]): boolean {
  let written = 0;
  try {
    written = Array.isArray(frames) ? writevSync(fd, frames) : writeSync(fd, frames);
  } catch {
    // EAGAIN (the kernel's buffer is full) or a failing socket: the stream's road queues it or reports the error.
  }
  return writeRest(socket, frames, written);
}

/** Hands what follows the first `written` bytes of `frames` to `socket.write()`, in order. True when nothing was left. */
function writeRest(socket: Duplex, frames: Buffer | Buffer[], written: number): boolean {
  if (!Array.isArray(frames)) {
    if (written === frames.length) return true;
    socket.write(written === 0 ? frames : frames.subarray(written));
    return false;
  }
  let left = false;
  socket.cork(); // what is left goes out in one writev
  for (const frame of frames) {
    if (written >= frame.length) written -= frame.length;
    else {
      socket.write(written === 0 ? frame : frame.subarray(written));
      written = 0;
      left = true;
    }
  }
  socket.uncork();
  return !left;
}

/** Told when a write of a {@link DirectWrites} batch left bytes queued in Node. */
export interface BacklogListener { backlogged(): void }

/**
 * The direct writes of a turn's end, made together. Each socket is checked
 * first, then the system calls follow one another with nothing in between:
 * the per-socket objects (the socket, its stream state) are read in one
 * pass rather than between system calls, and the peers are written to in a
 * burst, as uWebSockets.js does (a reader woken by the first write is still
 * awake for the next). Nothing can write to these sockets between the two
 * passes (no callback runs in between), so the check still holds.
 *
 * With the native writer (native-writer.ts) the burst is one call: every
 * socket is written in C (one io_uring submission for all, or a `write` or
 * `writev` each), and what a kernel did not take goes to that socket's
 * stream, as below.
 */
export class DirectWrites {
  // Parallel arrays kept at their size: no object per write.
  #sockets: Array<Duplex | undefined> = [];
  #frames: Array<Buffer | Buffer[] | undefined> = [];
  #listeners: Array<BacklogListener | undefined> = [];
  #length = 0;
  // Typed, for the native writer too: each socket's descriptor, where its
  // frames start in #natives and how many (0: written from here), and what
  // each write took.
  #fds = new Int32Array(64);
  #first = new Int32Array(64);
  #counts = new Int32Array(64);
  #written = new Int32Array(64);
  /** The turn's frames for the native writer: a broadcast's one frame once, a socket's several in a row. */
  #natives: Buffer[] = [];

  /** Writes `frames` to `socket` now if it cannot go directly, else adds it to the batch; false when bytes were left queued now. */
  add(socket: Duplex, fd: number, frames: Buffer | Buffer[], listener: BacklogListener): boolean {
    if (!directNow(socket, fd)) return writeRest(socket, frames, 0);
    const i = this.#length++;
    if (i === this.#fds.length) this.#grow();
    this.#sockets[i] = socket;
    this.#fds[i] = fd;
    this.#frames[i] = frames;
    this.#listeners[i] = listener;
    if (writeEach !== null) this.#addNative(i, frames);
    return true;
  }

  #grow(): void {
    const grow = (old: Int32Array) => { const next = new Int32Array(old.length * 2); next.set(old); return next; };
    [this.#fds, this.#first, this.#counts] = [grow(this.#fds), grow(this.#first), grow(this.#counts)];
    this.#written = new Int32Array(this.#written.length * 2);
  }

  #addNative(i: number, frames: Buffer | Buffer[]): void {
    const natives = this.#natives;
    if (!Array.isArray(frames)) {
      // Members of one broadcast are added one after the other: the frame is kept once.
      let index = natives.length - 1;
      if (index < 0 || natives[index] !== frames) index = natives.push(frames) - 1;
      this.#first[i] = index;
      this.#counts[i] = 1;
    } else if (frames.length <= MAX_FRAMES_PER_SOCKET) {
      this.#first[i] = natives.length;
      this.#counts[i] = frames.length;
      for (const frame of frames) natives.push(frame);
    } else this.#counts[i] = 0;
  }

  /** Makes the batch's writes, in the order they were added. */
  run(): void {
    const length = this.#length;
    this.#length = 0;
    if (length === 0) return;
    let native = writeEach !== null;
    try {
      const failure = native ? writeEach!(this.#fds, this.#first, this.#counts, this.#natives, length, this.#written) : undefined;
      if (failure !== undefined) logger.warn(failure);
    } catch (error) {
      native = false; // it checks its arguments before it writes anything: every socket is written from here
      queueMicrotask(() => { throw error; });
    }
    for (let i = 0; i < length; i++) {
      try {
        const frames = this.#frames[i]!;
        const done = !native || this.#counts[i] === 0
          ? writeDirect(this.#sockets[i]!, this.#fds[i]!, frames)
          : afterNative(this.#sockets[i]!, frames, this.#written[i]!);
        if (!done) this.#listeners[i]!.backlogged();
      } catch (error) {
        queueMicrotask(() => { throw error; }); // one connection's failure is reported, and stops no other's writes
      }
      this.#sockets[i] = undefined;
      this.#frames[i] = undefined;
      this.#listeners[i] = undefined;
    }
    this.#natives.length = 0;
  }
}

/** What a native write of `frames` left (`took`: bytes, or -errno) goes to the socket's stream, as after `writeSync`. True when it took every byte. */
function afterNative(socket: Duplex, frames: Buffer | Buffer[], took: number): boolean {
  if (!Array.isArray(frames) && took === frames.length) return true;
  if (took === UNKNOWN) {
    // Part of the frames may have gone out: writing them again could garble the stream, so it ends here (loudly).
    socket.destroy(new Error('the native writer failed during this socket\'s write: the connection cannot go on'));
    return true;
  }
  return writeRest(socket, frames, took > 0 ? took : 0);
}
