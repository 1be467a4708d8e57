/**
 * The HTTP fallback's wire format: its query parameters, session ids, how
 * frames are written down (server-sent events, or the JSON array a long
 * poll answers) and how a POST carries frames up, checked before anything
 * is delivered. Pure functions and constants; no I/O.
 *
 * How it works. A fallback request is a request on a WebSocket route with
 * `switchyard.transport=sse|poll` in its query:
 *
 * - `GET ?switchyard.transport=sse` opens a connection; the response is an
 *   event stream: `open` (JSON `{session, subprotocol, transport}`), then one
 *   event per frame: the default `message` event for a text (its lines as
 *   `data:` lines), `text` (a JSON string) for a text holding a carriage
 *   return, which SSE cannot carry raw, `binary` (base64), and `close`
 *   (JSON `{code, reason}`) before the stream ends. Comments are heartbeats.
 * - `GET ?switchyard.transport=poll` opens a connection and answers a JSON
 *   array whose first element is `{"open": {...}}`; then
 *   `GET ?switchyard.transport=poll&switchyard.session=<id>&switchyard.ack=<n>`
 *   answers the elements after the first `n` (held up to `pollTimeout` while
 *   there are none): `{"text": s}`, `{"bytes": base64}`, `{"close": {code, reason}}`.
 *   Elements stay on the server until a later poll acknowledges them, so a
 *   poll response lost on the way is answered again.
 * - `POST ?switchyard.transport=…&switchyard.session=<id>` with
 *   `{"seq": n, "frames": [...]}` (`application/json`) carries frames up:
 *   `seq` numbers the first frame, frames are delivered in that order, and a
 *   frame already delivered (a POST retried after a lost answer) is skipped.
 *   The answer is `{"ack": next seq}`.
 *
 * Session ids are `<token>~<relay channel>`: 32 random bytes (base64url)
 * that only the owning process knows, and the channel of the process
 * holding the connection, so that any process can relay a POST to it
 * (fallback-relay.ts). Without a channel layer the id is the token alone.
 */
import { randomBytes } from 'node:crypto';
import { isPeerCloseCode } from './close-codes.js';

export const TRANSPORT_PARAM = 'switchyard.transport';
export const SESSION_PARAM = 'switchyard.session';
export const ACK_PARAM = 'switchyard.ack';
export const PROTOCOLS_PARAM = 'switchyard.protocols';
const OURS = new Set([TRANSPORT_PARAM, SESSION_PARAM, ACK_PARAM, PROTOCOLS_PARAM]);

/** The two ways down. */
export type FallbackTransportName = 'sse' | 'poll';

/** A frame as JSON carries it (POST bodies, poll answers, relayed messages). */
export type WireFrame =
  | { text: string }
  | { bytes: string }
  | { close: { code: number; reason: string } };

/** The first element of a poll session and the `open` event of a stream. */
export interface WireOpen { session: string; subprotocol: string | null; transport: FallbackTransportName }

/** What a fallback request asks, read from its query string. */
export interface FallbackQuery {
  transport: string;
  session: string | null;
  ack: string | null;
  protocols: string[];
  /** The query string without the fallback's parameters: what the app sees, as over a WebSocket. */
  appQuery: string;
}

/** The fallback parameters of a request target, or null when it is no fallback request. */
export function fallbackQuery(url: string): FallbackQuery | null {
  const q = url.indexOf('?');
  if (q === -1 || !url.includes(TRANSPORT_PARAM, q)) return null;
  const kept: string[] = [];
  const found = new Map<string, string>();
  for (const part of url.slice(q + 1).split('&')) {
    const eq = part.indexOf('=');
    const key = eq === -1 ? part : part.slice(0, eq);
    if (!OURS.has(key)) {
      kept.push(part);
      continue;
    }
    let value = eq === -1 ? '' : part.slice(eq + 1);
    try { value = decodeURIComponent(value.replace(/\+/g, ' ')); } catch { /* kept as sent: refused below as malformed */ }
    found.set(key, value);
  }
  const transport = found.get(TRANSPORT_PARAM);
  if (transport === undefined) return null;
  const protocols = (found.get(PROTOCOLS_PARAM) ?? '').split(',').map((p) => p.trim()).filter((p) => p !== '');
  return { transport, session: found.get(SESSION_PARAM) ?? null, ack: found.get(ACK_PARAM) ?? null, protocols, appQuery: kept.join('&') };
}

const TOKEN = /^[A-Za-z0-9_-]{43}$/;

/** A new unguessable session token (256 bits). */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

/** The session id of a token owned by the process listening on `channel` (null: no channel layer). */
export function sessionId(token: string, channel: string | null): string {
  return channel === null ? token : `${token}~${channel}`;
}

