/**
 * Transpiles the code under test to plain JavaScript (esbuild, one file per
 * source file, no bundling) in bench/.build/, so that servers run the way a
 * deployment runs them: no TypeScript loader at runtime. tsx's on-the-fly
 * transform keeps function names by redefining `name` on every closure it
 * creates, which puts each closure's properties in dictionary mode (~250 bytes
 * more per closure: several KB per connection for a server that makes a few
 * closures per connection), and skews memory and CPU figures.
 *
 * The built files import the library by its name (`switchyard`,
 * `switchyard/server`), which Node resolves through the nearest package.json
 * of that name: without one in bench/.build/ that is the repository's, whose
 * exports point at dist/, the output of the last `npm run build`, not the
 * working tree's src/. So the build writes a package.json of its own that
 * maps every export to the transpiled src/ beside it.
 */
import { cpSync, existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BUILD = join(ROOT, 'bench/.build');

/** Where a source file of the repository (`bench/servers/raw-ws.ts`) lands once built. */
export function built(path: string): string {
  return join(BUILD, path.replace(/\.ts$/, '.js'));
}

function sources(dir: string): string[] {
  if (!existsSync(join(ROOT, dir))) return [];
  return (readdirSync(join(ROOT, dir), { recursive: true }) as string[])
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && !f.endsWith('.test.ts'))
    .map((f) => join(ROOT, dir, f));
}

/** The repository's package.json with each export pointing at the transpiled source of its `switchyard-source` condition. */
function selfReference(): Record<string, unknown> {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string; exports: Record<string, unknown> };
  const exports: Record<string, string> = { './package.json': './package.json' };
  for (const [subpath, target] of Object.entries(pkg.exports)) {
    const source = typeof target === 'object' && target !== null ? (target as Record<string, unknown>)['switchyard-source'] : undefined;
    if (typeof source === 'string') exports[subpath] = source.replace(/\.ts$/, '.js');
  }
  return { name: pkg.name, version: pkg.version, type: 'module', exports };
}

export async function buildForBench(): Promise<void> {
  rmSync(BUILD, { recursive: true, force: true });
  await build({
    entryPoints: [...sources('src'), ...sources('examples/chat'), ...sources('bench/servers'), ...sources('bench/layers')],
    outdir: BUILD,
    outbase: ROOT,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    bundle: false,
    logLevel: 'error',
  });
  writeFileSync(join(BUILD, 'package.json'), `${JSON.stringify(selfReference(), null, 2)}\n`);
  // The chat app's pages (the full-stack variant builds its HTTP app at import).
  if (existsSync(join(ROOT, 'examples/chat/pages'))) cpSync(join(ROOT, 'examples/chat/pages'), join(BUILD, 'examples/chat/pages'), { recursive: true });
}
