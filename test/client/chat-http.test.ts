// The chat's HTTP app, called directly as an ASGI app: no server, no socket.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { HttpScope, SendEvent } from 'switchyard';
import { chatHttpApp, createChatHttpApp } from '../../examples/chat/http.js';

interface Response {
  status: number;
  headers: Record<string, string>;
  body: string;
  bytes: number;
}

function scope(path: string, method = 'GET', headers: Record<string, string> = {}): HttpScope {
  const enc = new TextEncoder();
  return {
    type: 'http',
    asgi: { version: '3.0' },
    http_version: '1.1',
    method,
    scheme: 'http',
    path,
    query_string: new Uint8Array(0),
    root_path: '',
    headers: Object.entries({ host: '127.0.0.1:8000', ...headers }).map(([k, v]) => [enc.encode(k), enc.encode(v)]),
  };
}

async function request(path: string, method = 'GET', headers: Record<string, string> = {}, app = chatHttpApp): Promise<Response> {
  const events: SendEvent[] = [];
  let received = false;
  await app(
    scope(path, method, headers),
    async () => {
      if (received) return new Promise(() => {}); // nothing more: a client that waits
      received = true;
      return { type: 'http.request', body: new Uint8Array(0), more_body: false };
    },
    async (event) => {
      events.push(event);
    },
  );
  const start = events[0];
  assert.ok(start && start.type === 'http.response.start', 'first event is http.response.start');
  const decoder = new TextDecoder();
  const headerMap: Record<string, string> = {};
  for (const [name, value] of start.headers ?? []) {
    const key = decoder.decode(name);
    assert.equal(key, key.toLowerCase(), 'header names are lower-case');
    headerMap[key] = decoder.decode(value);
  }
  const chunks = events.slice(1).map((event) => {
    assert.equal(event.type, 'http.response.body');
    return (event as { body?: Uint8Array }).body ?? new Uint8Array(0);
  });
  assert.notEqual((events.at(-1) as { more_body?: boolean }).more_body, true, 'the last body event ends the response');
  const body = Buffer.concat(chunks);
  return { status: start.status, headers: headerMap, body: body.toString('utf8'), bytes: body.length };
}

