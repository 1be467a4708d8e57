/**
 * Write coalescing ("corking", as uWebSockets does it), by event-loop turn.
 *
 * A connection's frames of one turn leave together once the turn's I/O is
 * done (setImmediate): shared text frames wait in their connection (a
 * {@link TurnWriter}) and go out in one system call per socket; frames that
 * `ws` writes itself (binary, compressed) wait in the socket, corked. The
 * kernel is entered once per socket after the turn's JavaScript has run
 * rather than in the middle of a broadcast loop. A write costs the kernel far
 * more per call than per byte (on loopback, most of a delivery's CPU), so
 * this is cheaper even for one frame per socket (measured in bench (a): CPU
 * per delivery 1.55-1.75x uWebSockets.js before, 1.44-1.59x after; p99
 * 1.9-2.9x before, 1.3-1.7x after), and a server that falls behind, with
 * broadcasts piling up in one turn, writes less often instead of falling
 * further behind. A frame waits at most until the end of its turn's I/O.
 */
import type { Duplex } from 'node:stream';
import { DirectWrites } from './direct-writes.js';

let turn = 0;
let ending = false;
const corked: Duplex[] = [];

/** What writes its frames at the end of the turn: directly through `direct` when it can (written once every writer had its turn). */
export interface TurnWriter { endTurn(direct: DirectWrites): void }

/** The turn's direct writes (see direct-writes.ts), made once every writer has added its own. */
const direct = new DirectWrites();
// Two arrays taking turns, kept at their size (emptied, not shortened): a turn that writes to
// 500 sockets grows no array, and a writer queued while a turn ends waits for the next.
let writers: Array<TurnWriter | undefined> = [];
let spare: Array<TurnWriter | undefined> = [];
let writing = 0;

/** Makes sure `writer.endTurn()` is called at the end of this turn (call once per turn). */
export function queueForTurn(writer: TurnWriter): void {
  writeTurn();
  writers[writing++] = writer;
}

function endTurn(): void {
  turn++;
  ending = false;
  const ended = writers;
  const count = writing;
  writers = spare;
  writing = 0;
  for (let i = 0; i < count; i++) {
    try {
      ended[i]!.endTurn(direct);
    } catch (error) {
      queueMicrotask(() => { throw error; }); // one connection's failure is reported, and stops no other's writes
    }
    ended[i] = undefined;
  }
  spare = ended;
  direct.run();
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
