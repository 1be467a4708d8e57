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

/**
 * Writes `frames` (one buffer or several, in order) to `socket`: with one
 * system call on `fd` (from {@link directFd}) when nothing is queued in Node,
 * and what the kernel did not take with `socket.write()`. True when the
 * kernel took every byte (nothing was left queued in Node).
 */
export function writeFrames(socket: Duplex, fd: number, frames: Buffer | Buffer[]): boolean {
  let written = 0;
  // The handle is gone once the socket is destroyed (its descriptor closed, its number free for reuse).
  if (fd !== -1 && (socket as TcpSocket)._handle != null && socket.writableLength === 0 && socket.writableCorked === 0) {
    try {
      written = Array.isArray(frames) ? writevSync(fd, frames) : writeSync(fd, frames);
    } catch {
      // EAGAIN (the kernel's buffer is full) or a failing socket: the stream's road queues it or reports the error.
    }
  }
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
