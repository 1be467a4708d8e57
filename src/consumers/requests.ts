/**
 * Request/reply, the server's half of the wire (`docs/requests.md`).
 *
 * A client asks with `{"$sy":"q","id":7,"r":"rename","d":{...}}`; the
 * consumer answers `{"$sy":"a","id":7,"d":<reply>}` or
 * `{"$sy":"a","id":7,"error":{"code":"...","message":"..."}}`. Both are
 * `$sy` extension frames: a client that never asks never sees one, so the
 * app's own protocol stays exactly what it is.
 *
 * Error codes are stable (the client sees them as `RequestError.reason`):
 * `invalid_message` (the input failed its schema; `issues` say where),
 * `unknown_request`, `handler_error` (the handler threw: its message is
 * not sent, it is logged), `timeout` (the handler took longer than the
 * consumer's `requestTimeout`), `unavailable` (the channel layer is away),
 * and any code a handler throws with a {@link RequestError} of its own.
 */
import type { Issue } from './schema.js';

/** The error codes Switchyard answers with; a handler may throw others with {@link RequestError}. */
export type RequestErrorCode = 'invalid_message' | 'unknown_request' | 'handler_error' | 'timeout' | 'unavailable';

// One class for both sides: a handler throws it to answer its own code, and
// the client rejects with it (`switchyard/client`, which imports nothing from here).
export { RequestError } from '../client/requests.js';

/** A request as it arrived: its id, its name, its input. */
export interface RequestFrame { id: number; name: string; input: unknown }

/** The greatest id a client may use: ids are integers the client counts up. */
const MAX_ID = Number.MAX_SAFE_INTEGER;

/**
 * The request in a decoded frame: a {@link RequestFrame}, `'malformed'` for
 * a `$sy:"q"` frame with no usable id or name, or null when the frame is
 * not a request (the app's own message).
 */
export function requestIn(content: unknown): RequestFrame | 'malformed' | null {
  if (typeof content !== 'object' || content === null || (content as { $sy?: unknown }).$sy !== 'q') return null;
  const { id, r: name, d: input } = content as { id?: unknown; r?: unknown; d?: unknown };
  if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id > MAX_ID || typeof name !== 'string' || name === '') return 'malformed';
  return { id, name, input };
}

/**
 * The reply frame's text. The prefix is fixed (`{"$sy":"a","id":`) so that
 * a client finds replies without parsing every frame.
 */
export function replyFrame(id: number, reply: unknown): string {
  const data = JSON.stringify(reply);
  return `{"$sy":"a","id":${id}${data === undefined ? '' : `,"d":${data}`}}`;
}

/** The error reply's text. */
export function errorReplyFrame(id: number, code: string, message: string, issues?: Issue[]): string {
  return `{"$sy":"a","id":${id},"error":${JSON.stringify(issues === undefined ? { code, message } : { code, message, issues })}}`;
}
