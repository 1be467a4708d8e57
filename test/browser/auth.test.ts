// Signing in, in a real browser (Debian's Chromium via playwright-core): the login page sets
// the session cookie, the room's WebSocket is signed in from it, the online list follows
// tabs, a cross-site page cannot open a socket as the user, and markup never runs.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import type { Application } from 'switchyard';
import { configureChannelLayers } from 'switchyard';
import { serve, type Server } from 'switchyard/server';
import { delay } from '../helpers/time.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = new URL('../../test-artifacts/', import.meta.url);
if (!existsSync(CHROMIUM)) throw new Error(`No Chromium at ${CHROMIUM}: run \`npm run setup\` (Debian's chromium package)`);

const dir = mkdtempSync(join(tmpdir(), 'browser-auth-'));
process.env.CHAT_USERS_FILE = join(dir, 'users.json');
delete process.env.CHANNEL_LAYER_URL;
delete process.env.CHAT_SESSION_STORE;

let server: Server;
let base = '';
let browser: Browser;
const pageErrors: string[] = [];

// 003's room.html, verbatim but for the room name (Django's template fills it in) and the inline
// script, moved to a file (the page is served next to the chat, whose CSP allows no inline script).
const TUTORIAL_SCRIPT = `
  const roomName = 'tutorial';
  const chatSocket = new WebSocket('ws://' + window.location.host + '/ws/chat/' + roomName + '/');
  const messagesDiv = document.querySelector('#chat-messages');
  chatSocket.onmessage = function(e) {
    const data = JSON.parse(e.data);
    const messageElement = document.createElement('div');
    messageElement.textContent = \`\${data.username}: \${data.message}\`;
    messagesDiv.appendChild(messageElement);
  };
  document.querySelector('#chat-message-submit').onclick = function() {
    const message = document.querySelector('#chat-message-input').value;
    const username = document.querySelector('#username').value || 'Anonymous';
    if (message) chatSocket.send(JSON.stringify({ 'message': message, 'username': username }));
  };`;
const TUTORIAL_PAGE = `<!DOCTYPE html><html><head><title>Chat Room</title></head><body>
  <div id="chat-messages"></div>
  <input type="text" id="username" placeholder="Your name">
  <input type="text" id="chat-message-input" placeholder="Message">
  <button id="chat-message-submit">Send</button>
  <script src="/tutorial/room.js"></script></body></html>`;

/** The chat, plus the tutorial's page at /tutorial/ (same origin, as Django would serve it). */
function withTutorialPage(chat: Application): Application {
  return async (scope, receive, send) => {
    if (scope.type !== 'http' || !scope.path.startsWith('/tutorial/')) return chat(scope, receive, send);
    const script = scope.path.endsWith('.js');
    await send({ type: 'http.response.start', status: 200, headers: [[Buffer.from('content-type'), Buffer.from(script ? 'text/javascript' : 'text/html')]] });
    await send({ type: 'http.response.body', body: Buffer.from(script ? TUTORIAL_SCRIPT : TUTORIAL_PAGE) });
  };
}

async function signedInContext(username: string, password: string): Promise<BrowserContext> {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(`${username}: ${e.message}`));
  await page.goto(`${base}/login/?next=/chat/lobby/`);
  await page.fill('#login-username', username);
  await page.fill('#login-password', password);
  await Promise.all([page.waitForURL(`${base}/chat/lobby/`), page.click('#login-submit')]);
  await page.close();
  return context;
}

async function openRoom(context: BrowserContext, room: string, name = ''): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(`${base}/chat/${room}/${name ? `?username=${encodeURIComponent(name)}` : ''}`);
  await page.waitForFunction(() => document.querySelector('#status')?.textContent === 'connected', null, { timeout: 10_000 });
  return page;
}

const onlineList = (page: Page) => page.$$eval('#online-users li', (items) => items.map((li) => li.textContent ?? ''));

