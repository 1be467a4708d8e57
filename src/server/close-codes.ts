/**
 * Close codes and reasons as the WebSocket protocol wants them: the code of
 * a protocol error found in what the peer sent, and a reason cut to the
 * protocol's limit.
 *
 * How this works. A protocol error in what the peer sent (found by the
 * server's frame reader, or by `ws` on a permessage-deflate connection)
 * carries a stable `WS_ERR_*` code, `ws`'s public error codes (listed in its
 * `doc/ws.md`), which both use. A close frame with the code RFC 6455 §7.4.1
 * gives that kind of error goes out, and reading stops, so the peer's echo of
 * that close frame never comes. The server tells the app the code it sent,
 * looked up here.
 */

/**
 * Close code used when a peer's outgoing buffer overflows (1008, policy violation).
 *
 * @example
 * ```ts
 * import type { ReceiveEvent } from 'switchyard';
 * import { SEND_BUFFER_CLOSE_CODE } from 'switchyard/server';
 *
 * declare const event: ReceiveEvent; // what an application's receive() gave
 * if (event.type === 'websocket.disconnect' && event.code === SEND_BUFFER_CLOSE_CODE) console.warn('client too slow');
 * ```
 */
export const SEND_BUFFER_CLOSE_CODE = 1008;

/** Error codes whose close code is not 1002 (protocol error). */
const CLOSE_CODES: Readonly<Record<string, number>> = Object.freeze({
  WS_ERR_INVALID_UTF8: 1007, // invalid frame payload data
  WS_ERR_TOO_MANY_BUFFERED_PARTS: 1008, // policy violation
  WS_ERR_UNSUPPORTED_MESSAGE_LENGTH: 1009, // message too big (over maxPayload)
  WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH: 1009, // a length over 2^53 - 1
});

/** The close code for a protocol error, or `null` when `err` is not one (a socket error). */
export function protocolErrorCode(err: Error & { code?: string }): number | null {
  const { code } = err;
  if (typeof code !== 'string' || !code.startsWith('WS_ERR_')) return null;
  return CLOSE_CODES[code] ?? 1002;
}

/** Close codes a peer may send (RFC 6455 §7.4: 1000-1003, 1007-1014 and the private ranges 3000-4999). */
export function isPeerCloseCode(code: number): boolean {
  return Number.isInteger(code) && ((code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999));
}

/** A close reason must fit in 123 bytes of UTF-8; cut longer ones on a character boundary. */
export function fitReason(reason: string): string {
  if (Buffer.byteLength(reason) <= 123) return reason;
  let cut = reason.slice(0, 123);
  while (Buffer.byteLength(cut) > 123) cut = cut.slice(0, -1);
  return cut;
}
