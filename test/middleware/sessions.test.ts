// Ports of Django Channels' test_sessions, test_session_samesite*, test_multiple_sessions,
// test_session_saves, test_session_save_update_error; key rotation and WebSocket saves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Application, HttpScope } from 'switchyard';
import { SuspiciousOperation } from 'switchyard';
import {
  MemorySessionStore, SessionManager, SessionMiddlewareStack, Signer, getSession,
} from 'switchyard/middleware';
import { HttpCommunicator, WebsocketCommunicator } from 'switchyard/testing';

const SECRETS = ['test-secret'];

/** Django's SimpleHttpApp: stores a value in the session and answers with the path. */
const simpleHttpApp: Application = async (scope, receive, send) => {
  await receive();
  const session = getSession(scope as HttpScope);
  await session.set('foo', 'bar');
  await send({ type: 'http.response.start', status: 200, headers: [] });
  await send({ type: 'http.response.body', body: Buffer.from(scope.type === 'http' ? scope.path : '') });
};

function setCookies(headers: Array<[Uint8Array, Uint8Array]>): string[] {
  return headers.filter(([n]) => Buffer.from(n).toString().toLowerCase() === 'set-cookie').map(([, v]) => Buffer.from(v).toString());
}

test('test_sessions: sessionid with expires, HttpOnly, Max-Age, Path and SameSite=Lax', async () => {
  const app = SessionMiddlewareStack(simpleHttpApp, { secrets: SECRETS });
  const response = await new HttpCommunicator(app, 'GET', '/test/').getResponse();
  assert.equal(response.status, 200);
  const [cookie] = setCookies(response.headers);
  assert.match(cookie!, /^sessionid=[A-Za-z0-9_.-]+; expires=\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT; HttpOnly; Max-Age=1209600; Path=\/; SameSite=Lax$/);
});

test('test_session_samesite: the SameSite value follows the setting', async () => {
  for (const sameSite of ['Strict', 'None'] as const) {
    const app = SessionMiddlewareStack(simpleHttpApp, { secrets: SECRETS, sameSite });
    const [cookie] = setCookies((await new HttpCommunicator(app, 'GET', '/').getResponse()).headers);
    assert.match(cookie!, new RegExp(`SameSite=${sameSite}`));
  }
});

test('test_session_samesite_invalid: refused at construction', () => {
  assert.throws(() => SessionMiddlewareStack(simpleHttpApp, { secrets: SECRETS, sameSite: 'Invalid' as never }), /samesite must be either/);
});

test('test_multiple_sessions: separate scopes, out-of-order requests', async () => {
  const app = SessionMiddlewareStack(simpleHttpApp, { secrets: SECRETS });
  const first = new HttpCommunicator(app, 'GET', '/first/');
  const second = new HttpCommunicator(app, 'GET', '/second/');
  const secondResponse = await second.getResponse();
  const firstResponse = await first.getResponse();
  assert.equal(firstResponse.body.toString(), '/first/');
  assert.equal(secondResponse.body.toString(), '/second/');
  assert.notEqual(setCookies(firstResponse.headers)[0], setCookies(secondResponse.headers)[0]);
});

test('test_session_saves: modified in the app, saved on http.response.start, readable from the store', async () => {
  const store = new MemorySessionStore();
  const manager = new SessionManager({ store, secrets: SECRETS });
  const app = SessionMiddlewareStack(simpleHttpApp, manager);
  const [cookie] = setCookies((await new HttpCommunicator(app, 'GET', '/').getResponse()).headers);
  const value = /^sessionid=([^;]+)/.exec(cookie!)![1]!;
  const token = new Signer(SECRETS, { salt: 'switchyard.sessions' }).unsign(value);
  assert.deepEqual(await store.load(token!), { foo: 'bar' });
  // The next request with that cookie sees the data.
  let seen: unknown;
  const reader = SessionMiddlewareStack(async (scope, receive, send) => {
    await receive();
    seen = await getSession(scope).get('foo');
    await send({ type: 'http.response.start', status: 204 });
    await send({ type: 'http.response.body' });
  }, manager);
  const response = await new HttpCommunicator(reader, 'GET', '/', { headers: [['cookie', `sessionid=${value}`]] }).getResponse();
  assert.equal(seen, 'bar');
  assert.deepEqual(setCookies(response.headers), [], 'an unmodified session sends no cookie');
});

test('no save on a 500 response, nor when the session was not modified', async () => {
  const store = new MemorySessionStore();
  const failing: Application = async (scope, receive, send) => {
    await receive();
    await getSession(scope).set('x', 1);
    await send({ type: 'http.response.start', status: 500 });
    await send({ type: 'http.response.body' });
  };
  const response = await new HttpCommunicator(SessionMiddlewareStack(failing, { store, secrets: SECRETS }), 'GET', '/').getResponse();
  assert.deepEqual(setCookies(response.headers), []);
  assert.equal(store.size, 0);
});

test('test_session_save_update_error: a session deleted meanwhile is a SuspiciousOperation', async () => {
  const store = new MemorySessionStore();
  const manager = new SessionManager({ store, secrets: SECRETS });
  const seed = manager.open(undefined);
  await seed.set('a', 1);
  const cookie = /^sessionid=([^;]+)/.exec((await manager.commit(seed, false))!)![1]!;
  const app = SessionMiddlewareStack(async (scope, receive, send) => {
    await receive();
    const session = getSession(scope);
    await session.set('b', 2);
    await store.destroy(session.sessionKey!); // a concurrent logout
    await send({ type: 'http.response.start', status: 200 });
  }, manager);
  await assert.rejects(
    new HttpCommunicator(app, 'GET', '/', { headers: [['cookie', `sessionid=${cookie}`]] }).getResponse(),
    (error: unknown) => error instanceof SuspiciousOperation && /deleted before the request completed/.test(error.message),
  );
});

