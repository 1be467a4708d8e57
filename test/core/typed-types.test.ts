// The compile-time half of typed messages: a groupSend that does not match the
// protocol's events is a type error. test/types/typed.ts (in the typecheck) holds
// the @ts-expect-error cases; here tsc runs on a fixture that must fail, and the
// errors it gives are asserted, so a loosened type (any, unknown) fails this test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');

test('tsc refuses a typed groupSend with a misspelt field and with a wrong field type, naming each', () => {
  const dir = join(root, 'test-artifacts', 'typed-types');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
    extends: '../../tsconfig.json',
    compilerOptions: { noEmit: true, rootDir: root },
    include: [join(root, 'test/types/fail-group-send.ts')],
    exclude: [],
  }));
  const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(dir, 'tsconfig.json')], { encoding: 'utf8' });
  const output = `${tsc.stdout}${tsc.stderr}`;
  assert.notEqual(tsc.status, 0, 'the fixture must not compile');
  const errors = output.split('\n').filter((line) => line.includes('error TS'));
  assert.equal(errors.length, 2, output);
  assert.match(errors[0]!, /fail-group-send\.ts\(16,\d+\): error TS2561: Object literal may only specify known properties, but 'txt' does not exist in type '{ type: "chat_message"; text: string; user: string; }'. Did you mean to write 'text'\?/);
  assert.match(errors[1]!, /fail-group-send\.ts\(17,\d+\): error TS2322: Type 'number' is not assignable to type 'string'/);
});
