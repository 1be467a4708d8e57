// Port of channels_redis tests/test_pubsub.py test_layer_close (spec §3.2). In Python a layer that
// does not close properly leaves "Task was destroyed but it is pending!" at exit; the Node analogue
// is a handle that keeps the process alive, or an error or warning printed after close(). A child
// process sends once and closes the layer, then must exit by itself, quietly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

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
