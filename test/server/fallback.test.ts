// The HTTP fallback on a real server (serve(), real sockets): the chat
// demo's consumer over server-sent events and over long polls, beside a
// real WebSocket in the same room; the same frames both ways; the errors
// (unknown session, malformed, oversize, wrong origin, gaps); session expiry
// and a stream that drops give the app its websocket.disconnect.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { configureChannelLayers, type ReceiveEvent, type WebsocketScope } from 'switchyard';
import { application } from '../../examples/chat/app.js';
import { frameClient } from '../helpers/ws-client.js';
import { until } from '../helpers/time.js';
import { acceptingApp, serverPool, type TestServer } from './helpers.js';
import { fallbackUrl, openPoll, openSse, post, type Element } from './fallback-helpers.js';

const ROOM = '/ws/chat/fallback_room/';
const json = (element: Element): unknown => JSON.parse(element.text as string);

describe('the chat consumer over the HTTP fallback', () => {
  const pool = serverPool();
  let server: TestServer;
  let base: string;

  before(async () => {
    configureChannelLayers({ default: 'memory://' });
    server = await pool.serve(application, { fallback: true, accessLog: false });
    base = server.url;
  });

  for (const transport of ['sse', 'poll'] as const) {
    test(`${transport}: connect, send, and receive the room's broadcast; a WebSocket in the room gets the same frames`, async () => {
      const ws = await frameClient(`ws://127.0.0.1:${server.port}${ROOM}`);
      pool.clients.push(ws.ws);
      assert.deepEqual(await ws.next(() => true), { type: 'connection_established', message: 'Connected to chat room' });
      const http = transport === 'sse' ? await openSse(base, ROOM) : await openPoll(base, ROOM);
      try {
        assert.match(http.session, /^[A-Za-z0-9_-]{43}~switchyard-fallback\./);
        // The same greeting as over the WebSocket.
        assert.deepEqual(json(await http.next(() => true)), { type: 'connection_established', message: 'Connected to chat room' });

        const sent = await post(base, ROOM, transport, http.session, { seq: 0, frames: [{ text: JSON.stringify({ message: `hello over ${transport}`, username: 'eve' }) }] });
        assert.deepEqual(sent, { status: 200, json: { ack: 1 } });
        const expected = { message: `hello over ${transport}`, username: 'eve' };
        assert.deepEqual(json(await http.next(() => true)), expected);
        assert.deepEqual(await ws.next(() => true), expected);

        ws.ws.send(JSON.stringify({ message: 'from the websocket', username: 'wes' }));
        assert.deepEqual(json(await http.next(() => true)), { message: 'from the websocket', username: 'wes' });
        assert.deepEqual(await ws.next(() => true), { message: 'from the websocket', username: 'wes' });

        // The app's error frames come down too, and the connection lives on.
        assert.equal((await post(base, ROOM, transport, http.session, { seq: 1, frames: [{ text: 'not json' }] })).status, 200);
        assert.deepEqual(json(await http.next(() => true)), { type: 'error', message: 'Invalid JSON format' });

        // The client closes: the close comes back down, as a WebSocket's echo.
        assert.equal((await post(base, ROOM, transport, http.session, { seq: 2, frames: [{ close: { code: 1000, reason: 'bye' } }] })).status, 200);
        assert.deepEqual(await http.next((e) => 'close' in e), { close: { code: 1000, reason: 'bye' } });
        // The session is over.
        const late = await post(base, ROOM, transport, http.session, { seq: 3, frames: [{ text: '{}' }] });
        assert.equal(late.status, 404);
        assert.equal(late.json.error, 'unknown_session');
      } finally {
        http.stop();
        ws.close();
      }
    });
  }

  test('a text with line breaks and carriage returns arrives unchanged over SSE', async () => {
    const http = await openSse(base, ROOM);
    try {
      await http.next(() => true); // greeting
      const message = 'line one\nline two\r\nline three\rend';
      await post(base, ROOM, 'sse', http.session, { seq: 0, frames: [{ text: JSON.stringify({ message, username: 'eve' }) }] });
      assert.deepEqual(json(await http.next(() => true)), { message, username: 'eve' });
    } finally {
      http.stop();
    }
  });

  test('the chat page origin is checked: another site is refused (403) as its WebSocket would be; same-origin passes', async () => {
    await assert.rejects(openSse(base, ROOM, { origin: 'https://evil.example' }), (err: Error & { status?: number }) => err.status === 403);
    // A browser sends no Origin on a same-origin GET, but says Sec-Fetch-Site: same-origin.
    const http = await openSse(base, ROOM, { 'sec-fetch-site': 'same-origin' });
    try {
      await http.next(() => true);
      // A POST from another site, even with the session id, is refused and delivers nothing.
      const forged = await post(base, ROOM, 'sse', http.session, { seq: 0, frames: [{ text: JSON.stringify({ message: 'forged', username: 'x' }) }] }, { origin: 'https://evil.example' });
      assert.equal(forged.status, 403);
      assert.equal(forged.json.error, 'origin_mismatch');
      const own = await post(base, ROOM, 'sse', http.session, { seq: 0, frames: [{ text: JSON.stringify({ message: 'mine', username: 'x' }) }] }, { origin: base });
      assert.equal(own.status, 200);
      assert.deepEqual(json(await http.next(() => true)), { message: 'mine', username: 'x' });
      assert.equal(http.elements.length, 0, 'the forged message was never delivered');
    } finally {
      http.stop();
    }
  });

  test('no route: refused with 403, as a WebSocket handshake', async () => {
    await assert.rejects(openSse(base, '/ws/nowhere/'), (err: Error & { status?: number }) => err.status === 403);
  });
});

