/**
 * Reading the frames a WebSocket client sends (RFC 6455 §5), on a connection
 * without extensions.
 *
 * Why the server reads its own frames. `ws` gives every connection a
 * WebSocket, a Receiver (a Writable stream, with its own stream state and
 * listeners) and a Sender: about a kilobyte of heap that an idle connection
 * keeps for nothing. What a server needs of a client's frames fits in the
 * dozen fields below, kept in the connection itself (a base class, as
 * ReceiveQueue is of the bridge), so an idle connection holds no extra
 * object. Connections that negotiate permessage-deflate stay with `ws`.
 *
 * What it checks, as `ws` does, with the same error codes (close-codes.ts
 * turns them into close codes): reserved bits (1002), unknown opcodes,
 * unmasked client frames, fragmented or oversized control frames, a
 * continuation without a message or a new message inside one (1002), a
 * message over `maxPayload` (1009, as soon as its header says so), one in
 * too many pieces (1008), invalid
 * UTF-8 in a text message or a close reason (1007), and invalid close codes
 * (1002). After the first error nothing more is read.
 *
 * Bytes arrive in chunks of any size: a frame's header or payload can span
 * chunks, and a chunk can hold many frames. Chunks are gathered in a list
 * and joined once a whole header or payload is there, so a large frame is
 * copied once, not once per chunk. Payloads are unmasked in place (a chunk
 * the socket read is ours alone).
 */
import { isUtf8 } from 'node:buffer';
import { isPeerCloseCode } from './close-codes.js';

/** A protocol error in what the peer sent: `code` is one of `ws`'s `WS_ERR_*` codes. */
export type FrameError = Error & { code: string };

function frameError(code: string, message: string): FrameError {
  return Object.assign(new RangeError(`Invalid WebSocket frame: ${message}`), { code });
}

const CONTINUATION = 0x0;
const TEXT = 0x1;
const BINARY = 0x2;
export const CLOSE = 0x8;
export const PING = 0x9;
export const PONG = 0xa;

const EMPTY = Buffer.alloc(0);
/** No frame header read yet: the next bytes start one. */
const AT_HEADER = -1;
/**
 * Bounds on the pieces kept for one message or frame (`ws`'s defaults): a
 * message in 1-byte (or empty) fragments, or a frame in 1-byte chunks,
 * would otherwise cost a buffer object of heap per byte (1008).
 */
const MAX_FRAGMENTS = 16 * 1024;
const MAX_CHUNKS = 256 * 1024;

export abstract class FrameReader {
  /** The largest message accepted, in bytes (0: no limit). */
  readonly #maxPayload: number;
  /** Bytes read and not yet parsed, and how many. */
  #chunks: Buffer[] | null = null;
  #buffered = 0;
  /** The current frame, once its header is read: its opcode (AT_HEADER before), FIN bit, masking key and payload length. */
  #opcode = AT_HEADER;
  #fin = false;
  #mask: Buffer | null = null;
  #length = 0;
  /** A fragmented message under way: its opcode, its fragments and their total length. */
  #messageOpcode = 0;
  #fragments: Buffer[] | null = null;
  #fragmentsLength = 0;
  /** A protocol error was found: nothing more is read. */
  #stopped = false;

  constructor(maxPayload: number) {
    this.#maxPayload = maxPayload;
  }

  /** A whole message (text already checked to be UTF-8). */
  protected abstract message(data: Buffer, binary: boolean): void;

  /** A control frame: close (with its code, 1005 when none, and its reason), ping or pong (with the payload). */
  protected abstract control(opcode: typeof CLOSE | typeof PING | typeof PONG, payload: Buffer, code: number): void;

  /** What the peer sent breaks the protocol: reading has stopped. */
  protected abstract protocolError(error: FrameError): void;

  /** Stops reading (the connection is closing): later bytes are dropped. */
  protected stopReading(): void {
    this.#stopped = true;
    this.#chunks = null;
    this.#fragments = null;
  }

