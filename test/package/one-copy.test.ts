// The checkout as a user runs it after `npm ci` (which builds dist/): no
// `switchyard-source` condition, so the CLI runs from dist/ and the example's
// `import 'switchyard'` must reach the same dist/ modules. Two copies meant two
// layer registries: CHANNEL_LAYER_URL=redis:// answered every handshake 500.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { freePort } from '../helpers/ports.js';
import { listening, runCommand } from '../helpers/processes.js';
import { repo, userEnv } from './helpers.js';

const prefix = `sy-onecopy-${process.pid}-`;

after(async () => {
  const redis = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true });
  await redis.connect();
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

/** The first JSON frame the chat sends on `/ws/chat/lobby/`, or the handshake's failure. */
function firstFrame(port: number): Promise<string> {
  return new Promise((done) => {
    const socket = new WebSocket(`ws://127.0.0.1:${port}/ws/chat/lobby/`, { origin: `http://127.0.0.1:${port}` });
    socket.on('message', (data) => { done(String(data)); socket.close(); });
    socket.on('unexpected-response', (_, response) => { done(`HTTP ${response.statusCode}`); socket.terminate(); });
    socket.on('error', (err) => done(`error ${err.message}`));
  });
}

test('built checkout: `switchyard serve` of the example on the Redis layer uses one copy of the library', async () => {
  assert.ok(existsSync(join(repo, 'dist/src/server/cli.js')), 'npm ci built dist/ (prepare)');
  const port = await freePort();
  const server = runCommand(process.execPath, ['bin/switchyard.js', 'serve', 'examples/chat/app.ts:application', '--port', String(port)], {
    cwd: repo, env: userEnv({ CHANNEL_LAYER_URL: `redis://127.0.0.1:6379/0?prefix=${prefix}` }),
  });
  try {
    await server.waitFor(listening, 20_000);
    const frame = await firstFrame(port);
    assert.match(frame, /connection_established/, `the chat accepted the connection; server said:\n${server.output()}`);
    assert.doesNotMatch(server.output(), /InvalidChannelLayerError|not loaded/);
  } finally {
    server.child.kill('SIGTERM');
  }
  assert.equal((await server.exited).code, 0);
});
