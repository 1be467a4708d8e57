// The chat's sign-in: POST /login/ sets the session cookie (scripted clients too), the WebSocket
// is then signed in from that same session, logout, whoami, cross-site posts refused,
// registered names protected from anonymous users, foreign origins refused, adduser.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Application } from 'switchyard';
import { InMemoryChannelLayer, configureChannelLayers } from 'switchyard';
import { HttpCommunicator, WebsocketCommunicator } from 'switchyard/testing';

const dir = mkdtempSync(join(tmpdir(), 'chat-auth-'));
process.env.CHAT_USERS_FILE = join(dir, 'users.json');
delete process.env.CHAT_SESSION_STORE;
delete process.env.CHANNEL_LAYER_URL;
// The per-connection message rate is auth-limits.test.ts's subject; here it must not drop a test's messages.
process.env.CHAT_RATE = '1000';
process.env.CHAT_BURST = '1000';

let application: Application;
let safeNext: (next: string | null | undefined) => string;

before(async () => {
  const { UserStore } = await import('../../examples/chat/users.js');
  const users = new UserStore();
  await users.add('alice', 'alice-password');
  await users.add('bob', 'bob-password');
  ({ application } = await import('../../examples/chat/app.js'));
  ({ safeNext } = await import('../../examples/chat/auth.js'));
  configureChannelLayers({ default: new InMemoryChannelLayer() });
});
after(() => rmSync(dir, { recursive: true, force: true }));

const header = (headers: Array<[Uint8Array, Uint8Array]>, name: string) =>
  headers.filter(([n]) => Buffer.from(n).toString().toLowerCase() === name).map(([, v]) => Buffer.from(v).toString());

let nextAddress = 1;
/** Each request from its own address unless told, so the sign-in throttle only shows where tested. */
async function post(path: string, body: string, headers: Array<[string, string]> = [], client = `10.1.0.${nextAddress++}`) {
  return new HttpCommunicator(application, 'POST', path, {
    body,
    headers: [['content-type', 'application/x-www-form-urlencoded'], ['host', 'testserver'], ...headers],
    scope: { client: [client, 5000] },
  }).getResponse(5000);
}

async function signIn(username: string, password: string): Promise<string> {
  const response = await post('/login/', new URLSearchParams({ username, password }).toString());
  assert.equal(response.status, 302);
  const [cookie] = header(response.headers, 'set-cookie');
  return /^sessionid=([^;]+)/.exec(cookie!)![1]!;
}

async function joinRoom(room: string, cookie?: string, client_ = `10.2.0.${nextAddress++}`) {
  // A browser's handshake: its page's Origin, and the Host it was served from (the same port).
  const headers: Array<[string, string]> = [['origin', 'http://localhost:8000'], ['host', 'localhost:8000']];
  if (cookie) headers.push(['cookie', `sessionid=${cookie}`]);
  const client = new WebsocketCommunicator(application, `/ws/chat/${room}/`, { headers, scope: { client: [client_, 5000] } });
  assert.equal((await client.connect()).connected, true);
  assert.equal((await client.receiveJsonFrom()).type, 'connection_established');
  return client;
}

test('POST /login/ sets a signed HttpOnly session cookie and redirects to next', async () => {
  const response = await post('/login/', 'username=alice&password=alice-password&next=%2Fchat%2Flobby%2F');
  assert.equal(response.status, 302);
  assert.deepEqual(header(response.headers, 'location'), ['/chat/lobby/']);
  const [cookie] = header(response.headers, 'set-cookie');
  assert.match(cookie!, /^sessionid=[\w-]+\.[0-9a-z]+\.[\w-]+; expires=.+; HttpOnly; Max-Age=1209600; Path=\/; SameSite=Lax$/);
});

test('wrong passwords: 401 for scripts, back to the form for browsers; unknown users alike', async () => {
  assert.equal((await post('/login/', 'username=alice&password=nope')).status, 401);
  assert.equal((await post('/login/', 'username=nobody&password=whatever')).status, 401);
  const browser = await post('/login/', 'username=alice&password=nope&next=/chat/x/', [['accept', 'text/html']]);
  assert.equal(browser.status, 303);
  assert.deepEqual(header(browser.headers, 'location'), ['/login/?error=1&next=%2Fchat%2Fx%2F']);
  assert.deepEqual(header(browser.headers, 'set-cookie'), []);
});

test('the WebSocket is signed in from the HTTP session; the session name beats a claimed one', async () => {
  const cookie = await signIn('alice', 'alice-password');
  const room = await joinRoom('authroom', cookie);
  assert.deepEqual(await room.receiveJsonFrom(), { type: 'user_join', username: 'alice' });
  assert.equal(await room.receiveNothing(), true, 'no online list unless asked (the seeds\' protocol has none)');
  await room.sendJsonTo({ type: 'presence' });
  assert.deepEqual(await room.receiveJsonFrom(), { type: 'presence', users: ['alice'] });
  await room.sendJsonTo({ message: 'hi', username: 'mallory' });
  assert.deepEqual(await room.receiveJsonFrom(), { message: 'hi', username: 'alice' });
  await room.disconnect();
});

