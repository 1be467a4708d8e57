// Startup in real processes: a bad CHANNEL_LAYER_URL stops serve, runworker and
// npm start before they listen; a worker whose layer is away backs off; --version.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { listening, run, runNpm, type Running } from '../helpers/processes.js';
import { delay } from '../helpers/time.js';
import { closedPort } from '../helpers/ports.js';

const APP = 'test/server/fixtures/app.ts:app';
const WORKER = 'test/server/fixtures/worker.ts:worker';

const BAD_URLS: Array<[url: string, complaint: RegExp]> = [
  ["foo://bar", /No channel layer backend for foo:\/\//],
  ['redis://127.0.0.1:6379/abc', /database must be an integer.*"abc"/],
  ['redis://127.0.0.1:6379/0?capacity=lots', /option capacity must be a positive integer/],
  ['redis://127.0.0.1:6379/0?capcity=3', /unknown option "capcity"/],
];

describe('startup (processes)', () => {
  const running: Running[] = [];
  const start = (r: Running): Running => {
    running.push(r);
    return r;
  };
  after(() => { for (const r of running) r.stop(); });

  test('switchyard --version prints the package version', async () => {
    const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    const cli = start(run(['--version']));
    assert.deepEqual(await cli.exited, { code: 0, signal: null });
    assert.equal(cli.output().trim(), version);
  });

  for (const command of ['serve', 'runworker'] as const) {
    test(`${command}: a bad CHANNEL_LAYER_URL stops startup with one line naming the variable`, async () => {
      for (const [url, complaint] of BAD_URLS) {
        const args = command === 'serve' ? ['serve', APP, '--port', '0'] : ['runworker', WORKER, 'switchyard-test-tasks'];
        const cli = start(run(args, { CHANNEL_LAYER_URL: url }));
        const { code } = await cli.exited;
        assert.equal(code, 1, cli.output());
        assert.equal(cli.lines.some(listening), false, cli.output());
        assert.equal(cli.lines.some((l) => l.msg === 'worker listening'), false, cli.output());
        const errors = cli.lines.filter((l) => l.level === 50);
        assert.equal(errors.length, 1, cli.output());
        assert.match(String(errors[0]!.msg), /^CHANNEL_LAYER_URL=.* is invalid: /);
        assert.match(String(errors[0]!.msg), complaint);
      }
    });
  }

  // Every worker refuses the same URL; the workers here do not stop at the
  // primary's SIGTERM, so all four refusals reach it. Before the fix each one
  // after the first was logged again (seen in CI with two workers, by chance).
  test('serve --workers 4: a bad CHANNEL_LAYER_URL is one line too, from the primary', async () => {
    const env = { CHANNEL_LAYER_URL: 'redis://127.0.0.1:6379/abc', FIXTURE_IGNORE_SIGTERM: '1' };
    const cli = start(run(['serve', APP, '--port', '0', '--workers', '4'], env));
    assert.equal((await cli.exited).code, 1, cli.output());
    assert.equal(cli.lines.some(listening), false, cli.output());
    const errors = cli.lines.filter((l) => l.level === 50);
    assert.equal(errors.length, 1, cli.output());
    assert.match(String(errors[0]!.msg), /^CHANNEL_LAYER_URL=redis:\/\/127\.0\.0\.1:6379\/abc is invalid: the Redis database must be an integer/);
    assert.equal(errors[0]!.worker, 'primary');
  });

  test('npm start: a bad CHANNEL_LAYER_URL stops the chat before it listens, non-zero, naming the variable', async () => {
    const npm = start(runNpm(['start'], { PORT: '0', CHANNEL_LAYER_URL: 'redis://127.0.0.1:6379/abc' }));
    const { code } = await npm.exited;
    assert.notEqual(code, 0);
    assert.doesNotMatch(npm.output(), /Listening on/);
    assert.match(npm.output(), /CHANNEL_LAYER_URL=redis:\/\/127\.0\.0\.1:6379\/abc is invalid: the Redis database must be an integer/);
    assert.doesNotMatch(npm.output(), /^\s+at /m, 'one line, no stack trace');
  });

  test('runworker whose layer does not answer backs off: a few log lines, not a flood, and SIGTERM still stops it', async () => {
    const port = await closedPort();
    const worker = start(run(['runworker', WORKER, 'switchyard-test-tasks'], { CHANNEL_LAYER_URL: `redis+pubsub://127.0.0.1:${port}/0?connectTimeout=200` }));
    await worker.waitFor((l) => l.msg === 'worker listening');
    await delay(3000);
    const failures = worker.lines.filter((l) => l.level === 50);
    assert.ok(failures.length >= 1, worker.output());
    // Before the fix: tens of thousands of lines a second, and SIGTERM was never handled.
    assert.ok(worker.lines.length < 20, `${worker.lines.length} lines in 3 s:\n${worker.output().slice(0, 3000)}`);
    const stopped = Date.now();
    worker.child.kill('SIGTERM');
    assert.equal((await worker.exited).code, 0);
    assert.ok(Date.now() - stopped < 3000);
  });
});
