#!/usr/bin/env node
// The `switchyard` command. The CLI is found through the package's own name, so
// the CLI and the app it serves (which imports 'switchyard') share one copy of
// the library: dist/ when installed or built, or the TypeScript sources when the
// `switchyard-source` export condition is set (as the test suite does).
const serverEntry = import.meta.resolve('switchyard/server');
const fromSource = serverEntry.endsWith('.ts');
if (fromSource) {
  const { register } = await import('tsx/esm/api');
  register();
  globalThis[Symbol.for('switchyard.tsxRegistered')] = true;
}
const cli = new URL(fromSource ? './cli.ts' : './cli.js', serverEntry);
try {
  await import(cli.href);
} catch (err) {
  if (err?.code === 'ERR_MODULE_NOT_FOUND' && err.url === cli.href) {
    console.error(`switchyard: ${cli.pathname} is missing: run \`npm run build\` in the package (a git checkout is built by \`npm install\`).`);
    process.exit(1);
  }
  throw err;
}
