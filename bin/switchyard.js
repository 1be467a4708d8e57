#!/usr/bin/env node
// The `switchyard` command. Runs the compiled CLI when a build exists,
// otherwise the TypeScript sources of a git checkout through tsx.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const compiled = fileURLToPath(new URL('../dist/src/server/cli.js', import.meta.url));
if (existsSync(compiled)) {
  await import(pathToFileURL(compiled).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  globalThis[Symbol.for('switchyard.tsxRegistered')] = true;
  await import('../src/server/cli.ts');
}
