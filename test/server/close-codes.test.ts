// The close code of a protocol error: the server closes with the code RFC
// 6455 gives the error, and tells the app the same code, looked up from ws's
// public error codes (WS_ERR_*), not from ws's private symbols. A raw TCP
// client sends the broken frames, and reads the close frame the server sends.
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, test } from 'node:test';
import { protocolErrorCode } from '../../src/server/close-codes.js';
import { acceptingApp, deferred, serverPool } from './helpers.js';

const MASK = Buffer.from([1, 2, 3, 4]);

/** A client frame (masked unless `masked` is false), `first` the FIN/RSV/opcode byte. */
function frame(first: number, payload: Buffer, masked = true): Buffer {
  if (payload.length > 125) {
    const header = Buffer.from([first, (masked ? 0x80 : 0) | 126, payload.length >> 8, payload.length & 0xff]);
    return Buffer.concat([header, masked ? MASK : Buffer.alloc(0), masked ? payload.map((b, i) => b ^ MASK[i % 4]!) : payload]);
  }
  const header = Buffer.from([first, (masked ? 0x80 : 0) | payload.length]);
  return Buffer.concat([header, masked ? MASK : Buffer.alloc(0), masked ? payload.map((b, i) => b ^ MASK[i % 4]!) : payload]);
}

/** Opens a raw WebSocket connection, sends `bytes`, resolves with the code of the close frame the server sends. */
function closeCodeFor(port: number, bytes: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let data = Buffer.alloc(0);
    let upgraded = false;
    socket.on('error', reject);
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      if (!upgraded) {
        const end = data.indexOf('\r\n\r\n');
        if (end === -1) return;
        assert.match(data.subarray(0, end).toString('latin1'), /^HTTP\/1\.1 101 /);
        upgraded = true;
        data = data.subarray(end + 4);
        socket.write(bytes);
      }
      if (data.length >= 4 && data[0] === 0x88) {
        resolve(data.readUInt16BE(2));
        socket.destroy();
      }
    });
    socket.write('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
      + 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
  });
}

describe('close codes of protocol errors', () => {
  const { serve } = serverPool();

  const cases: Array<[string, Buffer, number]> = [
    ['RSV2 set (WS_ERR_UNEXPECTED_RSV_2_3)', frame(0xa1, Buffer.from('hi')), 1002],
    ['an unmasked client frame (WS_ERR_EXPECTED_MASK)', frame(0x81, Buffer.from('hi'), false), 1002],
    ['a reserved opcode (WS_ERR_INVALID_OPCODE)', frame(0x83, Buffer.from('hi')), 1002],
    ['a close frame with code 999 (WS_ERR_INVALID_CLOSE_CODE)', frame(0x88, Buffer.from([0x03, 0xe7])), 1002],
    ['invalid UTF-8 in a text frame (WS_ERR_INVALID_UTF8)', frame(0x81, Buffer.from([0xc3, 0x28])), 1007],
    ['a message over wsMaxSize (WS_ERR_UNSUPPORTED_MESSAGE_LENGTH)', frame(0x81, Buffer.alloc(200, 'a')), 1009],
  ];
  for (const [what, bytes, code] of cases) {
    test(`${what}: close ${code}, and the app is told ${code}`, async () => {
      const told = deferred<number>();
      const server = await serve(acceptingApp((event) => event.type === 'websocket.disconnect' && told.resolve(event.code)), { wsMaxSize: 100, wsCloseTimeout: 0.2 });
      assert.equal(await closeCodeFor(server.port, bytes), code);
      assert.equal(await told.promise, code);
    });
  }

  test('errors that are not ws protocol errors have no close code', () => {
    assert.equal(protocolErrorCode(Object.assign(new Error('reset'), { code: 'ECONNRESET' })), null);
    assert.equal(protocolErrorCode(new Error('no code')), null);
    assert.equal(protocolErrorCode(Object.assign(new RangeError('x'), { code: 'WS_ERR_TOO_MANY_BUFFERED_PARTS' })), 1008);
  });
});
