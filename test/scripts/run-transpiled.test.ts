// scripts/run-transpiled.mjs, what `npm start` runs the chat demo with: the
// repository's TypeScript transpiled to plain JavaScript (types stripped,
// the NodeNext './x.js' resolved to x.ts, tsconfig's class fields, .ts lines
// in stacks) and, unlike tsx, whose keepNames wraps every function in a
// `name` redefinition, closures with fast properties.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

const ROOT = join(import.meta.dirname, '../..');
const PROBE = join(import.meta.dirname, 'fixtures/probe.ts');

interface ProbeReport {
  greeting: string;
  name: string;
  fastProperties: boolean;
  declaredField: boolean;
  parameterProperty: string;
  url: string;
  stack: string;
}

function probe(...runner: string[]): ProbeReport {
  const run = spawnSync(process.execPath, ['--allow-natives-syntax', ...runner, PROBE], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout) as ProbeReport;
}

test('run-transpiled runs TypeScript as tsc means it, as JavaScript, with .ts lines in stacks', () => {
  const report = probe('scripts/run-transpiled.mjs');
  assert.equal(report.greeting, 'hello probe', "import type and './greeting.js' → greeting.ts");
  assert.equal(report.name, 'handler', 'plain JavaScript names the function');
  assert.equal(report.declaredField, true, "tsconfig's class-field semantics");
  assert.equal(report.parameterProperty, 'given');
  assert.match(report.url, /^file:.*\/test\/scripts\/fixtures\/probe\.js$/, 'the module is the transpiled file');
  const line = readFileSync(PROBE, 'utf8').split('\n').findIndex((l) => l.includes("new Error('probe')")) + 1;
  assert.match(report.stack, new RegExp(`fixtures/probe\\.ts:${line}:`), report.stack);
});

test('a closure keeps fast properties as transpiled JavaScript, not under tsx (why npm start does not use tsx)', () => {
  assert.equal(probe('scripts/run-transpiled.mjs').fastProperties, true);
  // If tsx stops redefining `name`, this fails: npm start could go back to tsx.
  assert.equal(probe('--import', 'tsx').fastProperties, false);
});

test('npm start and npm run chat:adduser run transpiled JavaScript, not tsx', () => {
  const { scripts } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  for (const name of ['start', 'chat:adduser']) {
    assert.match(scripts[name]!, /^(exec )?node scripts\/run-transpiled\.mjs examples\/chat\/\w+\.ts$/, name);
  }
});

test('run-transpiled refuses, in one line, an entry that is not a .ts file of the repository', () => {
  for (const entry of ['examples/chat/missing.ts', '/tmp/outside.ts', 'package.json']) {
    const run = spawnSync(process.execPath, ['scripts/run-transpiled.mjs', entry], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(run.status, 2, entry);
    assert.match(run.stderr, /^run-transpiled: .* is not a \.ts file in a directory of this repository/, entry);
    assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
  }
});
