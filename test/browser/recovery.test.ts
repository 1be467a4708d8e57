// Recovery in a real browser (docs/recovery.md): the chat room page, behind a TCP proxy
// that cuts its network, catches up on what the room said meanwhile, each message once,
// and says so; a server restart on the in-memory layer loses the history, and the page
// says that honestly. Debian's Chromium through playwright-core.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { closeChannelLayers, configureChannelLayers } from 'switchyard';
import { serve, type Server } from 'switchyard/server';
import { application } from '../../examples/chat/app.js';
import { deleteRedisKeysAfter, guardRedisKeys } from '../helpers/redis-clean.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';

/** The Redis layer of the restart test: its own prefix on the shared Redis, cleaned up after. */
const REDIS_PREFIX = `sy-brec-${process.pid}-`;
const REDIS_LAYER = `redis://127.0.0.1:6379/0?prefix=${REDIS_PREFIX}&groupHistory=chat_*`;

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = new URL('../../test-artifacts/', import.meta.url);
if (!existsSync(CHROMIUM)) throw new Error(`No Chromium at ${CHROMIUM}: run \`npm run setup\` (Debian's chromium package)`);

let server: Server;
let port = 0;
let proxy: TcpProxy;
let browser: Browser;
const pageErrors: string[] = [];

async function start(): Promise<void> {
  server = await serve(application, { host: '127.0.0.1', port, accessLog: false, logLevel: 'error', lifespan: 'off', shutdownTimeout: 1 });
  port = (server.address as { port: number }).port;
}

async function openRoom(room: string, username: string, viaPort: number): Promise<Page> {
  const page = await (await browser.newContext({ viewport: { width: 900, height: 640 }, locale: 'en-GB' })).newPage();
  page.on('pageerror', (error) => pageErrors.push(`${username}: ${error.message}`));
  await page.goto(`http://127.0.0.1:${viaPort}/chat/${room}/?username=${username}`);
  await waitForStatus(page, 'connected');
  return page;
}

function waitForStatus(page: Page, status: string, timeout = 10_000): Promise<unknown> {
  return page.waitForFunction((expected) => document.querySelector('#status')?.textContent === expected, status, { timeout });
}

async function say(page: Page, text: string): Promise<void> {
  await page.fill('#chat-message-input', text);
  await page.press('#chat-message-input', 'Enter');
}

const texts = (page: Page) => page.$$eval('#chat-messages .message .text', (nodes) => nodes.map((n) => n.textContent ?? ''));
const notices = (page: Page) => page.$$eval('#chat-messages .notice', (nodes) => nodes.map((n) => n.textContent ?? ''));

function waitForTexts(page: Page, count: number, timeout = 10_000): Promise<unknown> {
  return page.waitForFunction((n) => document.querySelectorAll('#chat-messages .message').length >= n, count, { timeout });
}

describe('recovery in the chat room page', () => {
  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    configureChannelLayers({ default: 'memory://?groupHistory=chat_*' });
    await start();
    proxy = await TcpProxy.start({ target: { port } });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  });

  after(async () => {
    await browser?.close();
    await proxy?.close();
    await server?.close({ timeout: 1 });
    await closeChannelLayers();
  });

  test('a dropped network: the page catches up on what was said meanwhile, each message once, and says so', async () => {
    const reader = await openRoom('tunnel', 'reader', proxy.port);
    const writer = await openRoom('tunnel', 'writer', port);
    await say(writer, 'before the tunnel');
    await waitForTexts(reader, 1);
    // The network drops for 2.5 s: the page sees its socket die and retries meanwhile.
    const cut = proxy.cut({ forMs: 2500 });
    await waitForStatus(reader, 'reconnecting');
    for (const line of ['in the tunnel 1', 'in the tunnel 2', 'in the tunnel 3']) await say(writer, line);
    await cut;
    await waitForStatus(reader, 'connected');
    await waitForTexts(reader, 4);
    await say(writer, 'after the tunnel');
    await waitForTexts(reader, 5);
    assert.deepEqual(await texts(reader), ['before the tunnel', 'in the tunnel 1', 'in the tunnel 2', 'in the tunnel 3', 'after the tunnel']);
    assert.ok((await notices(reader)).includes('You missed 3 messages while away:'), JSON.stringify(await notices(reader)));
    await reader.screenshot({ path: new URL('chat-room-recovered.png', ARTIFACTS).pathname });
    await Promise.all([reader.context().close(), writer.context().close()]);
  });

  test('a server restart on the in-memory layer loses the history: the page says so, and shows what the new process kept', async () => {
    const reader = await openRoom('restart', 'reader', proxy.port);
    const writer = await openRoom('restart', 'writer', port);
    await say(writer, 'before the restart');
    await waitForTexts(reader, 1);
    await server.close({ timeout: 1 });
    await waitForStatus(reader, 'reconnecting');
    await closeChannelLayers();
    configureChannelLayers({ default: 'memory://?groupHistory=chat_*' }); // as a new process would: a new layer, a new epoch
    await start(); // same port
    await waitForStatus(writer, 'connected');
    await say(writer, 'after the restart');
    await waitForStatus(reader, 'connected');
    await waitForTexts(reader, 2);
    assert.deepEqual(await texts(reader), ['before the restart', 'after the restart']);
    await reader.waitForFunction(() => [...document.querySelectorAll('#chat-messages .notice.warning')].some((n) => /Some messages were lost/.test(n.textContent ?? '')));
    await reader.screenshot({ path: new URL('chat-room-history-lost.png', ARTIFACTS).pathname });
    await Promise.all([reader.context().close(), writer.context().close()]);
  });

  test('a server restart on the Redis layer: the history outlives the process, so the page catches up with no gap', async () => {
    await server.close({ timeout: 1 });
    await closeChannelLayers(); // as the process would on exit
    configureChannelLayers({ default: REDIS_LAYER });
    await start();
    const reader = await openRoom('redis_restart', 'reader', proxy.port);
    const writer = await openRoom('redis_restart', 'writer', port);
    await say(writer, 'before the restart');
    await waitForTexts(reader, 1);
    // The server restarts (a new layer, as a new process would); the reader's network stays
    // down for 3 s, so it comes back only after the writer has said two more lines.
    const cut = proxy.cut({ forMs: 3000 });
    await server.close({ timeout: 1 });
    await closeChannelLayers();
    configureChannelLayers({ default: REDIS_LAYER });
    await start();
    await waitForStatus(writer, 'connected');
    await say(writer, 'during 1');
    await say(writer, 'during 2');
    await cut;
    await waitForStatus(reader, 'connected');
    await waitForTexts(reader, 3);
    assert.deepEqual(await texts(reader), ['before the restart', 'during 1', 'during 2']);
    const shown = await notices(reader);
    assert.ok(shown.includes('You missed 2 messages while away:'), JSON.stringify(shown));
    assert.ok(!shown.some((n) => /were lost/.test(n)), 'nothing lost');
    await reader.screenshot({ path: new URL('chat-room-redis-restart.png', ARTIFACTS).pathname });
    await Promise.all([reader.context().close(), writer.context().close()]);
  });

  test('the pages had no script errors', () => {
    assert.deepEqual(pageErrors, []);
  });
});

// The room's presence and history keys outlive the servers: removed after the file.
deleteRedisKeysAfter(REDIS_PREFIX);
guardRedisKeys(REDIS_PREFIX);
