/**
 * A lean WebSocket client for the load generator: a TCP socket, a fixed
 * handshake, and a frame parser that hands the payload's byte range to a
 * callback without decoding it. A general client (ws, socket.io-client)
 * would spend more CPU per received message than the servers under test,
 * and the load generator must not be the bottleneck.
 *
 * Masking uses the all-zero key (allowed by RFC 6455: the key only has to be
 * present), so outgoing payloads are copied as they are.
 */
import net from 'node:net';

export interface LeanHandlers {
  /** A text or binary message: its bytes are `buf[start, end)`, valid only during the call. */
  onMessage(buf: Buffer, start: number, end: number): void;
  /** The connection ended (or never opened); `error` when it failed. */
  onClose(error?: Error): void;
}

const HANDSHAKE_END = Buffer.from('\r\n\r\n');

export class LeanSocket {
  readonly socket: net.Socket;
  open = false;
  closed = false;
  #rest: Buffer | null = null;
  #handshaking = true;
  readonly #handlers: LeanHandlers;

  constructor(host: string, port: number, path: string, handlers: LeanHandlers, localAddress?: string) {
    this.#handlers = handlers;
    this.socket = net.connect({ host, port, noDelay: true, ...(localAddress ? { localAddress } : {}) });
    this.socket.on('connect', () => {
      this.socket.write(
        `GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`
        + 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n'
        + `Origin: http://${host}:${port}\r\n\r\n`,
      );
    });
    this.socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    this.socket.on('error', (error) => this.#end(error));
    this.socket.on('close', () => this.#end());
  }

  /** Sends a text frame (ASCII payloads only: the length is the string length). */
  sendText(text: string): void {
    if (!this.open) return;
    const length = text.length;
    const header = length < 126 ? 6 : length < 65536 ? 8 : 14;
    const frame = Buffer.allocUnsafe(header + length);
    frame[0] = 0x81;
    if (length < 126) {
      frame[1] = 0x80 | length;
    } else if (length < 65536) {
      frame[1] = 0x80 | 126;
      frame.writeUInt16BE(length, 2);
    } else {
      frame[1] = 0x80 | 127;
      frame.writeBigUInt64BE(BigInt(length), 2);
    }
    frame.writeUInt32BE(0, header - 4); // the zero masking key
    frame.write(text, header, 'latin1');
    this.socket.write(frame);
  }

  /** Drops the connection without a closing handshake. */
  destroy(): void {
    this.socket.destroy();
  }

  #end(error?: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.open = false;
    this.#handlers.onClose(error);
  }

  #control(opcode: number, payload: Buffer): void {
    if (opcode === 0x9) {
      // ping → pong with the same payload (masked with the zero key)
      const frame = Buffer.allocUnsafe(6 + payload.length);
      frame[0] = 0x8a;
      frame[1] = 0x80 | payload.length;
      frame.writeUInt32BE(0, 2);
      payload.copy(frame, 6);
      this.socket.write(frame);
    } else if (opcode === 0x8) {
      this.socket.end();
    }
  }

  #onData(chunk: Buffer): void {
    let buf = this.#rest === null ? chunk : Buffer.concat([this.#rest, chunk]);
    let off = 0;
    if (this.#handshaking) {
      const end = buf.indexOf(HANDSHAKE_END);
      if (end === -1) {
        this.#rest = buf;
        return;
      }
      const status = buf.toString('latin1', 0, 12);
      if (!status.startsWith('HTTP/1.1 101')) {
        this.#end(new Error(`handshake refused: ${buf.toString('latin1', 0, buf.indexOf('\r\n'))}`));
        this.socket.destroy();
        return;
      }
      this.#handshaking = false;
      this.open = true;
      off = end + 4;
    }
    const length = buf.length;
    while (length - off >= 2) {
      const b0 = buf[off]!;
      let size = buf[off + 1]! & 0x7f;
      let header = 2;
      if (size === 126) {
        if (length - off < 4) break;
        size = buf.readUInt16BE(off + 2);
        header = 4;
      } else if (size === 127) {
        if (length - off < 10) break;
        size = Number(buf.readBigUInt64BE(off + 2));
        header = 10;
      }
      if (length - off < header + size) break;
      const start = off + header;
      const opcode = b0 & 0x0f;
      off = start + size;
      if (opcode >= 0x8) this.#control(opcode, buf.subarray(start, off));
      else this.#handlers.onMessage(buf, start, off);
    }
    this.#rest = off < length ? buf.subarray(off) : null;
  }
}
