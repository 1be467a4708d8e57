// Tracing not enabled costs nothing it could avoid: a fresh process that
// serves a WebSocket consumer exchanging a group message never loads
// @opentelemetry/api, and the message carries no trace key. The same probe
// sees the package when switchyard/tracing is imported (so it can fail).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');

/** Runs the fixture in a fresh process; returns what it handled and every module it resolved. */
function runFixture(...args: string[]): { handled: string[][]; modules: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-tracing-off-'));
  try {
    const resolutions = join(dir, 'resolutions.txt');
    writeFileSync(resolutions, '');
    const child = spawnSync(
      process.execPath,
      ['--conditions=switchyard-source', '--import', 'tsx', '--import', join(root, 'test/package/record-resolutions.mjs'), join(import.meta.dirname, 'fixtures/untraced.ts'), ...args],
      { cwd: root, encoding: 'utf8', env: { ...process.env, SWITCHYARD_RESOLUTIONS: resolutions }, timeout: 60_000 },
    );
    assert.equal(child.status, 0, `the fixture failed:\n${child.stdout}\n${child.stderr}`);
    const result = /^RESULT (.*)$/m.exec(child.stdout);
    assert.ok(result, `no RESULT line in:\n${child.stdout}`);
    return { handled: JSON.parse(result[1]!) as string[][], modules: readFileSync(resolutions, 'utf8').split('\n').filter(Boolean) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const otel = (modules: string[]): string[] => modules.filter((url) => url.includes('/node_modules/@opentelemetry/'));

test('tracing never enabled: @opentelemetry/api is not loaded, and a group message carries no trace key', () => {
  const { handled, modules } = runFixture();
  assert.ok(modules.some((url) => url.includes('/src/consumers/base.ts')), 'the probe saw the consumer load');
  assert.deepEqual(otel(modules), []);
  assert.deepEqual(handled, [['type', 'text']]);
});

test('switchyard/tracing imported and enabled: the probe sees @opentelemetry/api, and the message carries its trace key', () => {
  const { handled, modules } = runFixture('--tracing');
  assert.ok(otel(modules).some((url) => url.includes('/@opentelemetry/api/')), 'the api was loaded');
  assert.deepEqual(handled, [['type', 'text', '__switchyard_trace__']]);
});