async function waitForOnline(page: Page, names: string[]): Promise<void> {
  await page.waitForFunction(
    (expected) => JSON.stringify([...document.querySelectorAll('#online-users li')].map((li) => li.textContent)) === expected,
    JSON.stringify(names),
    { timeout: 5000 },
  );
}

describe('signing in, in a real browser', () => {
  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const { UserStore } = await import('../../examples/chat/users.js');
    const users = new UserStore();
    await users.add('alice', 'alice-password');
    await users.add('bob', 'bob-password');
    const { application } = (await import('../../examples/chat/app.js')) as { application: Application };
    configureChannelLayers({ default: 'memory://' });
    server = await serve(withTutorialPage(application), { host: '127.0.0.1', port: 0, accessLog: false, logLevel: 'error', lifespan: 'off', shutdownTimeout: 1 });
    base = `http://127.0.0.1:${(server.address as { port: number }).port}`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  });

  after(async () => {
    await browser?.close();
    await server?.close({ timeout: 1 });
    rmSync(dir, { recursive: true, force: true });
  });

  test('a wrong password shows the error; the right one signs in and the page says who', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${base}/login/`);
    await page.fill('#login-username', 'alice');
    await page.fill('#login-password', 'wrong-password');
    await Promise.all([page.waitForURL(/error=1/), page.click('#login-submit')]);
    assert.equal(await page.isVisible('#login-error'), true);
    const cookies = await context.cookies();
    assert.equal(cookies.some((c) => c.name === 'sessionid'), false);
    await page.fill('#login-username', 'alice');
    await page.fill('#login-password', 'alice-password');
    await Promise.all([page.waitForURL(`${base}/`), page.click('#login-submit')]);
    const session = (await context.cookies()).find((c) => c.name === 'sessionid')!;
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Lax');
    await page.goto(`${base}/login/`);
    await page.waitForSelector('#signed-in:not([hidden])');
    assert.equal(await page.textContent('#whoami'), 'alice');
    await context.close();
  });

  test('the online list: signed-in users, two tabs count once, leaving after the last tab', async () => {
    const aliceContext = await signedInContext('alice', 'alice-password');
    const bobContext = await signedInContext('bob', 'bob-password');
    const anonymous = await browser.newContext();
    const watcher = await openRoom(anonymous, 'online', 'watcher');
    const aliceTab1 = await openRoom(aliceContext, 'online');
    await waitForOnline(watcher, ['alice']);
    const aliceTab2 = await openRoom(aliceContext, 'online');
    const bob = await openRoom(bobContext, 'online');
    await waitForOnline(watcher, ['alice', 'bob']);
    await waitForOnline(bob, ['alice', 'bob']);
    assert.deepEqual(await onlineList(aliceTab2), ['alice', 'bob']);
    // A signed-in user's name comes from the session, whatever the name field says.
    await bob.fill('#username', 'alice');
    await bob.fill('#chat-message-input', 'who am I?');
    await bob.press('#chat-message-input', 'Enter');
    await watcher.waitForFunction(() => [...document.querySelectorAll('#chat-messages .message')].some(
      (m) => m.querySelector('.text')?.textContent === 'who am I?' && m.querySelector('.username')?.textContent === 'bob'));
    await watcher.screenshot({ path: new URL('chat-room-online.png', ARTIFACTS).pathname });
    await aliceTab1.close();
    await delay(300);
    assert.deepEqual(await onlineList(watcher), ['alice', 'bob'], 'alice still has a tab open');
    await aliceTab2.close();
    await waitForOnline(watcher, ['bob']);
    await Promise.all([aliceContext.close(), bobContext.close(), anonymous.close()]);
  });

  test('the tutorial\'s own page (003\'s room.html) prints only its protocol: never "undefined: undefined"', async () => {
    const aliceContext = await signedInContext('alice', 'alice-password');
    const tutorial = await aliceContext.newPage();
    tutorial.on('pageerror', (e) => pageErrors.push(`tutorial: ${e.message}`));
    await tutorial.goto(`${base}/tutorial/`);
    const lines = () => tutorial.$$eval('#chat-messages div', (divs) => divs.map((d) => d.textContent ?? ''));
    await tutorial.waitForFunction(() => document.querySelectorAll('#chat-messages div').length >= 2, null, { timeout: 5000 });
    const bobContext = await signedInContext('bob', 'bob-password');
    const bob = await openRoom(bobContext, 'tutorial'); // the room page, which asks for the online list
    await waitForOnline(bob, ['alice', 'bob']);
    await tutorial.fill('#chat-message-input', 'hello from the tutorial page');
    await tutorial.click('#chat-message-submit');
    await tutorial.waitForFunction(() => [...document.querySelectorAll('#chat-messages div')].some((d) => d.textContent === 'alice: hello from the tutorial page'));
    await bob.close();
    // Bob's leave is the fifth line (his join already printed 'bob: undefined' as the third).
    await tutorial.waitForFunction(() => document.querySelectorAll('#chat-messages div').length >= 5, null, { timeout: 5000 });
    const printed = await lines();
    // 003's own frames: connection_established and user_join/user_leave print as the tutorial prints them.
    assert.deepEqual(printed, [
      'undefined: Connected to chat room',
      'alice: undefined',
      'bob: undefined',
      'alice: hello from the tutorial page',
      'bob: undefined',
    ]);
    await tutorial.screenshot({ path: new URL('chat-tutorial-page.png', ARTIFACTS).pathname });
    await Promise.all([aliceContext.close(), bobContext.close()]);
  });

  test('a page on another site cannot open the chat socket as the signed-in user (Origin refused)', async () => {
    const context = await signedInContext('alice', 'alice-password');
    const wsUrl = `${base.replace('http', 'ws')}/ws/chat/lobby/`;
    await context.route('http://evil.test/**', (route) => route.fulfill({
      contentType: 'text/html',
      body: `<!doctype html><script>
        const ws = new WebSocket(${JSON.stringify(wsUrl)});
        ws.onopen = () => { document.title = 'opened'; };
        ws.onclose = (e) => { document.title = 'closed ' + e.code; };
      </script>`,
    }));
    const evil = await context.newPage();
    await evil.goto('http://evil.test/');
    await evil.waitForFunction(() => document.title.startsWith('closed') || document.title === 'opened', null, { timeout: 5000 });
    assert.equal(await evil.title(), 'closed 1006', 'the handshake was refused (HTTP 403)');
    // The same user on the real site connects fine.
    const room = await openRoom(context, 'lobby');
    await room.close();
    await context.close();
  });

  test('markup in anonymous names and in messages next to signed-in users never runs', async () => {
    const aliceContext = await signedInContext('alice', 'alice-password');
    const alice = await openRoom(aliceContext, 'markup');
    const anonymous = await browser.newContext();
    const evilName = '<img src=x onerror="window.__pwned=1">';
    const evil = await openRoom(anonymous, 'markup', evilName);
    await evil.fill('#chat-message-input', '<script>window.__pwned=2</script><b>bold?</b>');
    await evil.press('#chat-message-input', 'Enter');
    await alice.waitForFunction(() => [...document.querySelectorAll('#chat-messages .message .text')].some((n) => n.textContent?.includes('bold?')));
    assert.equal(await alice.evaluate(() => (window as { __pwned?: number }).__pwned), undefined);
    assert.equal(await alice.locator('#chat-messages img, #chat-messages script, #chat-messages b, #online img').count(), 0);
    const name = await alice.$$eval('#chat-messages .message .username', (els) => els.map((e) => e.textContent));
    assert.ok(name.includes(evilName), 'the name is shown as text');
    assert.deepEqual(await onlineList(alice), ['alice'], 'anonymous names are not in the online list');
    assert.deepEqual(pageErrors, []);
    await Promise.all([aliceContext.close(), anonymous.close()]);
  });
});