  /** Parses a chunk the socket read: every whole frame in it (with what came before) is handled now. */
  protected read(chunk: Buffer): void {
    if (this.#stopped) return;
    if (this.#chunks === null) this.#chunks = [chunk];
    else if (this.#chunks.push(chunk) > MAX_CHUNKS) {
      this.#fail('WS_ERR_TOO_MANY_BUFFERED_PARTS', 'too many buffered chunks');
      return;
    }
    this.#buffered += chunk.length;
    while (!this.#stopped) {
      if (this.#opcode === AT_HEADER ? !this.#readHeader() : !this.#readPayload()) break;
    }
  }

  /** Reads a frame header if all of it is here; false when more bytes are needed (or it was refused). */
  #readHeader(): boolean {
    if (this.#buffered < 2) return false;
    const first = this.#chunks![0]!;
    // The header's length is known from its first two bytes.
    const second = first.length >= 2 ? first[1]! : this.#chunks![1]![0]!;
    const marker = second & 0x7f;
    const headerLength = 2 + (marker === 126 ? 2 : marker === 127 ? 8 : 0) + ((second & 0x80) !== 0 ? 4 : 0);
    if (this.#buffered < headerLength) return false;
    const header = this.#take(headerLength);
    const byte0 = header[0]!;
    const opcode = byte0 & 0x0f;
    const fin = (byte0 & 0x80) !== 0;
    if ((byte0 & 0x40) !== 0) return this.#fail('WS_ERR_UNEXPECTED_RSV_1', 'RSV1 must be clear');
    if ((byte0 & 0x30) !== 0) return this.#fail('WS_ERR_UNEXPECTED_RSV_2_3', 'RSV2 and RSV3 must be clear');
    if ((second & 0x80) === 0) return this.#fail('WS_ERR_EXPECTED_MASK', 'MASK must be set');
    let length = marker;
    if (marker === 126) length = header.readUInt16BE(2);
    else if (marker === 127) {
      const high = header.readUInt32BE(2);
      // A length JavaScript cannot hold exactly (over 2^53 - 1).
      if (high > 0x1fffff) return this.#fail('WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH', 'payload length > 2^53 - 1');
      length = high * 2 ** 32 + header.readUInt32BE(6);
    }
    if (opcode >= CLOSE) {
      if (opcode > PONG) return this.#fail('WS_ERR_INVALID_OPCODE', `invalid opcode ${opcode}`);
      if (!fin) return this.#fail('WS_ERR_EXPECTED_FIN', 'FIN must be set');
      if (length > 125 || (opcode === CLOSE && length === 1)) return this.#fail('WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH', `invalid payload length ${length}`);
    } else if (opcode === CONTINUATION) {
      if (this.#fragments === null) return this.#fail('WS_ERR_INVALID_OPCODE', 'invalid opcode 0');
    } else if (opcode === TEXT || opcode === BINARY) {
      if (this.#fragments !== null) return this.#fail('WS_ERR_INVALID_OPCODE', `invalid opcode ${opcode}`);
    } else {
      return this.#fail('WS_ERR_INVALID_OPCODE', `invalid opcode ${opcode}`);
    }
    if (opcode < CLOSE && this.#maxPayload > 0 && this.#fragmentsLength + length > this.#maxPayload) {
      return this.#fail('WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', 'Max payload size exceeded');
    }
    this.#opcode = opcode;
    this.#fin = fin;
    this.#mask = header.subarray(headerLength - 4);
    this.#length = length;
    return true;
  }

  /** Reads the current frame's payload if all of it is here, and handles the frame. */
  #readPayload(): boolean {
    const length = this.#length;
    if (this.#buffered < length) return false;
    const payload = length === 0 ? EMPTY : this.#take(length);
    const mask = this.#mask!;
    for (let i = 0; i < length; i++) payload[i]! ^= mask[i & 3]!;
    const opcode = this.#opcode;
    this.#opcode = AT_HEADER;
    this.#mask = null;
    if (opcode >= CLOSE) this.#handleControl(opcode, payload);
    else this.#handleData(opcode, payload);
    return true;
  }

  #handleData(opcode: number, payload: Buffer): void {
    if (!this.#fin) {
      if (this.#fragments === null) {
        this.#fragments = [];
        this.#messageOpcode = opcode;
      }
      if (this.#fragments.push(payload) > MAX_FRAGMENTS) {
        this.#fail('WS_ERR_TOO_MANY_BUFFERED_PARTS', 'too many message fragments');
        return;
      }
      this.#fragmentsLength += payload.length;
      return;
    }
    let data = payload;
    if (this.#fragments !== null) {
      opcode = this.#messageOpcode;
      this.#fragments.push(payload);
      data = Buffer.concat(this.#fragments, this.#fragmentsLength + payload.length);
      this.#fragments = null;
      this.#fragmentsLength = 0;
    }
    if (opcode === TEXT && !isUtf8(data)) {
      this.#fail('WS_ERR_INVALID_UTF8', 'invalid UTF-8 sequence');
      return;
    }
    this.message(data, opcode === BINARY);
  }

  #handleControl(opcode: number, payload: Buffer): void {
    if (opcode !== CLOSE) {
      this.control(opcode as typeof PING | typeof PONG, payload, 0);
      return;
    }
    if (payload.length === 0) {
      this.control(CLOSE, EMPTY, 1005);
      return;
    }
    const code = payload.readUInt16BE(0);
    if (!isPeerCloseCode(code)) {
      this.#fail('WS_ERR_INVALID_CLOSE_CODE', `invalid status code ${code}`);
      return;
    }
    const reason = payload.subarray(2);
    if (!isUtf8(reason)) {
      this.#fail('WS_ERR_INVALID_UTF8', 'invalid UTF-8 sequence');
      return;
    }
    this.control(CLOSE, reason, code);
  }

  /** The next `n` buffered bytes, as one buffer (a view when they sit in one chunk). */
  #take(n: number): Buffer {
    const chunks = this.#chunks!;
    this.#buffered -= n;
    const first = chunks[0]!;
    if (first.length > n) {
      chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    if (first.length === n) {
      chunks.shift();
      if (chunks.length === 0) this.#chunks = null;
      return first;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const chunk = chunks[0]!;
      const part = Math.min(chunk.length, n - filled);
      chunk.copy(out, filled, 0, part);
      filled += part;
      if (part === chunk.length) chunks.shift();
      else chunks[0] = chunk.subarray(part);
    }
    if (chunks.length === 0) this.#chunks = null;
    return out;
  }

  /** Stops reading and reports a protocol error (close-codes.ts gives its close code); false, for {@link read}'s loop. */
  #fail(code: string, message: string): false {
    this.stopReading();
    this.protocolError(frameError(code, message));
    return false;
  }
}