describe('fallback errors and limits', () => {
  const pool = serverPool();
  let server: TestServer;
  const events: ReceiveEvent[] = [];
  const echo = acceptingApp(async (event, send) => {
    events.push(event);
    if (event.type === 'websocket.receive') await send({ type: 'websocket.send', text: event.text ?? undefined, bytes: event.bytes ?? undefined });
  });

  before(async () => {
    server = await pool.serve(echo, { fallback: { maxPostSize: 4096, sessionTimeout: 0.5, pollTimeout: 0.3 }, wsMaxSize: 1000, accessLog: false });
  });

  test('unknown, malformed and ended sessions: 404 with a JSON error', async () => {
    const http = await openSse(server.url, '/x/');
    const channel = http.session.slice(http.session.indexOf('~') + 1);
    // This process's channel with a token it never issued: unknown here, so unknown everywhere.
    const unknown = await post(server.url, '/x/', 'sse', `${'A'.repeat(43)}~${channel}`, { seq: 0, frames: [{ text: 'hi' }] });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.json.error, 'unknown_session');
    const malformed = await post(server.url, '/x/', 'sse', 'short', { seq: 0, frames: [{ text: 'hi' }] });
    assert.equal(malformed.status, 404);
    // A session id naming a channel that is not a fallback relay's is refused, never sent there.
    const consumerChannel = await post(server.url, '/x/', 'sse', `${'A'.repeat(43)}~specific.inmemory!abc`, { seq: 0, frames: [{ text: 'hi' }] });
    assert.equal(consumerChannel.status, 404);
    http.stop();
    await until(async () => (await post(server.url, '/x/', 'sse', http.session, { seq: 0, frames: [{ text: 'hi' }] })).status === 404, 5000, 'the ended session to be unknown');
  });

  test('malformed bodies: 400 with what is wrong, and nothing delivered; the session lives on', async () => {
    const http = await openSse(server.url, '/x/');
    try {
      const cases: Array<[unknown, RegExp]> = [
        ['{not json', /not JSON/],
        [[1, 2], /JSON object/],
        [{ seq: -1, frames: [{ text: 'a' }] }, /"seq"/],
        [{ seq: 0, frames: [] }, /non-empty/],
        [{ seq: 0, frames: [{ text: 1 }] }, /frames\[0\]\.text must be a string/],
        [{ seq: 0, frames: [{ text: 'a', bytes: 'AA==' }] }, /exactly one/],
        [{ seq: 0, frames: [{ text: 'ok' }, { bytes: 'not base64!' }] }, /frames\[1\]\.bytes must be base64/],
        [{ seq: 0, frames: [{ close: { code: 1006 } }] }, /close code/],
        [{ seq: 0, frames: [{ text: '\ud800' }] }, /lone surrogate/],
      ];
      for (const [body, message] of cases) {
        const answer = await post(server.url, '/x/', 'sse', http.session, body);
        assert.equal(answer.status, 400, JSON.stringify(body));
        assert.equal(answer.json.error, 'malformed_body');
        assert.match(String(answer.json.message), message);
      }
      const wrongType = await fetch(fallbackUrl(server.url, '/x/', 'sse', { 'switchyard.session': http.session }), { method: 'POST', body: '{"seq":0,"frames":[{"text":"a"}]}', headers: { 'content-type': 'text/plain' } });
      assert.equal(wrongType.status, 415);
      // Nothing was delivered: the first frame that goes through is seq 0.
      assert.deepEqual(await post(server.url, '/x/', 'sse', http.session, { seq: 0, frames: [{ text: 'first' }, { bytes: Buffer.from([0, 1, 255]).toString('base64') }] }), { status: 200, json: { ack: 2 } });
      assert.deepEqual(await http.next(() => true), { text: 'first' });
      assert.deepEqual(await http.next(() => true), { bytes: 'AAH/' });
    } finally {
      http.stop();
    }
  });

  test('numbered frames: a retried POST delivers nothing twice, a gap is refused with 409', async () => {
    const http = await openSse(server.url, '/x/');
    try {
      assert.deepEqual((await post(server.url, '/x/', 'sse', http.session, { seq: 0, frames: [{ text: 'a' }, { text: 'b' }] })).json, { ack: 2 });
      // The same POST again (its answer was lost, say), with one more frame: only the new one is delivered.
      assert.deepEqual((await post(server.url, '/x/', 'sse', http.session, { seq: 0, frames: [{ text: 'a' }, { text: 'b' }, { text: 'c' }] })).json, { ack: 3 });
      const gap = await post(server.url, '/x/', 'sse', http.session, { seq: 5, frames: [{ text: 'f' }] });
      assert.equal(gap.status, 409);
      assert.equal(gap.json.ack, 3);
      await until(() => http.elements.length === 3, 5000, 'three echoes');
      assert.deepEqual(http.elements, [{ text: 'a' }, { text: 'b' }, { text: 'c' }]);
    } finally {
      http.stop();
    }
  });

  test('a body over maxPostSize is answered 413; a frame over wsMaxSize is 413 and closes with 1009, as over a WebSocket', async () => {
    const http = await openSse(server.url, '/x/');
    try {
      const huge = await post(server.url, '/x/', 'sse', http.session, { seq: 0, frames: [{ text: 'x'.repeat(5000) }] });
      assert.equal(huge.status, 413);
      assert.equal(huge.json.error, 'body_too_large');
      events.length = 0;
      const over = await post(server.url, '/x/', 'sse', http.session, { seq: 0, frames: [{ text: 'fits' }, { text: 'y'.repeat(1001) }] });
      assert.equal(over.status, 413);
      assert.equal(over.json.error, 'message_too_big');
      assert.match(String(over.json.message), /1001 bytes, over the 1000-byte limit/);
      assert.deepEqual(await http.next((e) => 'close' in e), { close: { code: 1009, reason: 'Message too big' } });
      await until(() => events.some((e) => e.type === 'websocket.disconnect'), 5000, 'the disconnect');
      assert.deepEqual(events.map((e) => e.type === 'websocket.receive' ? e.text : e), ['fits', { type: 'websocket.disconnect', code: 1009, reason: 'Message too big' }]);
    } finally {
      http.stop();
    }
  });

  test('a poll session nobody polls expires: the app gets websocket.disconnect 1006, later requests 404', async () => {
    events.length = 0;
    const http = await openPoll(server.url, '/x/');
    assert.equal((await post(server.url, '/x/', 'poll', http.session, { seq: 0, frames: [{ text: 'one' }] })).status, 200);
    assert.deepEqual(await http.next(() => true), { text: 'one' });
    http.stop();
    await until(() => events.some((e) => e.type === 'websocket.disconnect'), 5000, 'the disconnect after sessionTimeout');
    assert.deepEqual(events.at(-1), { type: 'websocket.disconnect', code: 1006, reason: '' });
    assert.equal((await post(server.url, '/x/', 'poll', http.session, { seq: 1, frames: [{ text: 'two' }] })).status, 404);
    const poll = await fetch(fallbackUrl(server.url, '/x/', 'poll', { 'switchyard.session': http.session, 'switchyard.ack': '2' }));
    assert.equal(poll.status, 404);
    assert.equal(((await poll.json()) as { error: string }).error, 'unknown_session');
  });

  test('a long poll answer that was lost is answered again: elements stay until acknowledged', async () => {
    const first = await fetch(fallbackUrl(server.url, '/x/', 'poll'));
    const [{ open }] = (await first.json()) as Array<{ open: { session: string } }>;
    await post(server.url, '/x/', 'poll', open.session, { seq: 0, frames: [{ text: 'kept' }] });
    const poll = (ack: number): Promise<Element[]> =>
      fetch(fallbackUrl(server.url, '/x/', 'poll', { 'switchyard.session': open.session, 'switchyard.ack': String(ack) })).then((r) => r.json() as Promise<Element[]>);
    assert.deepEqual(await poll(1), [{ text: 'kept' }]);
    assert.deepEqual(await poll(1), [{ text: 'kept' }], 'the same ack: the same elements');
    assert.deepEqual(await poll(2), [], 'acknowledged: held, then answered empty after pollTimeout');
    const bad = await fetch(fallbackUrl(server.url, '/x/', 'poll', { 'switchyard.session': open.session, 'switchyard.ack': '9' }));
    assert.equal(bad.status, 400);
    await post(server.url, '/x/', 'poll', open.session, { seq: 1, frames: [{ close: { code: 1000, reason: '' } }] });
  });

  test('an event stream the client drops: websocket.disconnect 1006', async () => {
    events.length = 0;
    const http = await openSse(server.url, '/x/');
    http.stop();
    await until(() => events.some((e) => e.type === 'websocket.disconnect'), 5000, 'the disconnect');
    assert.deepEqual(events.at(-1), { type: 'websocket.disconnect', code: 1006, reason: '' });
  });

  test('fallback requests are counted as connections and closed with 1001 at shutdown', async () => {
    const other = await pool.serve(echo, { fallback: true, accessLog: false });
    const http = await openSse(other.url, '/x/');
    assert.equal(other.openConnections, 1);
    await other.close({ timeout: 1 });
    assert.deepEqual(await http.next((e) => 'close' in e), { close: { code: 1001, reason: 'Server shutting down' } });
  });

  test('the handshake\'s outcomes are a WebSocket\'s: a denial response is the app\'s own, an app that returns undecided is 500', async () => {
    const denying = await pool.serve(async (scope, receive, send) => {
      if (scope.type !== 'websocket') return;
      await receive();
      if (scope.path === '/undecided/') return;
      await send({ type: 'websocket.http.response.start', status: 401, headers: [[Buffer.from('www-authenticate'), Buffer.from('Bearer')]] });
      await send({ type: 'websocket.http.response.body', body: Buffer.from('sign in first') });
    }, { fallback: true, accessLog: false });
    const denied = await fetch(fallbackUrl(denying.url, '/deny/', 'sse'));
    assert.equal(denied.status, 401);
    assert.equal(denied.headers.get('www-authenticate'), 'Bearer');
    assert.equal(await denied.text(), 'sign in first');
    assert.equal((await fetch(fallbackUrl(denying.url, '/undecided/', 'poll'))).status, 500);
  });

  test('a poll client that stops taking what is sent is closed with 1008 past wsMaxSendBuffer', async () => {
    const flood = await pool.serve(acceptingApp(async (event, send) => {
      events.push(event);
      if (event.type === 'websocket.receive') for (let i = 0; i < 40; i++) await send({ type: 'websocket.send', text: 'x'.repeat(100) });
    }), { fallback: true, wsMaxSendBuffer: 2000, wsSendHighWaterMark: 100_000, accessLog: false });
    events.length = 0;
    const first = await fetch(fallbackUrl(flood.url, '/x/', 'poll'));
    const [{ open }] = (await first.json()) as Array<{ open: { session: string } }>;
    await post(flood.url, '/x/', 'poll', open.session, { seq: 0, frames: [{ text: 'go' }] });
    await until(() => events.some((e) => e.type === 'websocket.disconnect'), 5000, 'the disconnect');
    assert.deepEqual(events.at(-1), { type: 'websocket.disconnect', code: 1008, reason: 'Send buffer full' });
  });

  test('the app sees a websocket scope: its own query (the fallback\'s parameters taken out), subprotocols, the transport, the page\'s origin', async () => {
    const scopes: WebsocketScope[] = [];
    const recording = await pool.serve(async (scope, receive, send) => {
      if (scope.type !== 'websocket') return;
      scopes.push(scope);
      await receive();
      await send({ type: 'websocket.accept', subprotocol: 'chat.v2' });
      while ((await receive()).type !== 'websocket.disconnect');
    }, { fallback: true, accessLog: false });
    const url = `${recording.url}/ws/room/?switchyard.transport=poll&room=1&switchyard.protocols=chat.v1,chat.v2&switchyard.recover=1`;
    const opened = await fetch(url, { headers: { 'sec-fetch-site': 'same-origin', cookie: 'sessionid=abc' } });
    const [{ open }] = (await opened.json()) as Array<{ open: { session: string; subprotocol: string; transport: string } }>;
    assert.equal(open.subprotocol, 'chat.v2');
    assert.equal(open.transport, 'poll');
    const [scope] = scopes;
    assert.equal(scope!.type, 'websocket');
    assert.equal(scope!.path, '/ws/room/');
    assert.equal(Buffer.from(scope!.query_string).toString(), 'room=1&switchyard.recover=1');
    assert.deepEqual(scope!.subprotocols, ['chat.v1', 'chat.v2']);
    assert.deepEqual(scope!.extensions?.['switchyard.fallback'], { transport: 'poll' });
    const header = (name: string) => scope!.headers.filter(([k]) => Buffer.from(k).toString() === name).map(([, v]) => Buffer.from(v).toString());
    assert.deepEqual(header('origin'), [recording.url]);
    assert.deepEqual(header('cookie'), ['sessionid=abc']);
    await post(recording.url, '/ws/room/', 'poll', open.session, { seq: 0, frames: [{ close: { code: 1000, reason: '' } }] }, { origin: recording.url });
  });

  test('CORS: a preflight is answered, and answers name the requesting origin (the app\'s origin check decides at the opening request)', async () => {
    const preflight = await fetch(fallbackUrl(server.url, '/x/', 'sse', { 'switchyard.session': 'x' }), {
      method: 'OPTIONS', headers: { origin: 'http://localhost:1234', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), 'http://localhost:1234');
    assert.equal(preflight.headers.get('access-control-allow-credentials'), 'true');
    assert.match(preflight.headers.get('access-control-allow-methods') ?? '', /POST/);
    assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /content-type/);
  });

  test('off by default: the query is the HTTP app\'s', async () => {
    const plain = await pool.serve(async (scope, _receive, send) => {
      if (scope.type !== 'http') return;
      await send({ type: 'http.response.start', status: 204, headers: [] });
      await send({ type: 'http.response.body', body: new Uint8Array() });
    });
    assert.equal((await fetch(fallbackUrl(plain.url, '/x/', 'sse'))).status, 204);
  });

  test('bad options are refused with an exact message', async () => {
    const { resolveOptions } = await import('switchyard/server');
    assert.throws(() => resolveOptions({ fallback: { transports: ['carrier-pigeon' as 'sse'] } }), /"fallback.transports" option must be a non-empty array/);
    assert.throws(() => resolveOptions({ fallback: { pollTimeout: 0 } }), /"fallback.pollTimeout" option must be a positive number/);
    assert.throws(() => resolveOptions({ fallback: { sesionTimeout: 1 } as object }), /Unknown "fallback" option "sesionTimeout"/);
  });
});

after(() => configureChannelLayers({}));
