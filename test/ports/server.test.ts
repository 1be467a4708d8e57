// Serving a consumer class directly (no ProtocolTypeRouter), as the README's "a consumer, a route"
// steps invite: the lifespan scope reaches the consumer, which has no lifespan_startup handler.
// In `auto` mode that means "no lifespan support" (as Uvicorn treats a failing lifespan app), not a
// failed startup; and a layer message with no handler closes the socket with 1011 (README errors table).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { InMemoryChannelLayer, WebsocketConsumer, configureChannelLayers } from 'switchyard';
import { LifespanError } from 'switchyard/server';
import { start } from '../server/helpers.js';
import { runCommand } from '../helpers/processes.js';

test('a consumer served directly: lifespan auto-detected as unsupported; a message type with no handler closes with 1011', async () => {
  const layer = new InMemoryChannelLayer();
  configureChannelLayers({ default: layer });
  let channelName = '';
  class Plain extends WebsocketConsumer {
    override async connect() {
      channelName = this.channelName;
      await this.accept();
    }
  }
  const server = await start(Plain.asApp());
  try {
    assert.ok(server.logs.some((l) => /lifespan' protocol appears unsupported/.test(l.msg)));
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/`);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    await layer.send(channelName, { type: 'missing.handler' });
    assert.equal(await closed, 1011);
  } finally {
    await server.close();
  }
});

test('with lifespan "on", a consumer without lifespan handlers still refuses to start', async () => {
  class Plain extends WebsocketConsumer {}
  await assert.rejects(start(Plain.asApp(), { lifespan: 'on' }), LifespanError);
});

test('switchyard runworker on the in-memory layer warns that nothing outside the process can reach it', async () => {
  const { CHANNEL_LAYER_URL: _, ...env } = process.env;
  const worker = runCommand(process.execPath, ['bin/switchyard.js', 'runworker', 'test/server/fixtures/worker.ts:worker', 'switchyard-test-tasks'], {
    env: { ...env, NODE_ENV: 'development' },
  });
  try {
    await worker.waitFor((line) => String(line.msg ?? line.text).includes('worker listening'), 10_000, '"worker listening"');
    assert.match(worker.output(), /runworker on the in-memory channel layer: only this process can send to switchyard-test-tasks/);
  } finally {
    worker.child.kill('SIGTERM');
    await worker.exited;
  }
});
