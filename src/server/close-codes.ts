/**
 * Close codes and reasons as the WebSocket protocol wants them: the code of
 * a protocol error `ws` detected, and a reason cut to the protocol's limit.
 */

/** The close code ws sends for a protocol error (its errors carry it under a private symbol). */
export function protocolErrorCode(err: Error & { code?: string }): number | null {
  const symbol = Object.getOwnPropertySymbols(err).find((s) => s.description === 'status-code');
  const value = symbol === undefined ? undefined : (err as unknown as Record<symbol, unknown>)[symbol];
  if (typeof value === 'number') return value;
  if (err.code === 'WS_ERR_INVALID_UTF8') return 1007;
  if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') return 1009;
  return typeof err.code === 'string' && err.code.startsWith('WS_ERR_') ? 1002 : null;
}

/** A close reason must fit in 123 bytes of UTF-8; cut longer ones on a character boundary. */
export function fitReason(reason: string): string {
  if (Buffer.byteLength(reason) <= 123) return reason;
  let cut = reason.slice(0, 123);
  while (Buffer.byteLength(cut) > 123) cut = cut.slice(0, -1);
  return cut;
}
