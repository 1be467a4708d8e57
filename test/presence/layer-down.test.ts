// Presence on a channel layer whose receive fails (a fault injected into a
// real in-memory layer): its receive loop backs off and logs the failure once
// (then a summary a minute), not a line per retry.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InMemoryChannelLayer, LayerUnavailableError } from 'switchyard';
import { Presence } from 'switchyard/presence';
import { delay } from '../helpers/time.js';
import { captureLibraryLogs } from '../helpers/logs.js';

/** An in-memory layer whose receive() fails as a Redis layer's does when Redis is gone. */
class ReceiveFails extends InMemoryChannelLayer {
  override receive(): Promise<never> {
    return Promise.reject(new LayerUnavailableError('Redis at 127.0.0.1:1 is unavailable'));
  }
}

test('a presence whose layer cannot receive retries with backoff and logs the failure once', async (t) => {
  const logs = captureLibraryLogs('info');
  const layer = new ReceiveFails();
  const presence = new Presence({ layer, heartbeatInterval: 50 });
  t.after(async () => {
    await presence.close().catch(() => {});
    await layer.close();
    logs.restore();
  });
  await presence.start();
  await delay(2000);
  const failures = logs.lines.filter((line) => line.msg?.startsWith('presence: receive failed'));
  assert.ok(failures.length >= 1, 'the failure is logged');
  assert.ok(failures.length <= 2, `logged ${failures.length} times in 2 s (a line per retry before)`);
});
