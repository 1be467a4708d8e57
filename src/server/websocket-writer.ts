/**
 * The sending half of a WebSocket connection: how a frame the app sends
 * reaches the socket, and what holds the app back when the peer does not read.
 *
 * Text frames on a connection without extensions are framed here (frames.ts:
 * a text equal to the last one framed is the very same bytes) and wait in
 * the connection until the end of the event-loop turn, when the turn's
 * frames for this socket leave together, in one system call when nothing
 * else is queued in Node (write-turns.ts, direct-writes.ts). Every other
 * frame (binary, permessage-deflate) is the peer socket's to write
 * (peer-socket.ts: the server's own framing, or `ws`'s), on the socket corked
 * for the rest of the turn, after what waits here: frames leave in the order
 * they were sent. A close frame goes after the app's last frames; a frame
 * still waiting when the peer's close came in is dropped, as nothing may
 * follow a close frame.
 *
 * Backpressure: once more than `wsSendHighWaterMark` bytes wait in the
 * socket, the next send answers a promise that settles when it drains, so
 * the app's lane waits (a group broadcast never does: each member's send is
 * its own); past `wsMaxSendBuffer` the connection is closed with 1008, so a
 * client that stops reading cannot grow the server's memory. A base class of
 * the bridge, as ReceiveQueue is: an idle connection holds no extra object.
 */
import type { Duplex } from 'node:stream';
import type { ReceiveEvent } from '../asgi.js';
import { type DirectWrites, directFd, writeFrames } from './direct-writes.js';
import { drained } from './drain.js';
import type { PeerSocket } from './peer-socket.js';
import { payloadLength, textFrame } from './frames.js';
import { ReceiveQueue } from './receive-queue.js';
import { type TurnWriter, corkForTurn, queueForTurn, writeTurn } from './write-turns.js';

const OPEN = 1; // WebSocket.OPEN
const TEXT = { binary: false } as const;
const BINARY = { binary: true } as const;

/** The send-buffer limits (server options of the same names). */
export interface SendLimits {
  wsSendHighWaterMark: number;
  wsMaxSendBuffer: number;
}

export abstract class WebSocketWriter extends ReceiveQueue implements TurnWriter {
  /** The connection's TCP (or TLS) socket. */
  protected readonly socket: Duplex;
  readonly #limits: SendLimits;
  /** The open WebSocket, once accepted. */
  #peer: PeerSocket | null = null;
  /** No extension negotiated: text frames are framed here and written whole, once per broadcast. */
  #plainFrames = false;
  /** Shared frames waiting for the end of the turn, and their size. */
  #pending: Buffer | Buffer[] | null = null;
  #pendingBytes = 0;
  /** The socket's descriptor for direct writes, or -1. */
  #fd = -1;
  /**
   * Bytes may wait in the socket: a flush left some there, or the peer socket wrote.
   * While false, nothing of this connection's waits in Node, so a send need
   * not read the socket's queue (another object per member of a broadcast).
   */
  #backlog = false;
  /** The last write turn the socket was corked for. */
  #corkedTurn = -1;
  /** While the peer's buffer is over the high-water mark: settles when it drains. */
  #drained: Promise<void> | null = null;

  constructor(first: ReceiveEvent, socket: Duplex, limits: SendLimits) {
    super(first);
    this.socket = socket;
    this.#limits = limits;
  }

  /** The open WebSocket (null until accepted). */
  protected get peer(): PeerSocket | null {
    return this.#peer;
  }

  /** What a send answers while the peer's buffer is over the high-water mark (null when it is not). */
  protected get drained(): Promise<void> | null {
    return this.#drained;
  }

  /** The connection is accepted: frames go to the peer's socket from now on. */
  protected startWriting(peer: PeerSocket): void {
    this.#peer = peer;
    this.#plainFrames = peer.extensions === '';
    this.#fd = directFd(this.socket);
  }

  /** The connection is still open for the app's frames (backpressure waits while it is). */
  protected abstract get writable(): boolean;

  /** A frame of `length` payload bytes was sent. */
  protected abstract frameSent(length: number): void;

  /** The peer's buffer went over `wsMaxSendBuffer` (`buffered` bytes): the connection must close. */
  protected abstract overflowed(buffered: number): void;