/** Splits a session id; null when it cannot be one. */
export function parseSessionId(id: string): { token: string; channel: string | null } | null {
  const tilde = id.indexOf('~');
  const token = tilde === -1 ? id : id.slice(0, tilde);
  if (!TOKEN.test(token)) return null;
  return { token, channel: tilde === -1 ? null : id.slice(tilde + 1) };
}

// ---- server-sent events ----

/** The stream's first bytes: how long an `EventSource` waits before reconnecting (ours never does: the client owns retries). */
export const SSE_PREAMBLE = 'retry: 2000\n\n';
/** A heartbeat: a comment, which every SSE reader skips. */
export const SSE_HEARTBEAT = ': ping\n\n';

/** One SSE event; `data` may hold `\n` (one `data:` line each) but no `\r`. */
function sseEvent(event: string | null, data: string): string {
  const head = event === null ? '' : `event: ${event}\n`;
  return `${head}data: ${data.includes('\n') ? data.split('\n').join('\ndata: ') : data}\n\n`;
}

export function sseOpen(open: WireOpen): string { return sseEvent('open', JSON.stringify(open)); }

/** A text frame: raw when SSE can carry it, else as a JSON string (a `\r` would become a line break). */
export function sseText(text: string): string {
  return text.includes('\r') ? sseEvent('text', JSON.stringify(text)) : sseEvent(null, text);
}

export function sseBinary(bytes: Uint8Array): string {
  return sseEvent('binary', Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64'));
}

export function sseClose(code: number, reason: string): string { return sseEvent('close', JSON.stringify({ code, reason })); }

// ---- POST bodies ----

/** A POST body that is not what the fallback expects: answered 400 with `message`. */
export class MalformedBody extends Error {}

/** A POST body, checked: frames decoded, nothing yet delivered. */
export interface PostedFrames { seq: number; frames: WireFrame[] }

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Parses and checks a POST body; throws {@link MalformedBody} saying what is wrong. */
export function parsePost(body: string): PostedFrames {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (err) {
    throw new MalformedBody(`The body is not JSON: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new MalformedBody('The body must be a JSON object {"seq": n, "frames": [...]}');
  const { seq, frames } = value as { seq?: unknown; frames?: unknown };
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) throw new MalformedBody('"seq" must be a non-negative integer');
  if (!Array.isArray(frames) || frames.length === 0) throw new MalformedBody('"frames" must be a non-empty array');
  frames.forEach(checkFrame);
  return { seq, frames: frames as WireFrame[] };
}

/** Checks one posted (or relayed) frame. */
export function checkFrame(frame: unknown, index: number): asserts frame is WireFrame {
  const where = `frames[${index}]`;
  if (typeof frame !== 'object' || frame === null || Array.isArray(frame)) throw new MalformedBody(`${where} must be an object`);
  const keys = Object.keys(frame);
  if (keys.length !== 1) throw new MalformedBody(`${where} must have exactly one of "text", "bytes", "close"`);
  const f = frame as Record<string, unknown>;
  if ('text' in f) {
    if (typeof f.text !== 'string') throw new MalformedBody(`${where}.text must be a string`);
    // What a WebSocket refuses as invalid UTF-8 (close 1007): JSON can spell it as an escaped lone surrogate.
    if (LONE_SURROGATE.test(f.text)) throw new MalformedBody(`${where}.text is not valid Unicode (a lone surrogate)`);
  } else if ('bytes' in f) {
    if (typeof f.bytes !== 'string' || !BASE64.test(f.bytes)) throw new MalformedBody(`${where}.bytes must be base64`);
  } else if ('close' in f) {
    const close = f.close as { code?: unknown; reason?: unknown } | null;
    if (typeof close !== 'object' || close === null) throw new MalformedBody(`${where}.close must be {"code": n, "reason": s}`);
    if (typeof close.code !== 'number' || !isPeerCloseCode(close.code)) throw new MalformedBody(`${where}.close.code must be a close code a peer may send (1000-1003, 1007-1014, 3000-4999)`);
    if (close.reason !== undefined && typeof close.reason !== 'string') throw new MalformedBody(`${where}.close.reason must be a string`);
  } else {
    throw new MalformedBody(`${where} must have exactly one of "text", "bytes", "close"`);
  }
}

/** The payload size of a frame, as the WebSocket limit counts it (`wsMaxSize`). */
export function frameSize(frame: WireFrame): number {
  if ('text' in frame) return Buffer.byteLength(frame.text);
  if ('bytes' in frame) return Math.floor((frame.bytes.length * 3) / 4) - (frame.bytes.endsWith('==') ? 2 : frame.bytes.endsWith('=') ? 1 : 0);
  return 0;
}

/** An error answer's body: a stable code and a sentence. */
export function errorBody(error: string, message: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ error, message, ...extra });
}
