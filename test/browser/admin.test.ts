// The realtime admin dashboard in a real browser (Debian's Chromium driven by
// playwright-core): two chat server processes on Redis (own key prefix,
// deleted after), 20 WebSocket clients in four rooms spread over both, and
// the page of one of them shows the whole cluster: totals, each process's
// connections, the busiest groups' member counts; then actions, confirmed in
// the page's dialog: disconnect one client, close a room's connections.
// Screenshots: test-artifacts/admin-*.png.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { chromium, type Browser, type Page } from 'playwright-core';
import { freePort } from '../helpers/ports.js';
import { runCommand, type Running } from '../helpers/processes.js';
import { deleteRedisKeysAfter, guardRedisKeys } from '../helpers/redis-clean.js';
import { until } from '../helpers/time.js';
import { frameClient, type FrameClient } from '../helpers/ws-client.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = new URL('../../test-artifacts/', import.meta.url);
const PREFIX = `sy-admin-browser-${process.pid}-`;
const TOKEN = 'browser-test-token';

if (!existsSync(CHROMIUM)) throw new Error(`No Chromium at ${CHROMIUM}: run \`npm run setup\` (Debian's chromium package)`);

const servers: Running[] = [];
const clients: FrameClient[] = [];
let browser: Browser | undefined;
/** The browser starting, beside the servers (closed after, even if a server failed to start). */
let launching: Promise<Browser> | undefined;

/** Starts `examples/chat/server.ts` with the dashboard on; resolves once HTTP answers. */
async function startChat(): Promise<{ port: number; pid: number }> {
  const port = await freePort();
  const server = runCommand(process.execPath, ['--import', 'tsx', 'examples/chat/server.ts'], {
    env: {
      ...process.env, PORT: String(port), HOST: '127.0.0.1', CHANNEL_LAYER_URL: `redis://127.0.0.1:6379/0?prefix=${PREFIX}`,
      CHAT_SESSION_STORE: 'memory', LOG_LEVEL: 'silent', ADMIN_TOKEN: TOKEN,
    },
  });
  servers.push(server);
  const answers = async (): Promise<boolean> => {
    try { return (await fetch(`http://127.0.0.1:${port}/`)).status < 500; } catch { return false; }
  };
  await until(answers, 20_000, () => `the chat server on port ${port} to answer HTTP; its output: ${server.output()}`);
  return { port, pid: server.child.pid! };
}

async function join(port: number, room: string): Promise<FrameClient> {
  const client = await frameClient(`ws://127.0.0.1:${port}/ws/chat/${room}/`);
  await client.next((f) => f.type === 'connection_established');
  clients.push(client);
  return client;
}

/** Waits for `check` in the page; on a timeout, says what the page showed (and its errors). */
async function waitInPage(page: Page, check: () => boolean, what: string, errors: string[], timeout = 10_000): Promise<void> {
  try {
    await page.waitForFunction(check, undefined, { timeout });
  } catch {
    await screenshot(page, 'failure');
    const shown = await page.evaluate(() => ({
      status: document.querySelector('#status')?.textContent, open: document.querySelector('#total-open')?.textContent,
      processes: document.querySelector('#total-processes')?.textContent, results: document.querySelector('#results')?.textContent,
    }));
    throw new Error(`timed out after ${timeout} ms waiting for ${what}; the page shows ${JSON.stringify(shown)}; page errors: ${JSON.stringify(errors)}`);
  }
}

const cellText = (page: Page, selector: string): Promise<string> => page.locator(selector).innerText();

async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: new URL(`admin-${name}.png`, ARTIFACTS).pathname, fullPage: true });
}

after(async () => {
  for (const client of clients) client.ws.terminate();
  await (browser ?? await launching?.catch(() => undefined))?.close();
  for (const server of servers) server.child.kill('SIGTERM');
  // Only once the servers are gone can nothing write under the prefix any more.
  await Promise.all(servers.map((server) => server.exited));
});

