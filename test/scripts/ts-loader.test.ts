// scripts/ts-loader.mjs, the loader `npm start` runs the chat demo with: it
// strips types, resolves the NodeNext './x.js' to x.ts, keeps each module's
// file URL and source lines, and (unlike tsx, whose keepNames wraps every
// function in a `name` redefinition) leaves closures with fast properties.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';

const ROOT = join(import.meta.dirname, '../..');
const PROBE = join(import.meta.dirname, 'fixtures/loader-probe.ts');

interface ProbeReport {
  greeting: string;
  name: string;
  fastProperties: boolean;
  declaredField: boolean;
  parameterProperty: string;
  url: string;
  stack: string;
}

function probe(loader: string): ProbeReport {
  const run = spawnSync(process.execPath, ['--allow-natives-syntax', '--import', loader, PROBE], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout) as ProbeReport;
}

test('the loader runs TypeScript as tsc means it, from its own file, with .ts lines in stacks', () => {
  const report = probe('./scripts/register-ts-loader.mjs');
  assert.equal(report.greeting, 'hello probe', "import type and './loader-greeting.js' → loader-greeting.ts");
  assert.equal(report.name, 'handler', 'plain JavaScript names the function');
  assert.equal(report.declaredField, true, "tsconfig's class-field semantics");
  assert.equal(report.parameterProperty, 'given');
  assert.equal(report.url, pathToFileURL(PROBE).href, 'import.meta.url is the .ts file');
  const line = readFileSync(PROBE, 'utf8').split('\n').findIndex((l) => l.includes("new Error('probe')")) + 1;
  assert.match(report.stack, new RegExp(`loader-probe\\.ts:${line}:`), report.stack);
});

test('a closure keeps fast properties under the loader, not under tsx (why the loader exists)', () => {
  assert.equal(probe('./scripts/register-ts-loader.mjs').fastProperties, true);
  // If tsx stops redefining `name`, this fails: npm start could go back to tsx.
  assert.equal(probe('tsx').fastProperties, false);
});

test("npm start and npm run chat:adduser run through the loader, not tsx", () => {
  const { scripts } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  for (const name of ['start', 'chat:adduser']) {
    assert.match(scripts[name]!, /--import \.\/scripts\/register-ts-loader\.mjs /, name);
    assert.doesNotMatch(scripts[name]!, /tsx/, name);
  }
});
