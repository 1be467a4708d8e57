// Every TypeScript example of the documentation is compiled (strict) against
// the sources in one tsc run: the ```ts blocks of README.md and docs/*.md and
// those of the doc comments (TSDoc `@example`s) in src/. The guide's testing
// example also runs. So the documentation cannot drift from the code. How to
// write a snippet so that it compiles on its own: see ./snippets.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { allSnippets, markdownSnippets } from './snippets.js';

const root = resolve(import.meta.dirname, '../..');
const outDir = join(root, 'test-artifacts', 'doc-snippets');
const { snippets, unfenced } = allSnippets(root);

test('the README, the guide and the TSDoc comments have TypeScript examples', () => {
  const count = (prefix: string) => snippets.filter((s) => s.origin.startsWith(prefix)).length;
  assert.ok(count('README.md') >= 2, `README.md: ${count('README.md')} blocks`);
  assert.ok(count('docs/guide.md') >= 8, `docs/guide.md: ${count('docs/guide.md')} blocks`);
  assert.ok(count('src/') >= 100, `src/: ${count('src/')} blocks`);
});

test('every TSDoc @example is a ```ts block (so that it is compiled)', () => {
  assert.deepEqual(unfenced, []);
});

test('every TypeScript example compiles under strict settings', () => {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const origins = new Map<string, string>();
  for (const { name, origin, code, sourceDir } of snippets) {
    assert.ok(!origins.has(name), `two snippets named ${name}`);
    origins.set(name, origin);
    // A doc comment's relative import starts from the comment's file.
    const resolved = sourceDir === undefined ? code
      : code.replace(/(from\s+')(\.\.?\/[^']+)'/g, (_all, from: string, spec: string) => `${from}${relative(outDir, join(sourceDir, spec))}'`);
    // `export {}`: each snippet is a module of its own, even one with no import.
    writeFileSync(join(outDir, `${name}.ts`), `${resolved}\nexport {};\n`);
  }
  writeFileSync(join(outDir, 'tsconfig.json'), JSON.stringify({
    extends: '../../tsconfig.json',
    compilerOptions: { noEmit: true, rootDir: root },
    include: ['./*.ts'],
  }));
  const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(outDir, 'tsconfig.json')], { encoding: 'utf8' });
  // Name each failing snippet by where it is written, not only by its generated file.
  const output = `${tsc.stdout}${tsc.stderr}`.replace(/test-artifacts\/doc-snippets\/([^(]+)\.ts\((\d+)/g, (all, name: string, line: string) => {
    const origin = origins.get(name);
    if (origin === undefined) return all;
    const [file, start] = origin.split(':');
    return `${file}:${Number(start) + Number(line)} (${name}.ts(${line}`;
  });
  assert.equal(tsc.status, 0, `${snippets.length} snippets; tsc failed:\n${output}`);
});

// The guide's tests (blocks that import node:test) run, and pass.
const runnable = markdownSnippets(root, 'docs/guide.md').filter((b) => b.code.includes("from 'node:test'"));

test('the guide has tests to run', () => {
  assert.ok(runnable.length >= 2, `found ${runnable.length}`);
});

for (const snippet of runnable) {
  test(`the guide's test at ${snippet.origin} passes when run`, () => {
    const file = join(outDir, `run-${snippet.name}.test.ts`);
    mkdirSync(outDir, { recursive: true });
    writeFileSync(file, snippet.code);
    // A nested test runner reports to its parent when NODE_TEST_CONTEXT is set; run it standalone.
    const { NODE_TEST_CONTEXT: _, ...env } = process.env;
    const run = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=tap', file], { encoding: 'utf8', cwd: root, env: { ...env, NODE_ENV: 'test' } });
    assert.equal(run.status, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /# fail 0/);
    assert.doesNotMatch(run.stdout, /# pass 0/);
  });
}
