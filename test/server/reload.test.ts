// `switchyard serve --reload` in real processes: editing a consumer's file
// restarts the app on the same port; a connected ReconnectingWebSocket sees
// close 1012, comes back on its own and meets the new code.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { WebSocket } from 'ws';
import { ReconnectingWebsocket } from 'switchyard/client';
import { listening, run, type Running } from '../helpers/processes.js';
import { delay } from '../helpers/time.js';

const consumer = (version: string): string => `import { WebsocketConsumer } from 'switchyard';
export class Echo extends WebsocketConsumer {
  override async receive(data: string | Uint8Array) { await this.send('${version}:' + String(data)); }
}
`;
const APP = `import { ProtocolTypeRouter, URLRouter, rePath } from 'switchyard';
import { Echo } from './consumers/echo.js';
export const application = ProtocolTypeRouter({ websocket: URLRouter([rePath(/^ws\\/echo\\/$/, Echo.asApp())]) });
`;

/** Resolves with the next event of `type` the client emits. */
function next<T>(client: ReconnectingWebsocket, type: 'open' | 'close' | 'message'): Promise<T> {
  return new Promise((resolveEvent) => {
    const off = client.on(type, (detail: unknown) => {
      off();
      resolveEvent(detail as T);
    });
  });
}

describe('serve --reload (processes)', () => {
  let dir = '';
  const running: Running[] = [];
  const clients: ReconnectingWebsocket[] = [];
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'switchyard-reload-'));
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'reload-app', private: true, type: 'module' }));
    mkdirSync(join(dir, 'consumers'));
    writeFileSync(join(dir, 'consumers', 'echo.ts'), consumer('v1'));
    writeFileSync(join(dir, 'app.ts'), APP);
    // The app imports 'switchyard' as a user's app does: from its own node_modules.
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(resolve('.'), join(dir, 'node_modules', 'switchyard'));
  });
  after(() => {
    for (const client of clients) client.close();
    for (const r of running) r.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('editing a consumer restarts the app on the same port; the client gets 1012, reconnects and sees the new behaviour', async () => {
    const server = run(['serve', `${join(dir, 'app.ts')}:application`, '--port', '0', '--reload', '--reload-dir', dir]);
    running.push(server);
    const url = String((await server.waitFor(listening, 20000)).url);
    const client = new ReconnectingWebsocket(`${url.replace('http', 'ws')}/ws/echo/`, { WebSocket, minDelay: 50, maxDelay: 200 });
    clients.push(client);
    await next(client, 'open');
    const first = next<{ data: unknown }>(client, 'message');
    client.send('hello');
    assert.equal((await first).data, 'v1:hello');

    // Dependencies, build output and VCS files are not the app's sources: no restart.
    for (const ignored of ['node_modules/dep', 'dist', '.git']) {
      mkdirSync(join(dir, ignored), { recursive: true });
      writeFileSync(join(dir, ignored, 'index.js'), 'export {};');
    }
    await delay(600);
    assert.equal(server.lines.some((l) => typeof l.msg === 'string' && l.msg.startsWith('Reloading:')), false, server.output());

    const closed = next<{ code: number; willReconnect: boolean }>(client, 'close');
    const reopened = next<{ reconnected: boolean }>(client, 'open');
    writeFileSync(join(dir, 'consumers', 'echo.ts'), consumer('v2'));
    const reloading = await server.waitFor((l) => typeof l.msg === 'string' && l.msg.startsWith('Reloading:'), 20000);
    assert.match(String(reloading.msg), /consumers\/echo\.ts changed/);
    const close = await closed;
    assert.equal(close.code, 1012);
    assert.equal(close.willReconnect, true);
    assert.equal((await reopened).reconnected, true);
    const second = next<{ data: unknown }>(client, 'message');
    client.send('again');
    assert.equal((await second).data, 'v2:again');
    // One port all along: the reconnect went to the URL of the first start.
    assert.equal(server.lines.filter(listening).every((l) => l.url === url), true, server.output());

    client.close();
    server.child.kill('SIGTERM');
    assert.equal((await server.exited).code, 0);
  });

  test('a change that does not start keeps the previous version serving', async () => {
    writeFileSync(join(dir, 'consumers', 'echo.ts'), consumer('v3'));
    const server = run(['serve', `${join(dir, 'app.ts')}:application`, '--port', '0', '--reload', '--reload-dir', dir]);
    running.push(server);
    const url = String((await server.waitFor(listening, 20000)).url);
    writeFileSync(join(dir, 'consumers', 'echo.ts'), 'export class Echo { this is not TypeScript');
    await server.waitFor((l) => typeof l.msg === 'string' && l.msg.startsWith('The changed app failed to start'), 20000);
    const client = new ReconnectingWebsocket(`${url.replace('http', 'ws')}/ws/echo/`, { WebSocket, minDelay: 50, maxDelay: 200 });
    clients.push(client);
    await next(client, 'open');
    const reply = next<{ data: unknown }>(client, 'message');
    client.send('still');
    assert.equal((await reply).data, 'v3:still');
    client.close();
    server.child.kill('SIGTERM');
    assert.equal((await server.exited).code, 0);
  });

  test('--reload with --workers is refused with a clear error', async () => {
    const server = run(['serve', `${join(dir, 'app.ts')}:application`, '--port', '0', '--reload', '--workers', '2']);
    running.push(server);
    assert.equal((await server.exited).code, 1);
    assert.match(server.output(), /--reload .* cannot be combined with --workers/);
  });

  test('--reload-dir that is not a directory is refused with a clear error', async () => {
    const server = run(['serve', `${join(dir, 'app.ts')}:application`, '--port', '0', '--reload', '--reload-dir', join(dir, 'no-such-dir')]);
    running.push(server);
    assert.equal((await server.exited).code, 1);
    assert.match(server.output(), /--reload-dir .*no-such-dir: no such directory to watch/);
  });
});
