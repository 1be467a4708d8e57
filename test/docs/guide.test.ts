// The guide's TypeScript blocks are compiled (strict) against the sources, and the
// testing example runs, so the documentation cannot drift from the code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = resolve(import.meta.dirname, '../..');
const outDir = join(root, 'test-artifacts', 'doc-snippets');

function snippets(file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8');
  return [...text.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
}


const blocks = [...snippets('docs/guide.md').map((code, i) => ({ name: `guide-${i + 1}`, code })),
  ...snippets('README.md').map((code, i) => ({ name: `readme-${i + 1}`, code }))];

test('the guide and README have TypeScript examples', () => {
  assert.ok(blocks.length >= 8, `found ${blocks.length} blocks`);
});

test('every TypeScript block of the guide and README compiles under strict settings', () => {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  for (const { name, code } of blocks) writeFileSync(join(outDir, `${name}.ts`), code);
  writeFileSync(join(outDir, 'tsconfig.json'), JSON.stringify({
    extends: '../../tsconfig.json',
    compilerOptions: { noEmit: true, rootDir: root },
    include: ['./*.ts'],
  }));
  const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(outDir, 'tsconfig.json')], { encoding: 'utf8' });
  assert.equal(tsc.status, 0, `tsc failed:\n${tsc.stdout}${tsc.stderr}`);
});

test('the guide\'s testing example passes when run', () => {
  const testing = blocks.find((b) => b.name.startsWith('guide') && b.code.includes('WebsocketCommunicator'));
  assert.ok(testing, 'the guide has a communicator example');
  const file = join(outDir, 'run-testing-example.test.ts');
  mkdirSync(outDir, { recursive: true });
  writeFileSync(file, testing.code);
  // A nested test runner reports to its parent when NODE_TEST_CONTEXT is set; run it standalone.
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;
  const run = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=tap', file], { encoding: 'utf8', cwd: root, env: { ...env, NODE_ENV: 'test' } });
  assert.equal(run.status, 0, run.stdout + run.stderr);
  assert.match(run.stdout, /pass 1/);
});