  /** Sends a text (a string) or binary frame; nothing once the peer's close came in (nothing may follow it). */
  protected writeFrame(data: string | Uint8Array): void {
    if (typeof data === 'string' && this.#plainFrames) return this.#writeShared(data);
    const peer = this.#peer!;
    if (peer.readyState !== OPEN) return; // the peer's close frame came in: it is answered, and nothing more is written
    this.flushTurn(); // what waits for the turn's end goes first
    this.#corkTurn();
    this.#backlog = true;
    let length: number;
    if (typeof data === 'string') {
      peer.send(data, TEXT); // permessage-deflate compresses per connection: nothing to share
      length = Buffer.byteLength(data);
    } else {
      peer.send(data, BINARY);
      length = data.byteLength;
    }
    this.frameSent(length);
    this.#checkBuffered(peer.bufferedAmount);
  }

  /**
   * A text frame on a connection without extensions: framed once for all
   * the members of a broadcast, queued for the turn's end. Neither the peer socket nor
   * the socket is read here (objects a member's send would otherwise touch):
   * the flush drops what waits if the peer's close came in meanwhile, and
   * the socket's queue is read only while bytes may wait there. Without
   * extensions the peer socket queues nothing of its own: what waits is in the socket.
   */
  #writeShared(text: string): void {
    const frame = textFrame(text);
    this.#queue(frame);
    this.frameSent(payloadLength(frame));
    if (this.#backlog && this.#peer!.readyState === OPEN) this.#checkBuffered(this.#queued());
  }

  /** Past the high-water mark the app's sends wait for a drain; past `wsMaxSendBuffer` the connection closes. */
  #checkBuffered(buffered: number): void {
    if (buffered > this.#limits.wsMaxSendBuffer) this.overflowed(buffered);
    else if (buffered > this.#limits.wsSendHighWaterMark && this.#drained === null) this.#waitForDrain();
  }

  /** What waits in the socket, while it may be more than nothing (see {@link #backlog}). */
  #queued(): number {
    const length = this.socket.writableLength;
    if (length === 0) this.#backlog = false;
    return length;
  }

  /** Queues a shared frame for the end of the turn. */
  #queue(frame: Buffer): void {
    const pending = this.#pending;
    if (pending === null) {
      this.#pending = frame;
      this.#pendingBytes = 0;
      queueForTurn(this);
    } else if (Array.isArray(pending)) pending.push(frame);
    else this.#pending = [pending, frame];
    // A lot to send in one turn: out now, so that backpressure sees it.
    if ((this.#pendingBytes += frame.length) > this.#limits.wsSendHighWaterMark) this.flushTurn();
  }

  /** Writes the frames queued this turn at once (before any other frame or a close, or past the high-water mark). */
  flushTurn(): void {
    const pending = this.#takePending();
    if (pending !== null && !writeFrames(this.socket, this.#fd, pending)) this.#backlog = true;
  }

  /** The turn's end: the frames queued this turn join the turn's direct writes (see write-turns.ts). */
  endTurn(direct: DirectWrites): void {
    const pending = this.#takePending();
    if (pending !== null && !direct.add(this.socket, this.#fd, pending, this)) this.#backlog = true;
  }

  /** A direct write of the turn's end left bytes queued in the socket. */
  backlogged(): void {
    this.#backlog = true;
  }

  /** The frames queued this turn, taken; null when none, or when the peer's close came in meanwhile and has been answered (nothing may follow a close frame). */
  #takePending(): Buffer | Buffer[] | null {
    const pending = this.#pending;
    if (pending === null) return null;
    this.#pending = null;
    return this.#peer?.readyState === OPEN ? pending : null;
  }

  /** Corks the socket for the rest of the turn, for frames that the peer socket writes. */
  #corkTurn(): void {
    const now = writeTurn();
    if (this.#corkedTurn !== now) {
      this.#corkedTurn = now;
      corkForTurn(this.socket);
    }
  }

  /**
   * Until the socket drains (or the connection closes), every send answers
   * one pending promise, so the app's lane waits instead of queueing more
   * bytes here; what it has not sent meanwhile waits in its channel, under
   * its slow-consumer policy.
   */
  #waitForDrain(): void {
    const peer = this.#peer!;
    this.#drained = drained(this.socket, () => peer.bufferedAmount, this.#limits.wsSendHighWaterMark, () => this.writable)
      .then(() => { this.#drained = null; });
  }
}
