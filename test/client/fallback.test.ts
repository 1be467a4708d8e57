// The client's HTTP fallback in Node 20 (fetch, no EventSource): the
// ReconnectingWebsocket over FallbackWebsocket (SSE and long polls) in the
// chat room beside a real WebSocket, binary frames, a clean close, and
// withFallback() switching by itself when the WebSocket cannot connect.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { configureChannelLayers } from 'switchyard';
import { ReconnectingWebsocket, type MessageDetail, type WebsocketConstructor } from 'switchyard/client';
import { fallbackWebsocket, withFallback } from 'switchyard/client/fallback';
import { serve, type Server } from 'switchyard/server';
import { application } from '../../examples/chat/app.js';
import { SseParser } from '../../src/client/fallback-sse.js';
import { echoApp } from '../server/fixtures/fallback-echo.js';
import { frameClient } from '../helpers/ws-client.js';
import { closedPort } from '../helpers/ports.js';
import { until } from '../helpers/time.js';

const ROOM = '/ws/chat/client_fallback/';

function collect(client: ReconnectingWebsocket): MessageDetail[] {
  const messages: MessageDetail[] = [];
  client.on('message', (detail) => messages.push(detail));
  return messages;
}

describe('ReconnectingWebsocket over the HTTP fallback', () => {
  let server: Server;
  let echo: Server;
  let port = 0;

  before(async () => {
    configureChannelLayers({ default: 'memory://' });
    server = await serve(application, { port: 0, fallback: true, accessLog: false, logLevel: 'warn', lifespan: 'off' });
    echo = await serve(echoApp('echo'), { port: 0, fallback: true, accessLog: false, logLevel: 'warn', lifespan: 'off' });
    port = (server.address as { port: number }).port;
  });

  after(async () => {
    await server.close({ timeout: 1 });
    await echo.close({ timeout: 1 });
    configureChannelLayers({});
  });

  for (const transport of ['sse', 'poll'] as const) {
    test(`${transport}: chats with a WebSocket in the same room, both ways, then closes cleanly`, async () => {
      const ws = await frameClient(`ws://127.0.0.1:${port}${ROOM}`);
      await ws.next(() => true);
      const client = new ReconnectingWebsocket(`ws://127.0.0.1:${port}${ROOM}`, { WebSocket: fallbackWebsocket({ transport }) });
      const messages = collect(client);
      try {
        await until(() => messages.length === 1, 5000, 'the greeting');
        assert.deepEqual(messages[0]!.data, { type: 'connection_established', message: 'Connected to chat room' });
        client.sendJson({ message: `hi from ${transport}`, username: 'fay' });
        client.sendJson({ message: 'second', username: 'fay' });
        assert.deepEqual(await ws.next(() => true), { message: `hi from ${transport}`, username: 'fay' });
        assert.deepEqual(await ws.next(() => true), { message: 'second', username: 'fay' });
        ws.ws.send(JSON.stringify({ message: 'hello fay', username: 'wes' }));
        await until(() => messages.length === 4, 5000, 'the three broadcasts');
        assert.deepEqual(messages.slice(1).map((m) => m.data), [
          { message: `hi from ${transport}`, username: 'fay' }, { message: 'second', username: 'fay' }, { message: 'hello fay', username: 'wes' },
        ]);
        const closed = new Promise<{ code: number; wasClean: boolean }>((resolve) => client.on('close', resolve));
        client.close(1000, 'done');
        assert.deepEqual(await closed, { code: 1000, reason: 'done', wasClean: true, willReconnect: false });
      } finally {
        client.close();
        ws.close();
      }
    });
  }

  test('binary frames go up and text comes back; many sends keep their order', async () => {
    const echoPort = (echo.address as { port: number }).port;
    const client = new ReconnectingWebsocket(`ws://127.0.0.1:${echoPort}/x/`, { WebSocket: fallbackWebsocket() });
    const messages = collect(client);
    try {
      client.send(new Uint8Array([1, 2, 3]));
      for (let i = 0; i < 50; i++) client.send(`n${i}`);
      await until(() => messages.length === 51, 10_000, 'fifty-one echoes');
      assert.deepEqual(messages.map((m) => m.data), ['echo: 3 bytes', ...Array.from({ length: 50 }, (_, i) => `echo: n${i}`)]);
    } finally {
      client.close();
    }
  });

  test('withFallback: a WebSocket that cannot connect is replaced by the fallback, and the next connection goes straight to it', async () => {
    let attempts = 0;
    // A network that breaks WebSockets: every attempt fails before it opens.
    class Blocked extends WebSocket {
      constructor(_url: string, protocols?: string | string[]) {
        attempts++;
        super(`ws://127.0.0.1:1/`, protocols);
      }
    }
    const transports: string[] = [];
    const watching: typeof fetch = (input, init) => {
      transports.push(/switchyard\.transport=(\w+)/.exec(String(input))?.[1] ?? '');
      return fetch(input, init);
    };
    const Auto = withFallback({ WebSocket: Blocked as unknown as WebsocketConstructor, fetch: watching });
    const client = new ReconnectingWebsocket(`ws://127.0.0.1:${port}${ROOM}`, { WebSocket: Auto, minDelay: 50, maxDelay: 100 });
    const messages = collect(client);
    try {
      await until(() => messages.length === 1, 10_000, 'the greeting over the fallback');
      assert.equal(attempts, 1);
      assert.equal(Auto.usingFallback, true);
      const opens: boolean[] = [];
      client.on('open', ({ reconnected }) => opens.push(reconnected));
      // The server ends the connection (the room's app closes it): the client reconnects, straight over HTTP.
      await server.close({ timeout: 1 });
      server = await serve(application, { port, fallback: true, accessLog: false, logLevel: 'warn', lifespan: 'off' });
      await until(() => opens.length === 1, 10_000, 'the reconnection');
      assert.equal(attempts, 1, 'no second WebSocket attempt within websocketRetry');
      client.sendJson({ message: 'back', username: 'fay' });
      await until(() => messages.some((m) => (m.data as { message?: string }).message === 'back'), 5000, 'the message after reconnecting');
    } finally {
      client.close();
    }
  });

  test('withFallback: a server that is down fails the event stream, which is reported, not taken for a proxy (no long polls)', async () => {
    const transports: string[] = [];
    const watching: typeof fetch = (input, init) => {
      transports.push(/switchyard\.transport=(\w+)/.exec(String(input))?.[1] ?? '');
      return fetch(input, init);
    };
    class Blocked extends WebSocket {
      constructor(_url: string, protocols?: string | string[]) { super('ws://127.0.0.1:1/', protocols); }
    }
    const Auto = withFallback({ WebSocket: Blocked as unknown as WebsocketConstructor, fetch: watching });
    const client = new ReconnectingWebsocket(`ws://127.0.0.1:${await closedPort()}/x/`, { WebSocket: Auto, minDelay: 10, maxDelay: 20, maxRetries: 2 });
    const closes: number[] = [];
    client.on('close', ({ code }) => closes.push(code));
    client.on('error', () => {});
    await until(() => client.state === 'closed', 10_000, 'the client to give up');
    assert.deepEqual(closes, [1006, 1006, 1006]);
    assert.deepEqual(transports, ['sse', 'sse', 'sse']);
  });

  test('withFallback: an event stream that never opens (a proxy buffering it) gives way to long polls', async () => {
    const echoPort = (echo.address as { port: number }).port;
    const held: string[] = [];
    // A network that holds event streams back (as a buffering proxy does) and passes everything else.
    const buffering: typeof fetch = (input, init) => {
      if (!String(input).includes('switchyard.transport=sse')) return fetch(input, init);
      held.push(String(input));
      return new Promise((_resolve, reject) => init?.signal?.addEventListener('abort', () => reject(new Error('aborted'))));
    };
    class Blocked extends WebSocket {
      constructor(_url: string, protocols?: string | string[]) { super('ws://127.0.0.1:1/', protocols); }
    }
    const Auto = withFallback({ WebSocket: Blocked as unknown as WebsocketConstructor, fetch: buffering, websocketTimeout: 300 });
    const client = new ReconnectingWebsocket(`ws://127.0.0.1:${echoPort}/x/`, { WebSocket: Auto });
    const messages = collect(client);
    try {
      client.send('through polls');
      await until(() => messages.length === 1, 10_000, 'the echo over long polls');
      assert.equal(messages[0]!.data, 'echo: through polls');
      assert.equal(held.length, 1, 'one event stream tried, then abandoned');
    } finally {
      client.close();
    }
  });
});

test('the SSE reader: events split anywhere between chunks, CRLF, CR and LF line ends, comments, multi-line data', () => {
  const stream = ': comment\r\nretry: 2000\r\n\r\nevent: open\ndata: {"a":1}\n\ndata: line one\rdata: line two\r\rdata: 你好\n\n';
  const bytes = new TextEncoder().encode(stream);
  for (let cut = 1; cut < bytes.length; cut++) {
    const parser = new SseParser();
    const events = [...parser.push(bytes.subarray(0, cut)), ...parser.push(bytes.subarray(cut))];
    assert.deepEqual(events, [
      { event: 'open', data: '{"a":1}' },
      { event: 'message', data: 'line one\nline two' },
      { event: 'message', data: '你好' },
    ], `cut at ${cut}`);
  }
});
