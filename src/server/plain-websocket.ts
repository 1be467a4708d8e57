/**
 * An open WebSocket without extensions, framed by the server itself: what
 * `ws` would do for it (frame-reader.ts says why), in one object per
 * connection with no stream or emitter of its own.
 *
 * Reading: the socket's chunks go to the frame reader; messages and pongs go
 * to the connection (PeerEvents), a ping is answered with a pong at once.
 * Writing: frames go to the socket. The app's text frames do not come here
 * (the writer frames them once per broadcast and writes them itself); this
 * writes binary frames, pings, pongs and close frames.
 *
 * Closing, as RFC 6455 §7 and `ws` do it:
 * - the server closes: its close frame goes out; the peer's answer ends the
 *   TCP connection (the server closes it first); a peer that never answers
 *   is dropped after `closeTimeoutMs`;
 * - the peer closes: its close frame is echoed (same code), then the TCP
 *   connection is ended;
 * - a protocol error: a close frame with the error's code goes out and the
 *   connection ends at once (nothing more is read);
 * - the socket ends or fails without a close frame: code 1006.
 * `closed` is reported once, when the socket has closed.
 */
import type { Duplex } from 'node:stream';
import { protocolErrorCode } from './close-codes.js';
import { CLOSE, type FrameError, FrameReader, PING, PONG } from './frame-reader.js';
import { frameOf } from './frames.js';
import type { PeerEvents, PeerSocket } from './peer-socket.js';

const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;
const EMPTY = Buffer.alloc(0);

/** The WebSocket that owns a socket, so the socket's listeners can be shared functions rather than closures per connection. */
const OWNER = Symbol('switchyard.plain-websocket');
type OwnedSocket = Duplex & { [OWNER]: PlainWebSocket };

function onData(this: Duplex, chunk: Buffer): void { (this as OwnedSocket)[OWNER].socketData(chunk); }
function onEnd(this: Duplex): void { (this as OwnedSocket)[OWNER].socketEnded(); }
function onError(this: Duplex): void { (this as OwnedSocket)[OWNER].socketFailed(); }
function onClose(this: Duplex): void { (this as OwnedSocket)[OWNER].socketClosed(); }
function destroy(socket: Duplex): void { socket.destroy(); }

export class PlainWebSocket extends FrameReader implements PeerSocket {
  readyState = OPEN;
  readonly #socket: Duplex;
  readonly #events: PeerEvents;
  readonly #closeTimeoutMs: number;
  #closeSent = false;
  /** The peer's close frame came in (or its frames broke the protocol): the TCP connection ends once ours is out. */
  #closeReceived = false;
  #closeCode = 1006;
  #closeReason = EMPTY;
  #closeTimer: NodeJS.Timeout | null = null;

  /**
   * Takes over `socket`, whose 101 response has been written; `head` holds
   * the bytes that came after the upgrade request.
   */
  constructor(socket: Duplex, head: Buffer, events: PeerEvents, maxPayload: number, closeTimeoutMs: number) {
    super(maxPayload);
    this.#socket = socket;
    this.#events = events;
    this.#closeTimeoutMs = closeTimeoutMs;
    const tcp = socket as Duplex & { setTimeout?(ms: number): void; setNoDelay?(): void };
    tcp.setTimeout?.(0);
    tcp.setNoDelay?.();
    (socket as OwnedSocket)[OWNER] = this;
    if (head.length > 0) socket.unshift(head);
    socket.on('close', onClose);
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', onError);
  }

  /** No extension is ever negotiated here. */
  get extensions(): string {
    return '';
  }

  get bufferedAmount(): number {
    return this.#socket.writableLength;
  }

  send(data: string | Uint8Array, options: { binary: boolean }): void {
    if (this.readyState !== OPEN) return;
    const payload = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    this.#write(frameOf(options.binary ? 0x2 : 0x1, payload));
  }

  ping(): void {
    if (this.readyState === OPEN) this.#write(frameOf(PING, EMPTY));
  }

  pause(): void {
    this.#socket.pause();
  }

  resume(): void {
    this.#socket.resume();
  }

  /** Starts the closing handshake with `code` and `reason` (at most 123 bytes of UTF-8: fitReason). */
  close(code: number, reason: string): void {
    if (this.readyState === CLOSED || this.#closeSent) return;
    this.readyState = CLOSING;
    this.#closeSent = true;
    this.#closeWith(closePayload(code, Buffer.from(reason, 'utf8')));
  }

  /** Drops the TCP connection now. */
  terminate(): void {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSING;
    this.#socket.destroy();
  }

  // ---- the frame reader's findings ----

  protected message(data: Buffer, binary: boolean): void {
    this.#events.received(data, binary);
  }

  protected control(opcode: typeof CLOSE | typeof PING | typeof PONG, payload: Buffer, code: number): void {
    // For a close frame, `payload` is its reason and `code` its code.
    if (opcode === PONG) {
      this.#events.heard();
    } else if (opcode === PING) {
      if (this.readyState === OPEN) this.#write(frameOf(PONG, payload));
    } else {
      this.stopReading();
      this.#closeReceived = true;
      this.#closeCode = code;
      this.#closeReason = Buffer.from(payload); // a copy: the view would keep the whole chunk
      this.#socket.resume(); // read on to the end, even while the connection is paused
      if (this.#closeSent) this.#socket.end();
      else {
        // Echo the peer's close: its code (none if it sent none).
        this.readyState = CLOSING;
        this.#closeSent = true;
        this.#closeWith(code === 1005 ? EMPTY : closePayload(code, this.#closeReason));
      }
    }
  }

  protected protocolError(error: FrameError): void {
    this.#closeReceived = true; // nothing more is read: no close frame to wait for
    this.#socket.resume();
    if (!this.#closeSent) {
      this.readyState = CLOSING;
      this.#closeSent = true;
      this.#closeWith(closePayload(protocolErrorCode(error) ?? 1002, EMPTY));
    } else this.#socket.end();
    this.#events.failed(error);
  }

  // ---- the socket's events (shared listeners call these) ----

  /** @internal */
  socketData(chunk: Buffer): void {
    this.read(chunk);
  }

  /** The peer ended its side without a close handshake (or after it): end ours. @internal */
  socketEnded(): void {
    this.readyState = CLOSING;
    this.stopReading();
    this.#socket.end();
  }

  /** @internal */
  socketFailed(): void {
    this.readyState = CLOSING;
    this.#socket.destroy();
  }

  /** @internal */
  socketClosed(): void {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSED;
    this.stopReading();
    if (this.#closeTimer !== null) clearTimeout(this.#closeTimer);
    this.#closeTimer = null;
    this.#events.closed(this.#closeCode, this.#closeReason);
  }

  /** Writes a close frame with `payload`; ends the connection now if the peer's close already came, else waits for it (at most the close timeout). */
  #closeWith(payload: Buffer): void {
    this.#write(frameOf(CLOSE, payload));
    if (this.#closeReceived) this.#socket.end();
    else this.#closeTimer = setTimeout(destroy, this.#closeTimeoutMs, this.#socket);
  }

  #write(frame: Buffer | Buffer[]): void {
    const socket = this.#socket;
    if (!socket.writable) return;
    if (Array.isArray(frame)) {
      socket.cork();
      for (const part of frame) socket.write(part);
      socket.uncork();
    } else socket.write(frame);
  }
}

/** A close frame's payload: the code, then the reason's bytes. */
function closePayload(code: number, reason: Buffer): Buffer {
  const out = Buffer.allocUnsafe(2 + reason.length);
  out.writeUInt16BE(code, 0);
  reason.copy(out, 2);
  return out;
}
