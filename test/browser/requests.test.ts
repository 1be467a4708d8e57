// Request/reply in a real browser: Debian's Chromium (playwright-core) on the chat
// example, the real server on a real port. The room page asks `rename` when its name
// field changes; the browser bundle of the client answers requests interleaved with
// the room's broadcasts, and replies never reach the page's message handler.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { configureChannelLayers } from 'switchyard';
import { serve, type Server } from 'switchyard/server';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = new URL('../../test-artifacts/', import.meta.url);
// Never skipped: `npm run setup` installs Debian's Chromium, and a missing browser is a failure.
if (!existsSync(CHROMIUM)) throw new Error(`No Chromium at ${CHROMIUM}: run \`npm run setup\` (Debian's chromium package)`);

const dir = mkdtempSync(join(tmpdir(), 'browser-requests-'));
process.env.CHAT_USERS_FILE = join(dir, 'users.json');
delete process.env.CHANNEL_LAYER_URL;
delete process.env.CHAT_SESSION_STORE;
process.env.CHAT_RATE = '1000'; // the bundle test sends 22 frames at once; the default limit is 10 a second

let server: Server;
let base = '';
let browser: Browser;
const pageErrors: string[] = [];

async function openRoom(room: string, username: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 900, height: 640 }, locale: 'en-GB' });
  const page = await context.newPage();
  page.on('pageerror', (error) => pageErrors.push(`${username}: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') pageErrors.push(`${username}: ${message.text()}`);
  });
  await page.goto(`${base}/chat/${room}/?username=${encodeURIComponent(username)}`);
  await page.waitForFunction(() => document.querySelector('#status')?.textContent === 'connected', null, { timeout: 10_000 });
  return page;
}

const notices = (page: Page) => page.$$eval('#chat-messages .notice', (nodes) => nodes.map((n) => n.textContent ?? ''));

async function waitForNotice(page: Page, text: string): Promise<void> {
  await page.waitForFunction((expected) => [...document.querySelectorAll('#chat-messages .notice')].some((n) => n.textContent === expected), text, { timeout: 5000 });
}

describe('request/reply in a real browser', () => {
  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    configureChannelLayers({ default: 'memory://' });
    const { application, users } = await import('../../examples/chat/app.js');
    await users.add('grace', 'grace-password');
    server = await serve(application, { host: '127.0.0.1', port: 0, accessLog: false, logLevel: 'warn', lifespan: 'off', shutdownTimeout: 1 });
    base = `http://127.0.0.1:${(server.address as { port: number }).port}`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  });

  after(async () => {
    await browser?.close();
    await server?.close({ timeout: 1 });
    rmSync(dir, { recursive: true, force: true });
  });

  test('the room page asks rename when the name changes: the reply names the sender from then on; a registered name is refused', async () => {
    const [ada, reader] = await Promise.all([openRoom('renames', 'ada'), openRoom('renames', 'reader')]);
    await ada.fill('#username', '  lovelace ');
    await ada.press('#username', 'Tab'); // commits the field: a change event
    await waitForNotice(ada, 'You are now lovelace.');
    assert.equal(await ada.inputValue('#username'), 'lovelace', 'the field shows the name the room accepted');
    await ada.fill('#chat-message-input', 'hello as lovelace');
    await ada.press('#chat-message-input', 'Enter');
    await reader.waitForFunction(() => [...document.querySelectorAll('#chat-messages .message')].some(
      (m) => m.querySelector('.text')?.textContent === 'hello as lovelace' && m.querySelector('.username')?.textContent === 'lovelace'));

    await ada.fill('#username', 'grace');
    await ada.press('#username', 'Tab');
    await waitForNotice(ada, 'Name not changed: That name belongs to a registered user: sign in to use it');
    await ada.screenshot({ path: new URL('chat-rename.png', ARTIFACTS).pathname });
    // Neither reply reached the page's message handler (it would show an error or a line).
    assert.deepEqual((await notices(ada)).filter((n) => n.startsWith('Error')), []);
    await Promise.all([ada.context().close(), reader.context().close()]);
  });

  test('the browser bundle: requests interleaved with broadcasts each get their own reply; a request made offline goes out on connect', async () => {
    const page = await openRoom('bundle', 'probe');
    const result = await page.evaluate(async (url) => {
      const bundle = '/static/switchyard-client.js';
      const { ReconnectingWebsocket } = await import(bundle) as typeof import('switchyard/client');
      const client = new ReconnectingWebsocket(url);
      const frames: unknown[] = [];
      client.on('message', ({ data }) => frames.push(data));
      // Sent before the link is open: the first waits in the queue, the request for the link.
      const replies: Array<Promise<unknown>> = [];
      for (let i = 0; i < 10; i++) {
        client.sendJson({ message: `line ${i}`, username: 'probe' });
        replies.push(client.request('rename', { username: `name ${i}` }));
      }
      const names = await Promise.all(replies);
      const refused = await client.request('rename', { username: '' }).then(() => 'resolved', (error: { reason: string }) => error.reason);
      const unknown = await client.request('nope', {}).then(() => 'resolved', (error: { reason: string }) => error.reason);
      await new Promise((resolve) => setTimeout(resolve, 200));
      client.close();
      return { names, refused, unknown, frames };
    }, `${base.replace('http', 'ws')}/ws/chat/bundle/`);
    assert.deepEqual(result.names, Array.from({ length: 10 }, (_, i) => ({ username: `name ${i}` })));
    assert.equal(result.refused, 'invalid_message');
    assert.equal(result.unknown, 'unknown_request');
    const lines = result.frames.filter((f) => typeof (f as { message?: unknown }).message === 'string' && !('type' in (f as object)));
    assert.deepEqual(lines, Array.from({ length: 10 }, (_, i) => ({ message: `line ${i}`, username: 'probe' })));
    assert.ok(result.frames.every((f) => !('$sy' in (f as object))), 'no reply reached the message event');
    await page.context().close();
  });

  test('the pages had no script errors or CSP violations', () => {
    assert.deepEqual(pageErrors, []);
  });
});
