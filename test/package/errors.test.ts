// The error vocabulary is one table (src/errors.ts), as Fastify's lib/errors.js:
// every error class any subpath exports (`switchyard`, `switchyard/server`...)
// is defined in src/errors.ts, has a stable `SY_*` code no other class uses,
// and has a row in the table of that file's header with that code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import * as errors from '../../src/errors.js';
import { subpathIndexes } from '../docs/exports.js';

const root = resolve(import.meta.dirname, '../..');
type ErrorClass = new (...args: unknown[]) => Error;

const isErrorClass = (value: unknown): value is ErrorClass =>
  typeof value === 'function' && value.prototype instanceof Error;

/** Every error class each subpath exports, by the name it is exported under. */
async function exportedErrors(): Promise<Array<{ module: string; name: string; cls: ErrorClass }>> {
  const out: Array<{ module: string; name: string; cls: ErrorClass }> = [];
  for (const { module } of subpathIndexes(root)) {
    const exports = (await import(module)) as Record<string, unknown>;
    for (const [name, value] of Object.entries(exports)) if (isErrorClass(value)) out.push({ module, name, cls: value });
  }
  return out;
}

/**
 * The code an instance gets. Made with no arguments: every constructor sets
 * its own code (a trailing `code` parameter, as BadSignature's, is only for
 * subclasses).
 */
const codeOf = (cls: ErrorClass): unknown => (Reflect.construct(cls, []) as { code?: unknown }).code;

/** The rows of the table in src/errors.ts's header comment: class name → code. */
function tableRows(): Map<string, string> {
  const source = readFileSync(resolve(root, 'src/errors.ts'), 'utf8');
  const header = source.slice(0, source.indexOf('*/'));
  const rows = new Map<string, string>();
  for (const [, name, code] of header.matchAll(/^ \* \| (\w+) \| (SY_\w+) \|/gm)) {
    assert.ok(!rows.has(name!), `${name} has two rows`);
    rows.set(name!, code!);
  }
  return rows;
}

const definedInErrorsTs = Object.entries(errors).filter(([, value]) => isErrorClass(value)) as Array<[string, ErrorClass]>;
const base = errors.SwitchyardError;

test('the scan finds the error classes of the root and of the subpaths', async () => {
  const found = await exportedErrors();
  for (const [module, name] of [
    ['switchyard', 'ChannelFull'], ['switchyard/testing', 'TimeoutError'], ['switchyard/server', 'LifespanError'],
    ['switchyard/redis', 'InvalidToken'], ['switchyard/presence', 'PresenceClosed'], ['switchyard/django', 'BadSignature'],
  ]) {
    assert.ok(found.some((e) => e.module === module && e.name === name), `${module}: ${name}`);
  }
  assert.ok(tableRows().size >= 20, 'the table is read');
});

test('every exported error class is defined in src/errors.ts, under the same name, and is a SwitchyardError', async () => {
  for (const { module, name, cls } of await exportedErrors()) {
    assert.equal((errors as Record<string, unknown>)[name], cls, `${module}: ${name} is not the class src/errors.ts exports`);
    assert.ok(cls === base || cls.prototype instanceof base, `${module}: ${name} does not extend SwitchyardError`);
  }
});

test('every error class of src/errors.ts is public: some subpath exports it', async () => {
  const exported = new Set((await exportedErrors()).map((e) => e.cls));
  assert.deepEqual(definedInErrorsTs.filter(([, cls]) => !exported.has(cls)).map(([name]) => name), []);
});

test('every error class has its own SY_* code, and its name', () => {
  const byCode = new Map<unknown, string>();
  for (const [name, cls] of definedInErrorsTs) {
    if (cls === base) continue; // the base takes the code its subclass gives it
    const code = codeOf(cls);
    assert.match(String(code), /^SY_[A-Z0-9]+(?:_[A-Z0-9]+)*$/, `${name}: code ${String(code)}`);
    assert.equal(byCode.get(code), undefined, `${name} and ${byCode.get(code)} share ${String(code)}`);
    byCode.set(code, name);
    assert.equal(Reflect.construct(cls, []).name, name, `${name}: error.name`);
  }
});

test('the table in src/errors.ts lists every error class with its code, and nothing else', () => {
  const rows = tableRows();
  const classes = definedInErrorsTs.filter(([, cls]) => cls !== base);
  for (const [name, cls] of classes) assert.equal(rows.get(name), codeOf(cls), `table row of ${name}`);
  const names = new Set(classes.map(([name]) => name));
  assert.deepEqual([...rows.keys()].filter((name) => !names.has(name)), [], 'rows for classes that do not exist');
});

test('a subclass keeps its parent for instanceof, with a code of its own', async () => {
  const { SerializerDoesNotExist, getSerializer } = await import('switchyard/redis');
  assert.throws(() => getSerializer('yaml'), (error: unknown) => {
    assert.ok(error instanceof SerializerDoesNotExist && error instanceof errors.ImproperlyConfigured);
    assert.equal(error.code, 'SY_SERIALIZER_DOES_NOT_EXIST');
    assert.match(error.message, /"yaml" \(known: .*json/);
    return true;
  });
  const { SignatureExpired, BadSignature } = await import('switchyard/django');
  const expired = new SignatureExpired('old');
  assert.ok(expired instanceof BadSignature);
  assert.equal(expired.code, 'SY_DJANGO_SIGNATURE_EXPIRED');
});
