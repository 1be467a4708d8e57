#!/usr/bin/env node
// npm's `install` step: compiles native/*.c into build/write-each.node,
// the server's optional native writer (src/server/direct-writes.ts), with the
// C compiler (CC, default cc) and the headers of the Node that runs this
// (<prefix>/include/node, shipped with Node's packages and tarballs). ring.c
// uses <linux/io_uring.h> where the system has it, and compiles to a writer
// without io_uring where it does not.
// Nothing is downloaded. Without a compiler or the headers it says so in one
// line and succeeds: the server then writes with fs.writeSync, a little slower
// per socket, and the same in every other way (as ws without bufferutil).
// SWITCHYARD_NATIVE=0 skips the build.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const sources = ['write-each.c', 'ring.c'].map((file) => join(root, 'native', file));
const target = join(root, 'build', 'write-each.node');
const skip = (why) => {
  console.log(`switchyard: native writer not built (${why}); the server writes with fs.writeSync`);
  process.exit(0);
};

if (process.env.SWITCHYARD_NATIVE === '0') skip('SWITCHYARD_NATIVE=0');
if (process.platform === 'win32') skip('not on Windows');
const missing = sources.find((file) => !existsSync(file));
if (missing !== undefined) skip(`${missing} is missing`);
const headers = [join(dirname(process.execPath), '..', 'include', 'node'), process.env.NODE_INCLUDE_DIR]
  .filter(Boolean).find((dir) => existsSync(join(dir, 'node_api.h')));
if (headers === undefined) skip(`no node_api.h beside ${process.execPath} (set NODE_INCLUDE_DIR)`);

mkdirSync(dirname(target), { recursive: true });
const partial = `${target}.${process.pid}.tmp`;
const compiler = process.env.CC ?? 'cc';
const flags = ['-O2', '-Wall', '-Wextra', '-std=c11', '-D_POSIX_C_SOURCE=200809L', '-fPIC', '-shared', '-DNODE_GYP_MODULE_NAME=write_each', `-I${headers}`];
if (process.platform === 'darwin') flags.push('-undefined', 'dynamic_lookup');
const result = spawnSync(compiler, [...flags, '-o', partial, ...sources], { encoding: 'utf8' });
if (result.error !== undefined || result.status !== 0) {
  rmSync(partial, { force: true });
  skip(`${compiler} failed: ${(result.error?.message ?? result.stderr).trim().split('\n')[0]}`);
}
renameSync(partial, target); // whole or not at all: a process loading it never sees half a file
console.log(`switchyard: native writer built (${target})`);
