/**
 * The 101 answer to an accepted WebSocket handshake (RFC 6455 §4.2.2): the
 * accept key, the subprotocol the app chose (only if the client offered
 * it), and the app's extra headers. Used for connections without
 * extensions, which the server frames itself; `ws` writes it for
 * permessage-deflate connections, with the same choices (the hub's hooks).
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Header } from '../asgi.js';
import { checkedHeader } from './handshake-responses.js';
import { isToken } from './http.js';
import type { Acceptance } from './websocket-host.js';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** What to say when the app chose a subprotocol the client did not offer. */
export interface ProtocolWarning { warn(fields: object, message: string): void }

/** The subprotocols a `Sec-WebSocket-Protocol` header offers; null when it is malformed (not a list of distinct tokens). */
export function offeredProtocols(header: string | undefined): Set<string> | null {
  const offered = new Set<string>();
  if (header === undefined) return offered;
  for (const part of header.split(',')) {
    const name = part.trim();
    if (!isToken(name) || offered.has(name)) return null;
    offered.add(name);
  }
  return offered;
}

/** The subprotocol to answer with: the app's choice if the client offered it (else none, and a warning). */
export function chosenProtocol(chosen: string | null, offered: ReadonlySet<string>, logger: ProtocolWarning): string | null {
  if (chosen === null) return null;
  if (!offered.has(chosen)) {
    logger.warn({ subprotocol: chosen, offered: [...offered] }, 'Accepted subprotocol was not offered by the client; not sent');
    return null;
  }
  return chosen;
}

/**
 * The extra headers of the app's `websocket.accept` as `Name: value` lines
 * (never `Sec-WebSocket-Protocol`, which only the subprotocol choice sets);
 * a header that could split the response is a `ProtocolError`.
 */
export function extraHeaderLines(headers: readonly Header[]): string[] {
  const lines: string[] = [];
  for (const [rawName, rawValue] of headers) {
    const [name, value] = checkedHeader(rawName, rawValue, 'websocket.accept');
    if (name.toLowerCase() === 'sec-websocket-protocol') continue; // the spec forbids it here
    lines.push(`${name}: ${value}`);
  }
  return lines;
}

/**
 * The whole 101 response for `req` (whose key the hub has checked), or null
 * when its `Sec-WebSocket-Protocol` header is malformed (answered 400, as
 * `ws` does).
 */
export function switchingProtocols(req: IncomingMessage, accepted: Acceptance, logger: ProtocolWarning): string | null {
  const offered = offeredProtocols(req.headers['sec-websocket-protocol']);
  if (offered === null) return null;
  const accept = createHash('sha1').update(req.headers['sec-websocket-key'] + GUID).digest('base64');
  const lines = ['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Accept: ${accept}`];
  const protocol = chosenProtocol(accepted.subprotocol, offered, logger);
  if (protocol !== null) lines.push(`Sec-WebSocket-Protocol: ${protocol}`);
  lines.push(...accepted.headerLines);
  return `${lines.join('\r\n')}\r\n\r\n`;
}
