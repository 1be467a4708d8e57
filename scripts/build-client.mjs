#!/usr/bin/env node
// Bundles the browser client (src/client/index.ts) into one minified ES module,
// dist/client/switchyard-client.js, and the HTTP fallback (src/client/fallback-index.ts)
// into dist/client/switchyard-fallback.js, and prints their sizes minified and
// gzipped: the numbers the README quotes. The chat example serves the same bundle, built
// in memory with the same options (examples/chat/http.ts).
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const bundles = [
  ['src/client/index.ts', 'dist/client/switchyard-client.js'],
  ['src/client/fallback-index.ts', 'dist/client/switchyard-fallback.js'],
];

for (const [entry, out] of bundles) {
  const outfile = `${root}${out}`;
  await build({
    entryPoints: [`${root}${entry}`],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    sourcemap: 'linked',
    outfile,
    logLevel: 'warning',
  });
  const bytes = readFileSync(outfile);
  const gzipped = gzipSync(bytes, { level: 9 }).length;
  console.log(`${out}: ${bytes.length} bytes minified, ${gzipped} bytes minified+gzip`);
}
