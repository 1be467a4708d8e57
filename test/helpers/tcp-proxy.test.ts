// The fault-test proxy of test/helpers/tcp-proxy.ts: bytes pass both ways, a cut resets
// both sides of every connection at once, new connections fail for the window, and the
// proxy accepts again after it; against a real echo server and a real WebSocket.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { type AddressInfo, type Server, type Socket, connect, createServer } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { TcpProxy } from './tcp-proxy.js';
import { until } from './time.js';

/** An echo server that keeps its sockets, so a test can see the server side of a cut. */
async function echoServer(): Promise<{ server: Server; port: number; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, sockets };
}

/** Connects to `port`; resolves with the socket once connected, and what became of it. */
function dial(port: number): { socket: Socket; ended: Promise<string> } {
  const socket = connect({ port, host: '127.0.0.1' });
  const ended = new Promise<string>((resolve) => {
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    socket.once('close', () => resolve('close'));
  });
  return { socket, ended };
}

/** Sends `text` and resolves with what comes back, once `text.length` bytes have. */
function roundTrip(socket: Socket, text: string): Promise<string> {
  return new Promise((resolve) => {
    let received = '';
    const onData = (chunk: Buffer) => {
      received += chunk.toString();
      if (received.length >= text.length) {
        socket.off('data', onData);
        resolve(received);
      }
    };
    socket.on('data', onData);
    socket.write(text);
  });
}

const echo = await echoServer();
const proxy = await TcpProxy.start({ target: { port: echo.port } });
after(async () => {
  await proxy.close();
  await new Promise((resolve) => echo.server.close(resolve));
});

test('bytes pass both ways through the proxy, and it counts its open connections', async () => {
  const { socket } = dial(proxy.port);
  assert.equal(await roundTrip(socket, 'hello'), 'hello');
  assert.equal(proxy.connections, 1);
  socket.end();
  await until(() => proxy.connections === 0 && echo.sockets.size === 0, 2000, 'the connection closed on both sides');
});

test('a cut resets both sides of every open connection; new ones fail for the window; then it accepts again', async () => {
  const a = dial(proxy.port);
  const b = dial(proxy.port);
  assert.equal(await roundTrip(a.socket, 'a'), 'a');
  assert.equal(await roundTrip(b.socket, 'b'), 'b');
  assert.equal(echo.sockets.size, 2);

  const started = Date.now();
  const back = proxy.cut({ forMs: 400 });
  assert.equal(await a.ended, 'ECONNRESET', 'the client side is reset, not ended');
  assert.equal(await b.ended, 'ECONNRESET');
  assert.equal(proxy.connections, 0);
  await until(() => echo.sockets.size === 0, 2000, 'the server side of both connections to close');

  const during = dial(proxy.port);
  assert.equal(await during.ended, 'ECONNRESET', 'a connection during the window is reset');
  assert.equal(echo.sockets.size, 0, 'and never reaches the target');

  await back;
  assert.ok(Date.now() - started >= 400, 'cut() resolves once the window is over');
  const later = dial(proxy.port);
  assert.equal(await roundTrip(later.socket, 'again'), 'again');
  later.socket.end();
  await until(() => proxy.connections === 0, 2000, 'the last connection to close');
});

test('a WebSocket through the proxy: a cut closes both ends abnormally (1006), a retry in the window fails, one after it works', async () => {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((resolve) => wss.once('listening', resolve));
  const serverCloses: number[] = [];
  wss.on('connection', (ws) => {
    ws.on('message', (data) => ws.send(`echo:${String(data)}`));
    ws.on('close', (code) => serverCloses.push(code));
    ws.on('error', () => {});
  });
  const wsProxy = await TcpProxy.start({ target: { port: (wss.address() as AddressInfo).port } });
  const url = `ws://127.0.0.1:${wsProxy.port}/`;
  const open = (): Promise<WebSocket> => new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
  const exchange = (ws: WebSocket, text: string): Promise<string> => new Promise((resolve) => {
    ws.once('message', (data) => resolve(String(data)));
    ws.send(text);
  });
  try {
    const ws = await open();
    assert.equal(await exchange(ws, 'hi'), 'echo:hi');
    const closed = new Promise<number>((resolve) => ws.once('close', resolve));
    ws.on('error', () => {});

    const back = wsProxy.cut({ forMs: 300 });
    assert.equal(await closed, 1006, 'the client sees an abnormal closure');
    await until(() => serverCloses.length === 1, 2000, 'the server to see the connection close');
    assert.equal(serverCloses[0], 1006, 'the server sees an abnormal closure too');
    await assert.rejects(open(), /ECONNRESET|socket hang up/, 'a handshake during the window fails');

    await back;
    const again = await open();
    assert.equal(await exchange(again, 'back'), 'echo:back');
    again.close();
    await until(() => wsProxy.connections === 0, 2000, 'the WebSocket to close');
  } finally {
    await wsProxy.close();
    await new Promise((resolve) => wss.close(resolve));
  }
});
