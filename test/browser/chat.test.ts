// The chat example end to end in a real browser: Debian's Chromium driven by
// playwright-core (never a downloaded browser), against the real server on a
// real port. Screenshots go to test-artifacts/ (gitignored; CI keeps them).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import './typing-speed.js';
import { configureChannelLayers } from 'switchyard';
import { serve, type Server } from 'switchyard/server';
import { application } from '../../examples/chat/app.js';
import { delay } from '../helpers/time.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = new URL('../../test-artifacts/', import.meta.url);

let server: Server;
let port = 0;
let browser: Browser;
/** Browser-side errors, checked at the end: CSP violations and script errors would show up here. */
const pageErrors: string[] = [];

async function start(): Promise<void> {
  server = await serve(application, {
    host: '127.0.0.1',
    port,
    accessLog: false,
    logLevel: 'warn',
    lifespan: 'off',
    shutdownTimeout: 1,
  });
  port = (server.address as { port: number }).port;
}

async function openRoom(room: string, username: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 900, height: 640 }, locale: 'en-GB' });
  const page = await context.newPage();
  page.on('pageerror', (error) => pageErrors.push(`${username}: ${error.message}`));
  page.on('console', (message) => {
    // While the server is down, Chromium logs each refused reconnection attempt: expected.
    if (message.type() === 'error' && !/WebSocket connection to .* failed/.test(message.text())) {
      pageErrors.push(`${username}: ${message.text()}`);
    }
  });
  await page.goto(`http://127.0.0.1:${port}/chat/${room}/?username=${encodeURIComponent(username)}`);
  await waitForStatus(page, 'connected');
  return page;
}

async function waitForStatus(page: Page, status: string, timeout = 10_000): Promise<void> {
  await page.waitForFunction((expected) => document.querySelector('#status')?.textContent === expected, status, {
    timeout,
  });
}

/** Types a message and presses Enter, as a user does. */
async function say(page: Page, text: string): Promise<void> {
  await page.fill('#chat-message-input', text);
  await page.press('#chat-message-input', 'Enter');
}

/** The messages a page shows: name, text, whether it is marked as own, whether it has a time. */
function shown(page: Page): Promise<{ username: string; text: string; own: boolean; time: string }[]> {
  return page.$$eval('#chat-messages .message', (items) =>
    items.map((item) => ({
      username: item.querySelector('.username')?.textContent ?? '',
      text: item.querySelector('.text')?.textContent ?? '',
      own: item.classList.contains('own'),
      time: item.querySelector('.time')?.textContent ?? '',
    })),
  );
}

async function waitForText(page: Page, text: string, timeout = 5000): Promise<void> {
  await page.waitForFunction(
    (expected) => [...document.querySelectorAll('#chat-messages .message .text')].some((node) => node.textContent === expected),
    text,
    { timeout },
  );
}

async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: new URL(`${name}.png`, ARTIFACTS).pathname });
}

// Never skipped: `npm run setup` installs Debian's Chromium, and a missing browser is a failure.
if (!existsSync(CHROMIUM)) throw new Error(`No Chromium at ${CHROMIUM}: run \`npm run setup\` (Debian's chromium package)`);

