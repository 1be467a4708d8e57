#!/usr/bin/env node
// Bundles the browser client (src/client/index.ts) into one minified ES module,
// dist/client/switchyard-client.js, and prints its size minified and gzipped:
// the number the README quotes. The chat example serves the same bundle, built
// in memory with the same options (examples/chat/http.ts).
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const outfile = `${root}dist/client/switchyard-client.js`;

await build({
  entryPoints: [`${root}src/client/index.ts`],
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
console.log(`${outfile.slice(root.length)}: ${bytes.length} bytes minified, ${gzipped} bytes minified+gzip`);
