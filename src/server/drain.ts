/**
 * Backpressure for one WebSocket: a promise that settles when the peer has
 * read enough of what was written to it.
 *
 * How it works. Node's socket says `drain` when its own buffer empties; the
 * bytes `ws` still holds (compressing, with permessage-deflate) have no
 * event, so while the socket does not need draining the buffer is looked at
 * again every few milliseconds. The promise also settles when the socket
 * closes, or when `stillOpen()` turns false, so nobody waits on a dead peer.
 */
import type { Duplex } from 'node:stream';

/** How often the buffer is looked at while no `drain` event can come. */
const RECHECK_MS = 10;

/**
 * Resolves once `buffered()` is at most `limit`, the socket closed, or
 * `stillOpen()` is false.
 *
 * @example
 * ```ts
 * import type { Duplex } from 'node:stream';
 * import { drained } from './drain.js';
 *
 * declare const socket: Duplex;
 * declare const ws: { bufferedAmount: number };
 * await drained(socket, () => ws.bufferedAmount, 64 * 1024, () => !socket.destroyed);
 * ```
 */
export function drained(socket: Duplex, buffered: () => number, limit: number, stillOpen: () => boolean): Promise<void> {
  return new Promise<void>((resolve) => {
    let timer: NodeJS.Timeout | null = null;
    const done = () => {
      socket.off('drain', check);
      socket.off('close', done);
      if (timer !== null) clearTimeout(timer);
      resolve();
    };
    const check = () => {
      timer = null;
      if (!stillOpen() || buffered() <= limit) return done();
      if (!socket.writableNeedDrain) timer = setTimeout(check, RECHECK_MS);
    };
    socket.on('drain', check);
    socket.on('close', done);
    if (!socket.writableNeedDrain) timer = setTimeout(check, RECHECK_MS);
  });
}
