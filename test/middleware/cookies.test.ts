// Ports of Django Channels' test_set_cookie, plus the cookie parsing rules of CookieMiddleware.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Application, HttpResponseStartEvent } from 'switchyard';
import { CookieMiddleware, deleteCookie, formatSetCookie, parseCookie, setCookie } from 'switchyard/middleware';
import { HttpCommunicator, WebsocketCommunicator } from 'switchyard/testing';

const text = (headers: HttpResponseStartEvent['headers']) =>
  (headers ?? []).map(([n, v]) => [Buffer.from(n).toString(), Buffer.from(v).toString()]);

test('test_set_cookie: the exact Set-Cookie bytes', () => {
  const message: HttpResponseStartEvent = { type: 'http.response.start', status: 200 };
  setCookie(message, 'Testing-Key', 'testing-value');
  assert.deepEqual(text(message.headers), [['Set-Cookie', 'Testing-Key=testing-value; Path=/; SameSite=lax']]);
});

test('setCookie: attributes in SimpleCookie order; max-age implies expires; invalid samesite refused', () => {
  const header = formatSetCookie('k', 'v', { maxAge: 60, domain: 'example.com', secure: true, httpOnly: true, sameSite: 'Strict' });
  assert.match(header, /^k=v; expires=\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT; Domain=example.com; HttpOnly; Max-Age=60; Path=\/; SameSite=Strict; Secure$/);
  assert.throws(() => formatSetCookie('k', 'v', { sameSite: 'sideways' }), /samesite must be either 'strict', 'lax' or 'none'/);
  // Values outside the cookie-safe set are quoted as Python does.
  assert.equal(formatSetCookie('k', 'a b;c"', { path: null, sameSite: null }), 'k="a b\\073c\\""');
  assert.equal(formatSetCookie('k', '', { path: null, sameSite: null }), 'k=""');
});

test('deleteCookie: empty value, Max-Age=0, 1970 expiry', () => {
  const message: HttpResponseStartEvent = { type: 'http.response.start', status: 200, headers: [] };
  deleteCookie(message, 'sessionid');
  assert.deepEqual(text(message.headers), [['Set-Cookie', 'sessionid=""; expires=Thu, 01-Jan-1970 00:00:00 GMT; Max-Age=0; Path=/; SameSite=lax']]);
});

test('parseCookie follows Django parse_cookie (empty names, quotes, last duplicate wins, no prototype)', () => {
  const cookies = parseCookie('a=1; b="two words"; nameless; a=3; __proto__=x; =; c=\\"');
  assert.equal(cookies.a, '3');
  assert.equal(cookies.b, 'two words');
  assert.equal(cookies[''], 'nameless');
  assert.equal(cookies.__proto__, 'x');
  assert.equal(Object.getPrototypeOf(cookies), null);
  assert.equal(cookies.c, '\\"');
});

test('CookieMiddleware reads the first cookie header only; no header gives {}', async () => {
  let seen: unknown;
  const app: Application = async (scope, receive, send) => {
    seen = scope.cookies;
    await receive();
    await send({ type: 'websocket.close' });
  };
  const c = new WebsocketCommunicator(CookieMiddleware(app), '/', { headers: [['cookie', 'a=1'], ['cookie', 'a=2; b=3']] });
  await c.connect();
  assert.deepEqual({ ...(seen as object) }, { a: '1' });
  const none = new WebsocketCommunicator(CookieMiddleware(app), '/');
  await none.connect();
  assert.deepEqual({ ...(seen as object) }, {});
});

test('CookieMiddleware without headers in the scope is an error', async () => {
  const app = CookieMiddleware(async () => {});
  const c = new HttpCommunicator(app, 'GET', '/', { scope: { headers: undefined as never } });
  await assert.rejects(c.getResponse(), /No headers in scope/);
});