describe('admin dashboard in a real browser, two chat processes on Redis', () => {
  let one: { port: number; pid: number };
  let two: { port: number; pid: number };
  let page: Page;
  const pageErrors: string[] = [];
  const rooms: Record<string, FrameClient[]> = { alpha: [], beta: [], gamma: [], delta: [] };

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    launching = chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
    launching.catch(() => {}); // awaited below; a failure is reported there
    [one, two] = await Promise.all([startChat(), startChat()]);
    // 20 clients: alpha 4+4, beta 3+3, gamma 0+4, delta 2+0 → process one 9, process two 11.
    const plan: Array<[string, number, number]> = [['alpha', 4, 4], ['beta', 3, 3], ['gamma', 0, 4], ['delta', 2, 0]];
    await Promise.all(plan.map(async ([room, onOne, onTwo]) => {
      for (let i = 0; i < onOne; i++) rooms[room]!.push(await join(one.port, room));
      for (let i = 0; i < onTwo; i++) rooms[room]!.push(await join(two.port, room));
    }));
    browser = await launching;
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-GB' });
    page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => { if (message.type() === 'error') pageErrors.push(message.text()); });
  });

  test('without the token: 403 for the page, the snapshot and the WebSocket', async () => {
    assert.equal((await fetch(`http://127.0.0.1:${one.port}/admin/realtime/`)).status, 403);
    assert.equal((await fetch(`http://127.0.0.1:${one.port}/admin/realtime/snapshot.json?token=nope`)).status, 403);
    await assert.rejects(frameClient(`ws://127.0.0.1:${one.port}/admin/realtime/ws/`), /handshake refused: 403/);
  });

  // The page's own WebSocket is a connection of process one too: 21 in all, 10 there.
  test('the page shows the cluster: 20 clients and the page, each process, the rooms with their member counts', async () => {
    await page.goto(`http://127.0.0.1:${one.port}/admin/realtime/?token=${TOKEN}`);
    await waitInPage(page, () => document.querySelector('#status')?.textContent === 'live', 'the live status', pageErrors);
    await waitInPage(
      page, () => document.querySelector('#total-open')?.textContent === '21' && document.querySelector('#total-processes')?.textContent === '2',
      '21 connections on 2 processes', pageErrors,
    );
    const processRow = (pid: number) => `#processes tr[data-process="${hostname()}:${pid}"] td:nth-child(2)`;
    assert.equal(await cellText(page, processRow(one.pid)), '10');
    assert.equal(await cellText(page, processRow(two.pid)), '11');
    const groups = await page.$$eval('#groups tbody tr', (rows) => rows.map((row) => [...row.querySelectorAll('td')].slice(0, 3).map((td) => td.textContent)));
    const rooms = groups.filter(([name]) => name!.startsWith('chat_'));
    assert.deepEqual(rooms, [['chat_alpha', '8', '2'], ['chat_beta', '6', '2'], ['chat_gamma', '4', '1'], ['chat_delta', '2', '1']]);
    await page.waitForTimeout(1500); // a few points on the charts
    await screenshot(page, 'overview');
  });

  test('under traffic: the page shows messages in and out per second (20 lines/s into alpha from both processes)', async () => {
    const senders = [rooms.alpha![0]!, rooms.alpha![4]!]; // one on each process
    let sent = 0;
    const timer = setInterval(() => {
      senders[sent % 2]!.ws.send(JSON.stringify({ message: `line ${sent}`, username: 'load' }));
      sent++;
    }, 50);
    try {
      // Each line reaches alpha's 8 members: about 20 in and 160 out per second, cluster-wide.
      await waitInPage(page, () => Number(document.querySelector('#rate-in')?.textContent) >= 10 && Number(document.querySelector('#rate-out')?.textContent) >= 80,
        'messages in ≥ 10/s and out ≥ 80/s', pageErrors);
      await page.waitForTimeout(2500); // the charts show the traffic
      await screenshot(page, 'load');
    } finally {
      clearInterval(timer);
    }
    for (const member of rooms.alpha!) await member.next((frame) => frame.message === `line ${sent - 1}`, 5000, 'the last line');
  });

  test('disconnect one client, after confirming: it closes with 4000 and the totals follow', async () => {
    const dialogs: string[] = [];
    page.on('dialog', (dialog) => { dialogs.push(dialog.message()); void dialog.accept(); });
    await page.click('#groups tr[data-group="chat_delta"] button:text("members")');
    await waitInPage(page, () => document.querySelectorAll('#members-list tr[data-channel]').length === 2, 'the 2 members of chat_delta', pageErrors);
    await screenshot(page, 'members');
    const channel = await page.locator('#members-list tr[data-channel]').first().getAttribute('data-channel');
    await page.click(`#members-list tr[data-channel="${channel}"] button`);
    const code = await Promise.race(rooms.delta!.map((client) => client.closed));
    assert.equal(code, 4000);
    assert.match(dialogs[0]!, new RegExp(`Disconnect the connection of channel ${channel!.replace(/[.!]/g, '\\$&')}`));
    await waitInPage(page, () => document.querySelector('#total-open')?.textContent === '20', '20 connections', pageErrors);
    assert.match(await cellText(page, '#results li:first-child'), /disconnect: close sent to/);
    assert.equal(await page.locator('#members-list tr[data-channel]').count(), 1); // the closed one is no longer listed
  });

  test('close every connection of a room with a code and reason, after confirming', async () => {
    await page.fill('#close-group', 'chat_gamma');
    await page.fill('#close-code', '4100');
    await page.fill('#close-reason', 'room closed for maintenance');
    await page.click('#close-group-form button');
    const codes = await Promise.all(rooms.gamma!.map((client) => client.closed));
    assert.deepEqual(codes, [4100, 4100, 4100, 4100]);
    await waitInPage(page, () => document.querySelector('#total-open')?.textContent === '16', '16 connections', pageErrors);
    await waitInPage(page, () => document.querySelector('#groups tr[data-group="chat_gamma"]') === null, 'chat_gamma gone from the groups', pageErrors);
    // Other rooms untouched.
    assert.equal(await cellText(page, '#groups tr[data-group="chat_alpha"] td:nth-child(2)'), '8');
    await screenshot(page, 'after-actions');
    assert.deepEqual(pageErrors, []);
  });
});

deleteRedisKeysAfter(PREFIX);
guardRedisKeys(PREFIX);
