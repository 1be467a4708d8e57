// Express shares the session with the WebSocket side: a login through an Express route
// authenticates the WebSocket handshake that follows (same store, same signed cookie).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import express from 'express';
import WebSocket from 'ws';
import type { Application } from 'switchyard';
import { ProtocolTypeRouter } from 'switchyard';
import {
  AuthMiddlewareStack, SessionManager, expressSession, getSession, login, logout, type AuthenticatedUser,
} from 'switchyard/middleware';
import { nodeHandler } from 'switchyard/server';
import { start, type TestServer } from '../server/helpers.js';

const alice: AuthenticatedUser = { id: 'a1', username: 'alice', isAuthenticated: true, sessionAuthHash: 'h1' };
const loadUser = async (id: string) => (id === 'a1' ? alice : null);
const sessions = new SessionManager({ secrets: ['express-test'] });

const whoAmI: Application = async (scope, receive, send) => {
  await receive();
  await send({ type: 'websocket.accept' });
  const user = scope.user as { username: string };
  const visits = await getSession(scope).get('visits');
  await send({ type: 'websocket.send', text: JSON.stringify({ username: user.username, visits }) });
  await receive();
};

let server: TestServer;
let base = '';

before(async () => {
  const web = express();
  web.use(expressSession(sessions, { loadUser }));
  web.post('/login', express.urlencoded({ extended: false }), async (req, res) => {
    const body = req.body as { username?: string; password?: string };
    if (body.username !== 'alice' || body.password !== 'pw') return void res.status(401).send('no');
    await login(req, alice);
    res.redirect('/me');
  });
  web.get('/me', async (req, res) => {
    const session = (req as unknown as { session: import('../../src/middleware/index.js').Session }).session;
    await session.set('visits', ((await session.get<number>('visits')) ?? 0) + 1);
    res.json({ user: (req as unknown as { user: { username: string } }).user.username });
  });
  web.post('/logout', async (req, res) => {
    await logout(req);
    res.send('bye');
  });
  const application = ProtocolTypeRouter({
    http: nodeHandler(web),
    websocket: AuthMiddlewareStack(whoAmI, { sessions, loadUser }),
  });
  server = await start(application, { accessLog: false });
  base = `127.0.0.1:${server.port}`;
});
after(() => server.close({ timeout: 1 }));

async function socketSays(cookie: string | null): Promise<unknown> {
  const ws = new WebSocket(`ws://${base}/ws/`, cookie ? { headers: { cookie } } : {});
  const frame = await new Promise<string>((resolve, reject) => {
    ws.once('message', (data: Buffer) => resolve(data.toString()));
    ws.once('error', reject);
  });
  ws.close();
  return JSON.parse(frame);
}

test('an Express login authenticates the WebSocket; Express session writes are visible to it; logout too', async () => {
  const denied = await fetch(`http://${base}/login`, { method: 'POST', body: new URLSearchParams({ username: 'alice', password: 'x' }), redirect: 'manual' });
  assert.equal(denied.status, 401);
  assert.equal(denied.headers.get('set-cookie'), null);

  const response = await fetch(`http://${base}/login`, { method: 'POST', body: new URLSearchParams({ username: 'alice', password: 'pw' }), redirect: 'manual' });
  assert.equal(response.status, 302);
  const setCookie = response.headers.get('set-cookie')!;
  assert.match(setCookie, /^sessionid=[\w-]+\.[0-9a-z]+\.[\w-]+; expires=.+; HttpOnly; Max-Age=1209600; Path=\/; SameSite=Lax$/);
  const cookie = setCookie.split(';')[0]!;

  const me = await fetch(`http://${base}/me`, { headers: { cookie } });
  assert.deepEqual(await me.json(), { user: 'alice' });
  assert.deepEqual(await socketSays(cookie), { username: 'alice', visits: 1 });
  assert.deepEqual(await socketSays(null), { username: '' });

  const out = await fetch(`http://${base}/logout`, { method: 'POST', headers: { cookie } });
  assert.equal(await out.text(), 'bye');
  assert.match(out.headers.get('set-cookie')!, /^sessionid=""; expires=Thu, 01-Jan-1970/);
  assert.deepEqual(await socketSays(cookie), { username: '' }, 'the old cookie no longer signs anyone in');
});