describe('chat HTTP app', () => {
  test('GET / is the lobby page', async () => {
    const res = await request('/');
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
    assert.match(res.body, /id="room-name-input"/);
    assert.equal(Number(res.headers['content-length']), res.bytes);
  });

  test('GET /chat/<room>/ is the room page, with the ids the browser tests use', async () => {
    const res = await request('/chat/lobby_2/');
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
    for (const id of ['chat-messages', 'chat-message-input', 'chat-message-submit', 'username', 'status']) {
      assert.match(res.body, new RegExp(`id="${id}"`), id);
    }
    assert.match(res.body, /<script type="module" src="\/static\/room\.js"><\/script>/);
    assert.doesNotMatch(res.body, /<script>/, 'no inline script: the CSP forbids them');
  });

  test('room names outside \\w+ (Python\'s, Unicode) are 404; a missing trailing slash redirects', async () => {
    for (const path of ['/chat/no-dash/', '/chat/a b/', '/chat/%3Cx%3E/', '/chat/<script>/', '/chat//', '/chat/a/b/', `/chat/${'x'.repeat(101)}/`]) {
      assert.equal((await request(path)).status, 404, path);
    }
    assert.equal((await request('/chat/中文/')).status, 200, 'a room, as in Django (\\w is Unicode there)');
    const redirect = await request('/chat/lobby');
    assert.equal(redirect.status, 301);
    assert.equal(redirect.headers.location, '/chat/lobby/');
    assert.equal((await request('/chat/中文')).headers.location, '/chat/%E4%B8%AD%E6%96%87/');
  });

  test('static files have their content types; anything else under /static/ is 404', async () => {
    assert.equal((await request('/static/chat.css')).headers['content-type'], 'text/css; charset=utf-8');
    assert.equal((await request('/static/room.js')).headers['content-type'], 'text/javascript; charset=utf-8');
    assert.equal((await request('/static/index.js')).headers['content-type'], 'text/javascript; charset=utf-8');
    assert.equal((await request('/static/favicon.svg')).headers['content-type'], 'image/svg+xml');
    for (const path of ['/static/', '/static/../http.ts', '/static/room.html', '/static/constructor', '/static/__proto__', '/nope', '/favicon.ico']) {
      assert.equal((await request(path)).status, 404, path);
    }
  });

  test('the client bundle is built on first request, then served from memory', async () => {
    const app = createChatHttpApp();
    const first = await request('/static/switchyard-client.js', 'GET', {}, app);
    assert.equal(first.status, 200);
    assert.equal(first.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.match(first.body, /export\s*\{/, 'an ES module');
    assert.match(first.body, /ReconnectingWebSocket/);
    assert.doesNotMatch(first.body, /\bnode:|\brequire\(/, 'nothing from Node in the browser bundle');
    assert.ok(first.bytes < 20_000, `minified: ${first.bytes} bytes`);
    const started = performance.now();
    const second = await request('/static/switchyard-client.js', 'GET', {}, app);
    assert.ok(performance.now() - started < 50, 'cached');
    assert.equal(second.headers.etag, first.headers.etag);
    assert.equal(second.body, first.body);
  });

  test('the ETag makes revalidation cheap: If-None-Match gets a 304 without a body', async () => {
    const first = await request('/static/chat.css');
    assert.equal(first.headers['cache-control'], 'no-cache');
    assert.match(first.headers.etag!, /^"[\w-]+"$/);
    const again = await request('/static/chat.css', 'GET', { 'if-none-match': first.headers.etag! });
    assert.equal(again.status, 304);
    assert.equal(again.bytes, 0);
    assert.equal((await request('/static/chat.css', 'GET', { 'if-none-match': '"other"' })).status, 200);
  });

  test('security headers: nosniff everywhere, a CSP allowing only own scripts and own WebSockets', async () => {
    const res = await request('/chat/lobby/');
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    const csp = res.headers['content-security-policy']!;
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.match(csp, /connect-src 'self' ws:\/\/127\.0\.0\.1:8000 wss:\/\/127\.0\.0\.1:8000;/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal((await request('/nope')).headers['x-content-type-options'], 'nosniff');

    // A hostile Host header is not copied into the policy.
    const hostile = await request('/', 'GET', { host: "evil; script-src 'unsafe-inline'" });
    assert.match(hostile.headers['content-security-policy']!, /connect-src 'self'; /);
    assert.doesNotMatch(hostile.headers['content-security-policy']!, /unsafe-inline/);
  });

  test('HEAD has the headers of GET and no body; other methods are 405 with Allow', async () => {
    const get = await request('/chat/lobby/');
    const head = await request('/chat/lobby/', 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.bytes, 0);
    assert.equal(head.headers['content-length'], get.headers['content-length']);
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
      const res = await request('/chat/lobby/', method);
      assert.equal(res.status, 405, method);
      assert.equal(res.headers.allow, 'GET, HEAD');
    }
  });

  test('a non-http scope is a routing mistake and says so', async () => {
    await assert.rejects(
      chatHttpApp({ type: 'websocket' } as never, async () => ({ type: 'websocket.connect' }), async () => {}),
      /route only 'http' to it/,
    );
  });

  test('a page that cannot be read is a 500, and is retried on the next request', async () => {
    const app = createChatHttpApp({ pagesDir: new URL('./no-such-dir/', import.meta.url) });
    const original = console.error;
    console.error = () => {};
    try {
      assert.equal((await request('/', 'GET', {}, app)).status, 500);
      assert.equal((await request('/', 'GET', {}, app)).status, 500);
    } finally {
      console.error = original;
    }
  });
});