test('anonymous users cannot take a registered name; other names work as in the seeds', async () => {
  const anon = await joinRoom('names');
  await anon.sendJsonTo({ message: 'I am alice', username: 'alice' });
  assert.deepEqual(await anon.receiveJsonFrom(), { type: 'error', message: 'That name belongs to a registered user: sign in to use it' });
  await anon.sendJsonTo({ message: 'hello', username: 'guest' });
  assert.deepEqual(await anon.receiveJsonFrom(), { message: 'hello', username: 'guest' });
  await anon.disconnect();
});

test('two tabs of one user: one user_join, a leave only after the last tab; watchers get the list', async () => {
  const cookie = await signIn('bob', 'bob-password');
  const watcher = await joinRoom('tabs');
  const tab1 = await joinRoom('tabs', cookie);
  assert.deepEqual(await watcher.receiveJsonFrom(), { type: 'user_join', username: 'bob' });
  const tab2 = await joinRoom('tabs', cookie);
  await tab2.sendJsonTo({ type: 'presence' });
  assert.deepEqual(await tab2.receiveJsonFrom(), { type: 'presence', users: ['bob'] });
  assert.equal(await watcher.receiveNothing(), true, 'no second user_join');
  await tab1.disconnect();
  assert.equal(await watcher.receiveNothing(), true, 'no user_leave while a tab is open');
  await tab2.disconnect();
  assert.deepEqual(await watcher.receiveJsonFrom(), { type: 'user_leave', username: 'bob' });
  const late = await joinRoom('tabs');
  assert.equal(await late.receiveNothing(), true);
  await late.sendJsonTo({ type: 'presence' });
  assert.deepEqual(await late.receiveJsonFrom(), { type: 'presence', users: [] }, 'nobody online');
  await watcher.disconnect();
  await late.disconnect();
});

test('whoami, then logout deletes the cookie and the socket becomes anonymous', async () => {
  const cookie = await signIn('alice', 'alice-password');
  const who = await new HttpCommunicator(application, 'GET', '/whoami/', { headers: [['cookie', `sessionid=${cookie}`]] }).getResponse();
  assert.deepEqual(JSON.parse(who.body.toString()), { username: 'alice', isAuthenticated: true });
  const out = await post('/logout/', '', [['cookie', `sessionid=${cookie}`]]);
  assert.equal(out.status, 302);
  assert.match(header(out.headers, 'set-cookie')[0]!, /^sessionid=""; expires=Thu, 01-Jan-1970 00:00:00 GMT; Max-Age=0/);
  const after = await new HttpCommunicator(application, 'GET', '/whoami/', { headers: [['cookie', `sessionid=${cookie}`]] }).getResponse();
  assert.deepEqual(JSON.parse(after.body.toString()), { username: null, isAuthenticated: false });
  const room = await joinRoom('afterlogout', cookie);
  await room.sendJsonTo({ message: 'x', username: 'guest2' });
  assert.deepEqual(await room.receiveJsonFrom(), { message: 'x', username: 'guest2' });
  await room.disconnect();
});

test('cross-site sign-in and sign-out posts are refused', async () => {
  const response = await post('/login/', 'username=alice&password=alice-password', [['origin', 'https://evil.example']]);
  assert.equal(response.status, 403);
  assert.deepEqual(header(response.headers, 'set-cookie'), []);
  assert.equal((await post('/logout/', '', [['origin', 'https://evil.example']])).status, 403);
  assert.equal((await post('/login/', 'username=alice&password=alice-password', [['origin', 'http://testserver']])).status, 302);
});

test('a WebSocket from a foreign Origin is refused by the chat app, and so is another local port', async () => {
  const client = new WebsocketCommunicator(application, '/ws/chat/lobby/', { headers: [['origin', 'https://evil.example']] });
  assert.deepEqual(await client.connect(), { connected: false, closeCode: 1000 });
  // Another local server's page (cookies are not port-scoped): refused in development too.
  const local = new WebsocketCommunicator(application, '/ws/chat/lobby/', {
    headers: [['origin', 'http://localhost:3000'], ['host', 'localhost:8000']],
  });
  assert.deepEqual(await local.connect(), { connected: false, closeCode: 1000 });
});

