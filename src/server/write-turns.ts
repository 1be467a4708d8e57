/**
 * Write coalescing ("corking", as uWebSockets does it), by event-loop turn.
 *
 * A connection's first frame in a turn is written at once; when it writes
 * again in the same turn, its socket is corked, and every corked socket is
 * uncorked once the turn's I/O is done (setImmediate), so the burst goes
 * out in one writev. A write costs the kernel far more per call than per
 * byte (on loopback, most of a delivery's CPU), so a server that falls
 * behind, with broadcasts piling up in one turn, writes less often instead
 * of falling further behind; a lone frame is never delayed.
 */
import type { Duplex } from 'node:stream';

let turn = 0;
let ending = false;
const corked: Duplex[] = [];

function endTurn(): void {
  turn++;
  ending = false;
  if (corked.length === 0) return; // the common turn: one frame per socket, nothing corked
  for (let i = 0; i < corked.length; i++) corked[i]!.uncork();
  corked.length = 0;
}

/** The number of the turn a frame is being written in (and makes sure the turn's end is noticed). */
export function writeTurn(): number {
  if (!ending) {
    ending = true;
    setImmediate(endTurn);
  }
  return turn;
}

/** Corks `socket` until the current turn ends (call at most once per socket and turn). */
export function corkForTurn(socket: Duplex): void {
  socket.cork();
  corked.push(socket);
}
