// Ports of Django Channels' security/test_auth.py, and the session-cookie security cases:
// a tampered, expired or unsigned session cookie is treated as anonymous.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Application } from 'switchyard';
import {
  AnonymousUser, AuthMiddlewareStack, BACKEND_SESSION_KEY, HASH_SESSION_KEY, MemorySessionStore, SESSION_KEY,
  SessionManager, Signer, authEvents, getSession, getUser, login, logout, type AuthenticatedUser,
} from 'switchyard/middleware';
import { WebsocketCommunicator } from 'switchyard/testing';

interface TestUser extends AuthenticatedUser { id: string; sessionAuthHash: string }
const users = new Map<string, TestUser>([
  ['1', { id: '1', username: 'alice', isAuthenticated: true, sessionAuthHash: 'h-alice' }],
  ['2', { id: '2', username: 'bob', isAuthenticated: true, sessionAuthHash: 'h-bob' }],
]);
const loadUser = async (id: string) => users.get(id) ?? null;
const alice = users.get('1')!;
const bob = users.get('2')!;

function freshScope(manager = new SessionManager({ secrets: ['s'] })) {
  return { session: manager.open(undefined) as unknown, user: undefined as unknown };
}

test('test_login_no_session_in_scope', async () => {
  await assert.rejects(login({}, alice), /^TypeError: Cannot find session in scope\. You should wrap your consumer in SessionMiddleware\.$/);
});

test('test_login_no_user_in_scope', async () => {
  await assert.rejects(login(freshScope()), /^TypeError: User must be passed as an argument or must be present in the scope\.$/);
  await assert.rejects(login({ ...freshScope(), user: new AnonymousUser() }), /User must be passed/);
});

test('test_login_user_as_argument: signal, three session keys, getUser returns the user', async () => {
  const scope = freshScope();
  const seen: string[] = [];
  const listener = ({ user }: { user: AuthenticatedUser }) => seen.push(user.username);
  authEvents.on('userLoggedIn', listener);
  try {
    await login(scope, alice);
  } finally {
    authEvents.off('userLoggedIn', listener);
  }
  assert.deepEqual(seen, ['alice']);
  const session = getSession(scope);
  assert.equal(await session.get(SESSION_KEY), '1');
  assert.equal(await session.get(BACKEND_SESSION_KEY), 'default');
  assert.equal(await session.get(HASH_SESSION_KEY), 'h-alice');
  assert.equal(scope.user, alice);
  assert.equal(await getUser(scope, { loadUser }), alice);
});

test('test_login_user_on_scope: the user is taken from scope.user', async () => {
  const scope = { ...freshScope(), user: alice };
  await login(scope);
  assert.equal(await getSession(scope).get(SESSION_KEY), '1');
});

test('test_login_change_user: a second login replaces the user and flushes the first session', async () => {
  const store = new MemorySessionStore();
  const scope = freshScope(new SessionManager({ store, secrets: ['s'] }));
  await login(scope, alice);
  await getSession(scope).set('cart', ['alice-item']);
  await getSession(scope).save();
  const aliceToken = getSession(scope).sessionKey!;
  await login(scope, bob);
  assert.equal(await getSession(scope).get(SESSION_KEY), '2');
  assert.equal(await getSession(scope).get('cart'), undefined, "never reuse another user's session data");
  assert.equal(await store.load(aliceToken), null);
});

test('login cycles the session key (session fixation)', async () => {
  const store = new MemorySessionStore();
  const scope = freshScope(new SessionManager({ store, secrets: ['s'] }));
  await getSession(scope).set('theme', 'dark');
  await getSession(scope).save();
  const before = getSession(scope).sessionKey!;
  await login(scope, alice);
  await getSession(scope).save();
  assert.notEqual(getSession(scope).sessionKey, before);
  assert.equal(await store.load(before), null);
  assert.equal(await getSession(scope).get('theme'), 'dark', 'data survives the new key');
});

test('test_logout: signal, AnonymousUser, SESSION_KEY gone', async () => {
  const scope = freshScope();
  await login(scope, alice);
  const seen: string[] = [];
  const listener = ({ user }: { user: AuthenticatedUser }) => seen.push(user.username);
  authEvents.on('userLoggedOut', listener);
  try {
    await logout(scope);
  } finally {
    authEvents.off('userLoggedOut', listener);
  }
  assert.deepEqual(seen, ['alice']);
  assert.ok(scope.user instanceof AnonymousUser);
  assert.equal(await getSession(scope).has(SESSION_KEY), false);
});

test('test_logout_not_logged_in: no signal, and no user key added', async () => {
  const scope: { session: unknown; user?: unknown } = { session: new SessionManager({ secrets: ['s'] }).open(undefined) };
  let fired = false;
  const listener = () => (fired = true);
  authEvents.on('userLoggedOut', listener);
  try {
    await logout(scope);
  } finally {
    authEvents.off('userLoggedOut', listener);
  }
  assert.equal(fired, false);
  assert.equal('user' in scope, false);
});

