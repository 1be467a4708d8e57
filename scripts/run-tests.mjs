#!/usr/bin/env node
// Runs every test file under test/ with Node's own test runner (through tsx),
// after making sure a Redis answers on 127.0.0.1:6379 and a NATS (with
// JetStream) on 127.0.0.1:4222: the layer and interop suites talk to a real
// Redis and NATS, and a fresh machine may not have them running.
// The `switchyard-source` condition (inherited by every child process through
// NODE_OPTIONS) makes `import 'switchyard'` load the TypeScript sources, the same
// modules the tests import by path: one copy of the library, no build needed.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { ensureRedis } from './redis-up.mjs';
import { ensureNats } from './nats-up.mjs';

function findTests(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) out.push(...findTests(full));
    else if (name.endsWith('.test.ts')) out.push(full);
  }
  return out.sort();
}

// The native writer is built by npm's install step; rebuilt here when its source changed since.
const nativeSource = Math.max(...readdirSync('native').map((file) => statSync(`native/${file}`).mtimeMs));
const nativeBuilt = existsSync('build/write-each.node') ? statSync('build/write-each.node').mtimeMs : 0;
if (nativeBuilt < nativeSource) spawnSync(process.execPath, ['scripts/build-native.mjs'], { stdio: 'inherit' });

await ensureRedis(6379);
await ensureNats(4222);
const only = process.argv.slice(2);
const files = only.length > 0 ? only : findTests('test');
const result = spawnSync(
  process.execPath,
  // --test-force-exit: a file is done when its tests are; what it left open is named (test/helpers/open-handles.ts).
  ['--import', 'tsx', '--import', './test/helpers/open-handles.ts', '--test', '--test-force-exit', '--test-reporter=spec', '--test-concurrency=2', '--test-timeout=300000', ...files],
  { stdio: 'inherit', env: { ...process.env, NODE_ENV: 'test', NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --conditions=switchyard-source`.trim() } },
);
process.exit(result.status ?? 1);
