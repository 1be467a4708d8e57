// Transpiles the repository's TypeScript to plain JavaScript, one file per
// source file (esbuild, no bundling), into a directory laid out like the
// repository: what `npm start` runs (run-transpiled.mjs) and what the bench
// measures (bench/lib/build.ts).
//
// Why not run the .ts files through a loader. tsx turns on esbuild's
// keepNames, which wraps every function in a redefinition of its `name`: that
// moves each closure's properties to V8's dictionary mode, a few hundred bytes
// per closure, several KB per idle WebSocket of the chat demo. A loader of our
// own (Node 20 module hooks) avoids that but runs on a thread of its own that
// costs about 1 KB per connection more than plain JavaScript (measured with
// bench (c)). Plain JavaScript costs neither.
//
// Paths relative to import.meta.url still work: every file that is not
// TypeScript (pages, styles, browser scripts) is copied beside the output,
// and so are the browser client's .ts sources, which the chat demo bundles
// for its pages. The output's own package.json maps `switchyard` and its
// subpaths to the transpiled src/, so the demo runs the working tree's code,
// not dist/.
import { cpSync, existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/** The repository's root directory. */
export const ROOT = fileURLToPath(new URL('..', import.meta.url));

function files(dir) {
  if (!existsSync(join(ROOT, dir))) return [];
  return readdirSync(join(ROOT, dir), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath ?? entry.path, entry.name));
}

const isSource = (file) => file.endsWith('.ts') && !file.endsWith('.d.ts') && !file.endsWith('.test.ts');

/** The repository's package.json, each export pointing at the transpiled file of its `switchyard-source` condition. */
function selfReference() {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  const exports = { './package.json': './package.json' };
  for (const [subpath, target] of Object.entries(pkg.exports)) {
    const source = typeof target === 'object' && target !== null ? target['switchyard-source'] : undefined;
    if (typeof source === 'string') exports[subpath] = source.replace(/\.ts$/, '.js');
  }
  return { name: pkg.name, version: pkg.version, type: 'module', exports };
}

/**
 * Transpiles the TypeScript under `dirs` (relative to the root) into `outDir`
 * (emptied first), copies their other files and the client's sources, and
 * writes the self-referencing package.json.
 */
export async function transpile(outDir, dirs) {
  rmSync(outDir, { recursive: true, force: true });
  const all = dirs.flatMap(files);
  await build({
    entryPoints: all.filter(isSource),
    outdir: outDir,
    outbase: ROOT,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    bundle: false,
    sourcemap: 'inline', // stacks name .ts lines under --enable-source-maps
    sourcesContent: false,
    logLevel: 'error',
  });
  const clientSources = join(ROOT, 'src/client');
  for (const file of all) {
    if (file.endsWith('.ts') && !(file.startsWith(clientSources) && isSource(file))) continue;
    if (file.endsWith('.test.ts')) continue;
    const target = join(outDir, file.slice(ROOT.length));
    cpSync(file, target, { force: true });
  }
  writeFileSync(join(outDir, 'package.json'), `${JSON.stringify(selfReference(), null, 2)}\n`);
  return outDir;
}

/** Where `file` (a path in the repository) lands in `outDir`, as JavaScript. */
export function transpiled(outDir, file) {
  const relative = file.startsWith(ROOT) ? file.slice(ROOT.length) : file;
  return join(outDir, relative.replace(/\.ts$/, '.js'));
}

