/**
 * Whole text frames, framed once per distinct text (shared frames).
 *
 * How this works. A broadcast reaches every member's `send()` with the same
 * text: the same string instance when the members render through one place,
 * an equal one when each renders its own (`JSON.stringify` of the same
 * event). The framer keeps the last text it framed and its frame, so the
 * members after the first get the very same frame bytes back: one UTF-8
 * encoding and one frame for the whole broadcast, and one write per socket
 * with nothing for `ws` to do. `===` on strings compares pointers first, so
 * the same instance costs nothing to recognise; an equal one costs a
 * memcmp, far less than encoding it again. A different text replaces the
 * kept one; any other frame is framed afresh, never wrong.
 *
 * The frames are sent unmasked and final, as a server sends (RFC 6455 §5.2),
 * and only on connections without extensions (no permessage-deflate, which
 * compresses per connection). Written buffers are never changed afterwards,
 * so one buffer can sit in many sockets' write queues at once.
 */

/** The last text framed, and its frame: a broadcast's members ask for the same one in a row. */
let lastText: string | null = null;
let lastFrame: Buffer | null = null;

/** A final, unmasked text frame (server to client) carrying `text` as UTF-8. */
export function textFrame(text: string): Buffer {
  if (text === lastText) return lastFrame!;
  const length = Buffer.byteLength(text, 'utf8');
  const headerLength = headerLengthOf(length);
  const frame = Buffer.allocUnsafe(headerLength + length);
  writeHeader(frame, 0x1, length); // opcode 1: text
  frame.write(text, headerLength, 'utf8');
  lastText = text;
  lastFrame = frame;
  return frame;
}

/** The payload length of a frame made by {@link textFrame} (what metrics count). */
export function payloadLength(frame: Buffer): number {
  const marker = frame[1]! & 0x7f;
  return frame.length - (marker < 126 ? 2 : marker === 126 ? 4 : 10);
}

/**
 * Any other final frame a server sends (binary, close, ping, pong), unmasked:
 * one buffer for a small payload, the header and the payload (not copied)
 * for a large one.
 */
export function frameOf(opcode: number, payload: Uint8Array): Buffer | Buffer[] {
  const length = payload.byteLength;
  const headerLength = headerLengthOf(length);
  const small = length <= 1024;
  const header = Buffer.allocUnsafe(small ? headerLength + length : headerLength);
  writeHeader(header, opcode, length);
  if (small) {
    header.set(payload, headerLength);
    return header;
  }
  return [header, Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, length)];
}

/** The length of a server frame's header (unmasked) for `length` payload bytes. */
function headerLengthOf(length: number): number {
  return length < 126 ? 2 : length < 65536 ? 4 : 10;
}

/** Writes the header of a final, unmasked frame (RFC 6455 §5.2) at the start of `frame`. */
function writeHeader(frame: Buffer, opcode: number, length: number): void {
  frame[0] = 0x80 | opcode; // FIN
  if (length < 126) {
    frame[1] = length;
  } else if (length < 65536) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    frame.writeUInt32BE(length >>> 0, 6);
  }
}