test('an emptied session deletes the cookie the client had', async () => {
  const manager = new SessionManager({ secrets: SECRETS });
  const seed = manager.open(undefined);
  await seed.set('a', 1);
  const cookie = /^sessionid=([^;]+)/.exec((await manager.commit(seed, false))!)![1]!;
  const app = SessionMiddlewareStack(async (scope, receive, send) => {
    await receive();
    await getSession(scope).flush();
    await send({ type: 'http.response.start', status: 200 });
    await send({ type: 'http.response.body' });
  }, manager);
  const response = await new HttpCommunicator(app, 'GET', '/', { headers: [['cookie', `sessionid=${cookie}`]] }).getResponse();
  assert.deepEqual(setCookies(response.headers), ['sessionid=""; expires=Thu, 01-Jan-1970 00:00:00 GMT; Max-Age=0; Path=/; SameSite=lax']);
});

test('key rotation: the first secret signs, older secrets still verify, dropped ones do not', async () => {
  const store = new MemorySessionStore();
  const old = new SessionManager({ store, secrets: ['old'] });
  const seed = old.open(undefined);
  await seed.set('who', 'alice');
  const cookie = /^sessionid=([^;]+)/.exec((await old.commit(seed, false))!)![1]!;
  const rotated = new SessionManager({ store, secrets: ['new', 'old'] });
  assert.equal(await rotated.open(cookie).get('who'), 'alice');
  const resigned = rotated.open(cookie);
  await resigned.set('n', 1);
  const newCookie = /^sessionid=([^;]+)/.exec((await rotated.commit(resigned, true))!)![1]!;
  assert.equal(await new SessionManager({ store, secrets: ['new'] }).open(newCookie).get('who'), 'alice');
  assert.equal(await new SessionManager({ store, secrets: ['new'] }).open(cookie).get('who'), undefined);
});

test('WebSocket sessions are not saved automatically, and are saved by session.save()', async () => {
  const store = new MemorySessionStore();
  const manager = new SessionManager({ store, secrets: SECRETS });
  const seed = manager.open(undefined);
  await seed.set('count', 0);
  const cookie = /^sessionid=([^;]+)/.exec((await manager.commit(seed, false))!)![1]!;
  const app = SessionMiddlewareStack(async (scope, receive, send) => {
    await receive();
    const session = getSession(scope);
    await session.set('count', 1);
    await send({ type: 'websocket.accept' });
    const event = await receive();
    if (event.type === 'websocket.receive' && event.text === 'save') await session.save();
    await send({ type: 'websocket.close' });
  }, manager);
  const token = seed.sessionKey!;
  const unsaved = new WebsocketCommunicator(app, '/', { headers: [['cookie', `sessionid=${cookie}`]] });
  await unsaved.connect();
  await unsaved.sendTo({ text: 'no' });
  await unsaved.receiveOutput();
  assert.deepEqual(await store.load(token), { count: 0 });
  const saved = new WebsocketCommunicator(app, '/', { headers: [['cookie', `sessionid=${cookie}`]] });
  await saved.connect();
  await saved.sendTo({ text: 'save' });
  await saved.receiveOutput();
  assert.deepEqual(await store.load(token), { count: 1 });
});

test('SessionMiddleware needs CookieMiddleware; an inner SessionMiddleware passes through', async () => {
  const { SessionMiddleware } = await import('../../src/middleware/index.js');
  const bare = SessionMiddleware(simpleHttpApp, { secrets: SECRETS });
  await assert.rejects(new HttpCommunicator(bare, 'GET', '/').getResponse(), /No cookies in scope - SessionMiddleware needs to run inside of CookieMiddleware/);
  const nested = SessionMiddlewareStack(SessionMiddlewareStack(simpleHttpApp, { secrets: ['inner'] }), { secrets: SECRETS });
  const response = await new HttpCommunicator(nested, 'GET', '/').getResponse();
  assert.equal(setCookies(response.headers).length, 1, 'only the outer one saves');
});

test('sessions need a secret', () => {
  const saved = process.env.SWITCHYARD_SECRET_KEYS;
  delete process.env.SWITCHYARD_SECRET_KEYS;
  try {
    assert.throws(() => new SessionManager({}), /Sessions need a secret/);
  } finally {
    if (saved !== undefined) process.env.SWITCHYARD_SECRET_KEYS = saved;
  }
});

test('test_multiple_websocket_consumers_with_sessions: each connection gets its own scope and session', async () => {
  const { WebsocketConsumer } = await import('../../src/index.js');
  class PathEcho extends WebsocketConsumer {
    override async connect() {
      await this.accept();
      const session = getSession(this.scope);
      await session.set('path', this.scope.type === 'websocket' ? this.scope.path : '');
      await this.send(`${String(await session.get('path'))} ${session === (this.scope as { session?: unknown }).session}`);
    }
  }
  const app = SessionMiddlewareStack(PathEcho.asApp(), { secrets: SECRETS });
  const first = new WebsocketCommunicator(app, '/first/');
  const second = new WebsocketCommunicator(app, '/second/');
  await Promise.all([first.connect(), second.connect()]);
  assert.equal(await second.receiveFrom(), '/second/ true');
  assert.equal(await first.receiveFrom(), '/first/ true');
  await Promise.all([first.disconnect(), second.disconnect()]);
});
