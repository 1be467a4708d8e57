// A fresh clone as a dependency: installed by path (npm links the folder and
// installs nothing in it) and from a git URL (npm installs devDependencies and
// runs `prepare` in a clone of its own). Both must work with no manual build.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Workspace, assertImportsEverywhere, npm, sh } from './helpers.js';

const workspace = new Workspace();
const clone = workspace.freshClone();
after(() => workspace.remove());

test('npm install /path/to/clone builds a fresh clone, and leaves it clean', () => {
  const project = workspace.project('by-path');
  npm(['install', clone], project);
  assert.ok(existsSync(join(clone, 'dist/src/index.js')), 'prepare built dist/');
  assertImportsEverywhere(project);
  assert.equal(sh('git', ['status', '--porcelain'], clone), '', 'installing left the clone unchanged');
  npm(['install'], clone);
  assert.equal(sh('git', ['status', '--porcelain'], clone), '', 'npm install in the clone left it unchanged');
});

test('npm install git+file://… builds the package with its devDependencies and installs only what it needs', () => {
  const project = workspace.project('from-git');
  npm(['install', `git+file://${clone}`], project);
  const installed = join(project, 'node_modules/switchyard');
  assert.ok(existsSync(join(installed, 'dist/src/index.js')), 'dist/ was built');
  assert.ok(!existsSync(join(project, 'node_modules/typescript')), 'no devDependencies installed beside it');
  assert.ok(existsSync(join(installed, 'build/write-each.node')), 'the native writer was compiled by the install step');
  assertImportsEverywhere(project);
});
