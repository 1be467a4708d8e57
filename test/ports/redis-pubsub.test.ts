// Ports of channels_redis tests/test_pubsub.py test_layer_close and test_auto_reconnect (spec §3.2). In Python a layer that
// does not close properly leaves "Task was destroyed but it is pending!" at exit; the Node analogue
// is a handle that keeps the process alive, or an error or warning printed after close(). A child
// process sends once and closes the layer, then must exit by itself, quietly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { RedisPubSubChannelLayer } from 'switchyard/redis';
import { OwnedRedis } from '../helpers/redis-server.js';
import { abortAfter, delay } from '../helpers/time.js';
import { guardRedisKeys } from '../helpers/redis-clean.js';

const redisModule = fileURLToPath(new URL('../../src/redis/index.ts', import.meta.url));

async function runChild(layerClass: string): Promise<{ code: number | null; stderr: string; ms: number }> {
  const script = `
    const { ${layerClass} } = await import(${JSON.stringify(redisModule)});
    const layer = new ${layerClass}({ hosts: ['redis://127.0.0.1:6379/0'], prefix: 'sy-close-${process.pid}-' });
    await layer.send('TestChannel', { type: 'test.message', text: 'Ahoy-hoy!' });
    await layer.flush();
    await layer.close();
  `;
  const started = Date.now();
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  clearTimeout(timer);
  return { code, stderr, ms: Date.now() - started };
}

for (const layerClass of ['RedisPubSubChannelLayer', 'RedisChannelLayer']) {
  test(`test_layer_close (${layerClass}): after send and close() the process exits by itself, with nothing printed`, async () => {
    const { code, stderr, ms } = await runChild(layerClass);
    assert.equal(code, 0, `exit code ${code}, stderr: ${stderr}`);
    assert.equal(stderr, '');
    assert.ok(ms < 8000, `took ${ms} ms to exit`);
  });
}

test('test_auto_reconnect: group changes made right after the connections were killed hold after the reconnect', async () => {
  const server = await OwnedRedis.start();
  const quiet = { debug() {}, info() {}, warn() {}, error() {} };
  const layer = new RedisPubSubChannelLayer({ hosts: [server.url], logger: quiet });
  const admin = new Redis(server.url);
  try {
    const one = await layer.newChannel('test-gr-chan-1');
    const two = await layer.newChannel('test-gr-chan-2');
    const three = await layer.newChannel('test-gr-chan-3');
    await layer.groupAdd('test-group', one);
    await layer.groupAdd('test-group', two);
    await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
    await layer.groupAdd('test-group', three);
    await layer.groupDiscard('test-group', two);
    await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
    await delay(1000);
    await layer.groupSend('test-group', { type: 'message.1' });
    assert.equal((await layer.receive(one, abortAfter(5000))).type, 'message.1');
    assert.equal((await layer.receive(three, abortAfter(5000))).type, 'message.1');
    await assert.rejects(layer.receive(two, abortAfter(1000)), /timed out/);
  } finally {
    admin.disconnect();
    await layer.close();
    await server.stop();
  }
});

guardRedisKeys(`sy-close-${process.pid}-`);
