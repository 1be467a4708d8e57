// The retry helpers every loop of the server and worker uses: delays grow to a
// cap with jitter; a repeated error is written once, then summarised.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RepeatedErrorLog, retryDelay, sleep } from '../../src/backoff.js';
import { delay } from '../helpers/time.js';

test('retryDelay doubles its window per attempt up to the cap, jittered within [window/2, window]', () => {
  for (let i = 0; i < 200; i++) {
    const first = retryDelay(1);
    assert.ok(first >= 50 && first <= 100, String(first));
    const third = retryDelay(3);
    assert.ok(third >= 200 && third <= 400, String(third));
    const late = retryDelay(50);
    assert.ok(late >= 5000 && late <= 10_000, String(late));
  }
  const spread = new Set(Array.from({ length: 50 }, () => retryDelay(10)));
  assert.ok(spread.size > 10, 'jittered, not in step');
});

test('sleep ends early, without rejecting, when its signal aborts', async () => {
  const controller = new AbortController();
  const started = Date.now();
  setTimeout(() => controller.abort(), 20);
  await sleep(10_000, controller.signal);
  assert.ok(Date.now() - started < 1000);
});

test('RepeatedErrorLog: the first failure in full, the same one counted, a summary per interval, a line on recovery', async () => {
  const lines: Array<{ level: string; fields: Record<string, unknown>; message: string }> = [];
  const record = (level: string) => (fields: object, message: string): void => { lines.push({ level, fields: fields as Record<string, unknown>, message }); };
  const logger = { error: record('error'), warn: record('warn'), info: record('info') };
  const errors = new RepeatedErrorLog(() => logger, 'loop failed', 50);
  const down = new Error('connect ECONNREFUSED');
  for (let i = 0; i < 100; i++) errors.failed(down, { channel: 'c' }, 'retrying');
  assert.equal(lines.length, 1);
  assert.equal(lines[0]!.message, 'loop failed; retrying');
  assert.equal(lines[0]!.fields.err, down);
  await delay(60);
  errors.failed(down, { channel: 'c' }, 'retrying');
  assert.equal(lines.length, 2);
  assert.match(lines[1]!.message, /^loop failed: the same error 100 more time\(s\) in the last 0 s; retrying$/);
  errors.failed(new Error('other'), { channel: 'c' }, 'retrying');
  assert.equal(lines.length, 3, 'a different error is written at once');
  errors.recovered({ channel: 'c' });
  assert.equal(lines.at(-1)!.level, 'info');
  assert.equal(lines.at(-1)!.message, 'loop failed: recovered after 102 failure(s)');
  assert.equal(errors.failures, 0);
});