test('anonymous clients learn whether names are registered only at a bounded rate per address', async () => {
  // The enumeration this stops: one address trying name after name, 1,960 in 10 s before.
  const scanner = await joinRoom('scan', undefined, '10.66.0.1');
  const answers: string[] = [];
  const names = ['alice', ...Array.from({ length: 40 }, (_, i) => `guess${i}`), 'bob'];
  for (const name of names) {
    await scanner.sendJsonTo({ message: 'hi', username: name });
    const frame = await scanner.receiveJsonFrom();
    answers.push(frame.type === 'error' ? String(frame.message) : 'sent');
  }
  assert.match(answers[0]!, /belongs to a registered user/, 'within the allowance the answer is given');
  assert.equal(answers.filter((a) => a === 'sent').length, 19, '20 new names at once (alice was one)');
  assert.match(answers.at(-1)!, /Too many different names/, 'bob: not revealed once throttled');
  assert.ok(answers.slice(20).every((a) => /Too many different names/.test(a)), 'registered or not, the same answer');
  // A name already used from this address still works: a person keeps chatting.
  await scanner.sendJsonTo({ message: 'still me', username: 'guess0' });
  assert.deepEqual(await scanner.receiveJsonFrom(), { message: 'still me', username: 'guess0' });
  // Another address has its own allowance.
  const other = await joinRoom('scan2', undefined, '10.66.0.2');
  await other.sendJsonTo({ message: 'hi', username: 'bob' });
  assert.match(String((await other.receiveJsonFrom()).message), /belongs to a registered user/);
  await scanner.disconnect();
  await other.disconnect();
});

test('sign-in attempts are throttled per address', async () => {
  const statuses: number[] = [];
  for (let i = 0; i < 12; i++) statuses.push((await post('/login/', 'username=alice&password=wrong', [], '10.9.9.9')).status);
  assert.deepEqual(statuses.slice(0, 10), Array(10).fill(401));
  assert.deepEqual(statuses.slice(10), [429, 429]);
  assert.equal((await post('/login/', 'username=alice&password=alice-password', [], '10.9.9.10')).status, 302, 'other addresses unaffected');
});

test('next must be a local path', () => {
  assert.equal(safeNext('/chat/lobby/'), '/chat/lobby/');
  assert.equal(safeNext('//evil.example/'), '/');
  assert.equal(safeNext('/\\evil.example'), '/');
  assert.equal(safeNext('https://evil.example/'), '/');
  assert.equal(safeNext(null), '/');
});

test('the login page is served with a strict CSP; GET /logout/ is not allowed', async () => {
  const page = await new HttpCommunicator(application, 'GET', '/login/').getResponse();
  assert.equal(page.status, 200);
  assert.match(page.body.toString(), /<form id="login-form" method="post" action="\/login\/">/);
  assert.match(header(page.headers, 'content-security-policy')[0]!, /script-src 'self'/);
  assert.equal((await new HttpCommunicator(application, 'GET', '/logout/').getResponse()).status, 405);
  assert.equal((await new HttpCommunicator(application, 'GET', '/').getResponse()).status, 200, 'other pages still served');
});

test('npm run chat:adduser equivalent creates a user that can sign in at once', async () => {
  const result = spawnSync(process.execPath, ['scripts/run-transpiled.mjs', 'examples/chat/adduser.ts', 'carol', 'carol-password'], {
    env: { ...process.env }, encoding: 'utf8',
  });
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /Created user carol/);
  await signIn('carol', 'carol-password');
  const bad = spawnSync(process.execPath, ['scripts/run-transpiled.mjs', 'examples/chat/adduser.ts', '<b>x</b>', 'long-enough'], { encoding: 'utf8' });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /Usernames are/);
});

test('a consumer that crashes still leaves the online list (no ghost users)', async () => {
  const { ChatConsumer } = await import('../../examples/chat/consumers.js');
  const { URLRouter, rePath, getChannelLayer } = await import('../../src/index.js');
  const { Presence } = await import('../../src/presence/index.js');
  class Crashing extends ChatConsumer {
    override async receive(data: string | Uint8Array): Promise<void> {
      if (data === 'crash') throw new Error('boom');
      await super.receive(data);
    }
  }
  const app = URLRouter([rePath('ws/chat/(?P<room_name>\\w+)/$', Crashing.asApp())]);
  const user = { id: 'dave', username: 'dave', isAuthenticated: true };
  const client = new WebsocketCommunicator(app, '/ws/chat/crash/', { scope: { user } });
  assert.equal((await client.connect()).connected, true);
  assert.equal((await client.receiveJsonFrom()).type, 'connection_established');
  assert.deepEqual(await client.receiveJsonFrom(), { type: 'user_join', username: 'dave' });
  const presence = Presence.forLayer(getChannelLayer()!, { name: 'chat' });
  assert.deepEqual(Object.keys(presence.list('chat_crash')), ['dave']);
  await client.sendTo({ text: 'crash' });
  await assert.rejects(client.wait(), /boom/);
  assert.deepEqual(presence.list('chat_crash'), {});
});
