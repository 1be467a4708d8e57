// The HTTP fallback in a real browser (Debian's Chromium via playwright-core)
// against the real chat server: a page whose WebSockets cannot connect (its
// WebSocket is pointed at a closed port, so every attempt really fails in
// the browser) chats through withFallback() — same-origin event stream and
// POSTs, the chat's origin check passing — with the chat page on a real
// WebSocket, both ways.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { configureChannelLayers } from 'switchyard';
import { serve, type Server } from 'switchyard/server';
import { application } from '../../examples/chat/app.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
if (!existsSync(CHROMIUM)) throw new Error(`No Chromium at ${CHROMIUM}: run \`npm run setup\` (Debian's chromium package)`);

/** A page that joins the lobby at `host` with withFallback() (served by the test, the rest by the server). */
const fallbackPage = (host: string): string => `<!doctype html><meta charset="utf-8"><title>fallback</title>
<script type="module">
import { ReconnectingWebsocket } from '/static/switchyard-client.js';
import { withFallback } from '/static/switchyard-fallback.js';
const Auto = withFallback({ websocketTimeout: 3000 });
const client = new ReconnectingWebsocket('ws://${host}/ws/chat/lobby/', { WebSocket: Auto });
window.received = [];
window.state = () => ({ state: client.state, usingFallback: Auto.usingFallback });
client.on('message', ({ data }) => window.received.push(data));
window.say = (message) => client.sendJson({ message, username: 'behind-proxy' });
</script>`;

/** Every WebSocket the page opens goes to a closed port: a network that breaks WebSockets. */
const BREAK_WEBSOCKETS = `(() => {
  const Real = window.WebSocket;
  window.webSocketAttempts = 0;
  window.WebSocket = class extends Real {
    constructor(url, protocols) { window.webSocketAttempts++; super('ws://127.0.0.1:9/', protocols); }
  };
})();`;

describe('chat through the HTTP fallback in a real browser', () => {
  let server: Server;
  let browser: Browser;
  let port = 0;
  const pageErrors: string[] = [];

  before(async () => {
    configureChannelLayers({ default: 'memory://' });
    server = await serve(application, { port: 0, fallback: true, accessLog: false, logLevel: 'warn', lifespan: 'off', shutdownTimeout: 1 });
    port = (server.address as { port: number }).port;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  });

  after(async () => {
    await browser?.close();
    await server?.close({ timeout: 1 });
    configureChannelLayers({});
  });

  async function newPage(name: string): Promise<Page> {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(`${name}: ${error.message}`));
    page.on('console', (message) => {
      // The broken network's one failed WebSocket attempt is logged by Chromium: expected.
      if (message.type() === 'error' && !/WebSocket connection to .* failed/.test(message.text())) pageErrors.push(`${name}: ${message.text()}`);
    });
    return page;
  }

  test('a page without WebSockets and the chat page on a WebSocket talk both ways', async () => {
    const alice = await newPage('alice');
    await alice.goto(`http://127.0.0.1:${port}/chat/lobby/?username=alice`);
    await alice.waitForFunction(() => document.querySelector('#status')?.textContent === 'connected', undefined, { timeout: 10_000 });

    const proxied = await newPage('proxied');
    const transports: string[] = [];
    proxied.on('request', (request) => {
      const match = /switchyard\.transport=(\w+)/.exec(request.url());
      if (match) transports.push(`${request.method()} ${match[1]}`);
    });
    await proxied.addInitScript(BREAK_WEBSOCKETS);
    await proxied.route(`http://127.0.0.1:${port}/fallback-page.html`, (route) => route.fulfill({ contentType: 'text/html', body: fallbackPage(`127.0.0.1:${port}`) }));
    await proxied.goto(`http://127.0.0.1:${port}/fallback-page.html`);
    await proxied.waitForFunction(() => (window as unknown as { received: unknown[] }).received?.length > 0, undefined, { timeout: 15_000 });
    assert.deepEqual(await proxied.evaluate(() => (window as unknown as { received: unknown[] }).received[0]), { type: 'connection_established', message: 'Connected to chat room' });
    assert.deepEqual(await proxied.evaluate(() => (window as unknown as { state: () => unknown }).state()), { state: 'open', usingFallback: true });
    assert.equal(await proxied.evaluate(() => (window as unknown as { webSocketAttempts: number }).webSocketAttempts), 1, 'one real WebSocket attempt, which failed');

    // The proxied page speaks: alice, on her WebSocket, sees it.
    await proxied.evaluate(() => (window as unknown as { say: (m: string) => void }).say('hello through the fallback'));
    await alice.waitForFunction(
      () => [...document.querySelectorAll('#chat-messages .message .text')].some((node) => node.textContent === 'hello through the fallback'),
      undefined, { timeout: 10_000 },
    );
    // Alice answers from the page's own form: the proxied page receives the broadcast.
    await alice.fill('#chat-message-input', 'hello behind the proxy');
    await alice.press('#chat-message-input', 'Enter');
    await proxied.waitForFunction(
      () => (window as unknown as { received: Array<{ message?: string }> }).received.some((m) => m.message === 'hello behind the proxy'),
      undefined, { timeout: 10_000 },
    );
    const received = await proxied.evaluate(() => (window as unknown as { received: unknown[] }).received);
    assert.deepEqual(received.filter((m) => (m as { username?: string }).username !== undefined), [
      { message: 'hello through the fallback', username: 'behind-proxy' },
      { message: 'hello behind the proxy', username: 'alice' },
    ]);
    assert.ok(transports.includes('GET sse'), `an event stream was opened: ${transports.join(', ')}`);
    assert.ok(transports.includes('POST sse'), `frames went up in POSTs: ${transports.join(', ')}`);
    assert.deepEqual(pageErrors, []);
  });

  test('a page of another allowed origin (localhost) uses the fallback across origins (CORS), as it may a WebSocket', async () => {
    const page = await newPage('other-origin');
    // The test serves this page itself, so Chromium files it under the public address space:
    // it may reach the loopback server only with the local-network permission a user would grant.
    await page.context().grantPermissions(['local-network-access'], { origin: `http://localhost:${port}` });
    const methods: string[] = [];
    page.on('request', (request) => { if (request.url().includes('switchyard.transport')) methods.push(request.method()); });
    await page.addInitScript(BREAK_WEBSOCKETS);
    await page.route(`http://localhost:${port}/fallback-page.html`, (route) => route.fulfill({ contentType: 'text/html', body: fallbackPage(`127.0.0.1:${port}`) }));
    await page.goto(`http://localhost:${port}/fallback-page.html`);
    await page.waitForFunction(() => (window as unknown as { received: unknown[] }).received?.length > 0, undefined, { timeout: 15_000 });
    await page.evaluate(() => (window as unknown as { say: (m: string) => void }).say('from localhost'));
    await page.waitForFunction(
      () => (window as unknown as { received: Array<{ message?: string }> }).received.some((m) => m.message === 'from localhost'),
      undefined, { timeout: 10_000 },
    );
    assert.ok(methods.includes('POST'), `frames went up cross-origin: ${methods.join(', ')}`);
    assert.deepEqual(pageErrors, []);
  });
});
