// Tracing not enabled costs nothing it could avoid: a fresh process that
// runs a WebSocket consumer exchanging a group message (through a
// communicator, then behind a real server) never loads @opentelemetry/api
// from Switchyard, and the message carries no trace key. The same probe sees
// the package when switchyard/tracing is imported (so it can fail).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');

interface Loaded { esm: string[]; cjs: Array<{ module: string; by: string }> }
interface Result { handled: string[][]; core: Loaded; server: Loaded }

/** Runs the fixture in a fresh process, with the test's resolution recorder; resolves with its RESULT. */
async function runFixture(...args: string[]): Promise<Result> {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-tracing-off-'));
  try {
    const resolutions = join(dir, 'resolutions.txt');
    writeFileSync(resolutions, '');
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--conditions=switchyard-source', '--import', 'tsx', '--import', join(root, 'test/package/record-resolutions.mjs'), join(import.meta.dirname, 'fixtures/untraced.ts'), ...args],
      { cwd: root, encoding: 'utf8', env: { ...process.env, SWITCHYARD_RESOLUTIONS: resolutions }, timeout: 60_000 },
    );
    const result = /^RESULT (.*)$/m.exec(stdout);
    assert.ok(result, `no RESULT line in:\n${stdout}`);
    return JSON.parse(result[1]!) as Result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// Both processes start now and run side by side; each test awaits its own (a failure rejects with the child's output).
const untraced = runFixture();
const traced = runFixture('--tracing');
untraced.catch(() => {});
traced.catch(() => {});

test('tracing never enabled: Switchyard loads nothing of @opentelemetry, and a group message carries no trace key', async () => {
  const { handled, core, server } = await untraced;
  assert.deepEqual(core, { esm: [], cjs: [] }, 'the root entry and a consumer load nothing of it');
  assert.deepEqual(server.esm, [], 'no Switchyard module imports it');
  // prom-client (the server's metrics) probes for @opentelemetry/api itself (exemplars), when it is installed.
  assert.deepEqual(server.cjs.filter(({ by }) => !by.includes('/node_modules/prom-client/')), []);
  assert.deepEqual(handled, [['type', 'text'], ['type', 'text']]);
});

test('switchyard/tracing imported and enabled: the probe sees @opentelemetry/api, and the messages carry their trace key', async () => {
  const { handled, core } = await traced;
  assert.ok(core.esm.some((url) => url.includes('/@opentelemetry/api/')), 'the api was imported');
  assert.deepEqual(handled, [['type', 'text', '__switchyard_trace__'], ['type', 'text', '__switchyard_trace__']]);
});
