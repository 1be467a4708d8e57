/**
 * Transpiles the code under test to plain JavaScript (esbuild, one file per
 * source file, no bundling) in bench/.build/, so that servers run the way a
 * deployment runs them: no TypeScript loader at runtime. tsx's on-the-fly
 * transform keeps function names by redefining `name` on every closure it
 * creates, which puts each closure's properties in dictionary mode (~250 bytes
 * more per closure: several KB per connection for a server that makes a few
 * closures per connection), and skews memory and CPU figures.
 */
import { cpSync, existsSync, readdirSync, rmSync } from 'node:fs';
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
  // The chat app's pages (the full-stack variant builds its HTTP app at import).
  if (existsSync(join(ROOT, 'examples/chat/pages'))) cpSync(join(ROOT, 'examples/chat/pages'), join(BUILD, 'examples/chat/pages'), { recursive: true });
}
