/**
 * Whole WebSocket frames for the broadcast fastlane.
 *
 * A forwarded group event reaches every member as the same encoded payload
 * (`ENCODED_FRAME`); framing it once and writing the very same bytes to
 * every member's socket leaves `ws` nothing to do per member: no header per
 * frame, no two-part write. Used only on connections without extensions
 * (no permessage-deflate), where `ws` itself writes every frame at once and
 * in order, so a frame written here cannot overtake or split one of its.
 */

/** The last payload framed, and its frame: a broadcast's members ask for the same one in a row. */
let lastPayload: Uint8Array | null = null;
let lastFrame: Buffer | null = null;

/** A final, unmasked text frame (server to client) carrying `payload` (RFC 6455 §5.2). */
export function textFrame(payload: Uint8Array): Buffer {
  if (payload === lastPayload) return lastFrame!;
  const length = payload.byteLength;
  const headerLength = length < 126 ? 2 : length < 65536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(headerLength + length);
  frame[0] = 0x81; // FIN, opcode 1 (text)
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
  frame.set(payload, headerLength);
  lastPayload = payload;
  lastFrame = frame;
  return frame;
}