// ---- through AuthMiddlewareStack, over WebSocket --------------------------------------------

const whoAmI: Application = async (scope, receive, send) => {
  await receive();
  await send({ type: 'websocket.accept' });
  const user = scope.user as { username: string; isAuthenticated: boolean };
  await send({ type: 'websocket.send', text: JSON.stringify({ username: user.username, isAuthenticated: user.isAuthenticated }) });
  await send({ type: 'websocket.close' });
};

async function whoWith(app: Application, cookie: string | null) {
  const client = new WebsocketCommunicator(app, '/ws/', cookie === null ? {} : { headers: [['cookie', cookie]] });
  assert.equal((await client.connect()).connected, true);
  return client.receiveJsonFrom<{ username: string; isAuthenticated: boolean }>();
}

async function signedInCookie(manager: SessionManager, user: AuthenticatedUser): Promise<string> {
  const scope = { session: manager.open(undefined) as unknown, user: undefined as unknown };
  await login(scope, user);
  const header = await manager.commit(getSession(scope), false);
  return /^sessionid=([^;]+)/.exec(header!)![1]!;
}

test('AuthMiddlewareStack: a valid cookie gives the user; no cookie gives AnonymousUser', async () => {
  const sessions = new SessionManager({ secrets: ['s'] });
  const app = AuthMiddlewareStack(whoAmI, { sessions, loadUser });
  const cookie = await signedInCookie(sessions, alice);
  assert.deepEqual(await whoWith(app, `sessionid=${cookie}`), { username: 'alice', isAuthenticated: true });
  assert.deepEqual(await whoWith(app, null), { username: '', isAuthenticated: false });
});

test('security: tampered, unsigned, foreign-secret and expired session cookies are anonymous', async () => {
  const store = new MemorySessionStore();
  const sessions = new SessionManager({ store, secrets: ['s'], maxAge: 3600 });
  const app = AuthMiddlewareStack(whoAmI, { sessions, loadUser });
  const cookie = await signedInCookie(sessions, alice);
  const [token, stamp, mac] = cookie.split('.') as [string, string, string];
  const anonymous = { username: '', isAuthenticated: false };
  // Tampered: one character of the token, of the timestamp, of the signature.
  const flip = (s: string) => (s[0] === 'a' ? 'b' : 'a') + s.slice(1);
  assert.deepEqual(await whoWith(app, `sessionid=${flip(token)}.${stamp}.${mac}`), anonymous);
  assert.deepEqual(await whoWith(app, `sessionid=${token}.${flip(stamp)}.${mac}`), anonymous);
  assert.deepEqual(await whoWith(app, `sessionid=${token}.${stamp}.${flip(mac)}`), anonymous);
  // Unsigned: the bare store token, as a Django-style session key would be.
  assert.deepEqual(await whoWith(app, `sessionid=${token}`), anonymous);
  assert.deepEqual(await whoWith(app, `sessionid=${token}.${stamp}`), anonymous);
  // Signed with another secret.
  const forged = new Signer(['attacker'], { salt: 'switchyard.sessions' }).sign(token);
  assert.deepEqual(await whoWith(app, `sessionid=${forged}`), anonymous);
  // Expired: signed two hours ago while sessions live one hour (the store still has it).
  const old = new Signer(['s'], { salt: 'switchyard.sessions' }).sign(token, Date.now() - 2 * 3600_000);
  assert.deepEqual(await whoWith(app, `sessionid=${old}`), anonymous);
  // And the genuine one still works.
  assert.deepEqual(await whoWith(app, `sessionid=${cookie}`), { username: 'alice', isAuthenticated: true });
});

test('security: a changed session auth hash (password change) logs the session out and flushes it', async () => {
  const store = new MemorySessionStore();
  const sessions = new SessionManager({ store, secrets: ['s'] });
  const local = new Map(users);
  const app = AuthMiddlewareStack(whoAmI, { sessions, loadUser: async (id) => local.get(id) ?? null });
  const cookie = await signedInCookie(sessions, alice);
  local.set('1', { ...alice, sessionAuthHash: 'h-alice-new-password' });
  assert.deepEqual(await whoWith(app, `sessionid=${cookie}`), { username: '', isAuthenticated: false });
  // A deleted user is anonymous too.
  const bobCookie = await signedInCookie(sessions, bob);
  local.delete('2');
  assert.deepEqual(await whoWith(app, `sessionid=${bobCookie}`), { username: '', isAuthenticated: false });
});

test('AuthMiddleware without a session is an error', async () => {
  const { AuthMiddleware } = await import('../../src/middleware/index.js');
  const client = new WebsocketCommunicator(AuthMiddleware(whoAmI, { loadUser }), '/');
  await assert.rejects(client.connect(), /AuthMiddleware cannot find session in scope\. SessionMiddleware must be above it\./);
});