describe('chat in a real browser', () => {
  let alice: Page;
  let bob: Page;
  let carol: Page;

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    configureChannelLayers({ default: 'memory://' });
    await start();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    [alice, bob, carol] = await Promise.all([
      openRoom('lobby', 'alice'),
      openRoom('lobby', 'bob'),
      openRoom('elsewhere', 'carol'),
    ]);
  });

  after(async () => {
    await browser?.close();
    await server?.close({ timeout: 1 });
  });

  test('two pages in one room exchange messages both ways, each shown once, own ones marked', async () => {
    await say(alice, 'hello from alice');
    await waitForText(bob, 'hello from alice');
    await waitForText(alice, 'hello from alice');

    await bob.fill('#chat-message-input', '你好，alice！今天怎么样？');
    await bob.click('#chat-message-submit');
    await waitForText(alice, '你好，alice！今天怎么样？');
    await waitForText(bob, '你好，alice！今天怎么样？');

    const seenByAlice = await shown(alice);
    const seenByBob = await shown(bob);
    assert.deepEqual(
      seenByAlice.map(({ username, text, own }) => ({ username, text, own })),
      [
        { username: 'alice', text: 'hello from alice', own: true },
        { username: 'bob', text: '你好，alice！今天怎么样？', own: false },
      ],
    );
    assert.deepEqual(
      seenByBob.map(({ username, text, own }) => ({ username, text, own })),
      [
        { username: 'alice', text: 'hello from alice', own: false },
        { username: 'bob', text: '你好，alice！今天怎么样？', own: true },
      ],
    );
    for (const message of [...seenByAlice, ...seenByBob]) assert.match(message.time, /\d{1,2}:\d{2}/);
    assert.equal(await alice.inputValue('#chat-message-input'), '', 'the input is cleared after sending');
    await screenshot(alice, 'chat-room-alice');
    await screenshot(bob, 'chat-room-bob');
  });

  test('markup in a message or a name is shown as text, never run', async () => {
    const payload = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2"><b>bold?</b>';
    await say(alice, payload);
    await waitForText(bob, payload);
    const evilName = await browser.newContext().then((c) => c.newPage());
    await evilName.goto(`http://127.0.0.1:${port}/chat/lobby/?username=${encodeURIComponent('<img src=x onerror=alert(1)>')}`);
    await waitForStatus(evilName, 'connected');
    await say(evilName, 'hi');
    await waitForText(bob, 'hi');
    for (const page of [alice, bob]) {
      assert.equal(await page.evaluate(() => (window as { __pwned?: number }).__pwned), undefined);
      assert.equal(await page.locator('#chat-messages img, #chat-messages script, #chat-messages b').count(), 0);
    }
    const last = (await shown(bob)).at(-1)!;
    assert.equal(last.username, '<img src=x onerror=alert(1)>');
    await evilName.context().close();
  });

  test('a page in another room sees nothing of this room', async () => {
    await say(carol, 'only for elsewhere');
    await waitForText(carol, 'only for elsewhere');
    assert.deepEqual(
      (await shown(carol)).map((m) => m.text),
      ['only for elsewhere'],
    );
    await delay(200);
    assert.ok(!(await shown(alice)).some((m) => m.text === 'only for elsewhere'));
  });

  test('server stopped and restarted on the same port: pages show "reconnecting", then work again without a reload', async () => {
    const navigations = { alice: 0, bob: 0 };
    alice.on('framenavigated', () => navigations.alice++);
    bob.on('framenavigated', () => navigations.bob++);

    await server.close({ timeout: 1 });
    await Promise.all([waitForStatus(alice, 'reconnecting'), waitForStatus(bob, 'reconnecting')]);
    await screenshot(alice, 'chat-room-reconnecting');

    // Sent while the server is down: queued by the client, delivered after the reconnection.
    await say(alice, 'written while offline');
    await delay(300);

    await start(); // same port
    await Promise.all([waitForStatus(alice, 'connected'), waitForStatus(bob, 'connected')]);
    // Alice's queued message went out when she reconnected; whether Bob was back yet is a race, so check her echo.
    await waitForText(alice, 'written while offline');

    await say(bob, 'back after the restart');
    await waitForText(alice, 'back after the restart');
    await say(alice, 'and alice too');
    await waitForText(bob, 'and alice too');
    assert.deepEqual(navigations, { alice: 0, bob: 0 }, 'no reload');
    await screenshot(alice, 'chat-room-after-restart');
  });

  test('when the browser goes offline the status says so, and back', async () => {
    await carol.context().setOffline(true);
    await waitForStatus(carol, 'offline');
    await screenshot(carol, 'chat-room-offline');
    await carol.context().setOffline(false);
    await waitForStatus(carol, 'connected');
  });

  test('a long room scrolls: the list follows new messages, unless the reader scrolled up', async () => {
    const room = await openRoom('long_room', 'dora');
    for (let i = 1; i <= 60; i++) await say(room, `line ${i}: ${'长文本 '.repeat(i % 7)}`);
    await waitForText(room, `line 60: ${'长文本 '.repeat(60 % 7)}`);
    const metrics = () =>
      room.$eval('#chat-messages', (list) => ({
        overflowing: list.scrollHeight > list.clientHeight,
        fromBottom: list.scrollHeight - list.scrollTop - list.clientHeight,
        scrollTop: list.scrollTop,
      }));
    const atEnd = await metrics();
    assert.ok(atEnd.overflowing, 'the list is taller than its box');
    assert.ok(atEnd.fromBottom < 2, `scrolled to the newest message (${atEnd.fromBottom}px from the bottom)`);
    const composerVisible = await room.locator('#chat-message-input').isVisible();
    assert.ok(composerVisible, 'the input stays on screen');

    await room.$eval('#chat-messages', (list) => (list.scrollTop = 100));
    const other = await openRoom('long_room', 'ed');
    await say(other, 'while dora reads older lines');
    await waitForText(room, 'while dora reads older lines');
    assert.equal((await metrics()).scrollTop, 100, 'reading position kept');
    await screenshot(room, 'chat-room-long');
    await Promise.all([room.context().close(), other.context().close()]);
  });

  test('the lobby leads to the room with the chosen name; bad room names are refused there', async () => {
    const page = await browser.newContext().then((c) => c.newPage());
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.fill('#room-name-input', 'not a room!');
    await page.click('#room-name-submit');
    assert.equal(await page.locator('#room-error').isVisible(), true);
    assert.equal(new URL(page.url()).pathname, '/');
    await page.fill('#room-name-input', 'team_7');
    await page.fill('#username', '小红');
    await screenshot(page, 'chat-lobby');
    await page.press('#room-name-input', 'Enter');
    await page.waitForURL(`http://127.0.0.1:${port}/chat/team_7/`);
    await waitForStatus(page, 'connected');
    assert.equal(await page.inputValue('#username'), '小红');
    await say(page, '大家好');
    await waitForText(page, '大家好');
    assert.deepEqual((await shown(page)).map(({ username, own }) => ({ username, own })), [{ username: '小红', own: true }]);
    await page.context().close();
  });

  test('a Chinese room: /chat/聊天/ from the lobby, two pages chat, the room is named right', async () => {
    const lobby = await browser.newContext({ viewport: { width: 900, height: 640 } }).then((c) => c.newPage());
    lobby.on('pageerror', (error) => pageErrors.push(`lobby: ${error.message}`));
    await lobby.goto(`http://127.0.0.1:${port}/`);
    await lobby.fill('#room-name-input', '聊天');
    await lobby.fill('#username', '小红');
    await lobby.press('#room-name-input', 'Enter');
    await lobby.waitForURL(`http://127.0.0.1:${port}/chat/${encodeURIComponent('聊天')}/`);
    await waitForStatus(lobby, 'connected');
    const other = await openRoom('聊天', '小明');
    assert.equal(await lobby.textContent('#room-name'), '#聊天');
    assert.equal(await lobby.title(), '#聊天 · Switchyard chat');
    await say(lobby, '大家好！');
    await waitForText(other, '大家好！');
    await say(other, '你好，小红');
    await waitForText(lobby, '你好，小红');
    await waitForText(other, '你好，小红'); // its own line comes back from the room too, not necessarily first
    assert.deepEqual((await shown(other)).map(({ username, text }) => ({ username, text })), [
      { username: '小红', text: '大家好！' },
      { username: '小明', text: '你好，小红' },
    ]);
    // Not the same room as an ASCII one, nor as another Chinese one.
    assert.ok(!(await shown(alice)).some((m) => m.text === '大家好！'));
    await screenshot(lobby, 'chat-room-chinese');
    await Promise.all([lobby.context().close(), other.context().close()]);
  });

  test('600 emoji are one message of 600 characters: typed on the page, shown on the other', async () => {
    const emoji = '😀'.repeat(600);
    await say(alice, emoji);
    await waitForText(bob, emoji);
    await say(alice, '😀'.repeat(1001));
    await alice.waitForFunction(() => [...document.querySelectorAll('#chat-messages .notice.error')].some((n) => /at most 1000 characters/.test(n.textContent ?? '')));
    assert.ok(!(await shown(bob)).some((m) => m.text === '😀'.repeat(1001)));
  });

  test('the page had no script errors or CSP violations', () => {
    assert.deepEqual(pageErrors, []);
  });
});
