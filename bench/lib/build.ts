/**
 * Transpiles the code under test to plain JavaScript in bench/.build/, laid
 * out like the repository (scripts/transpile.mjs, the same build `npm start`
 * runs), so that servers run the way a deployment runs them: no TypeScript
 * loader at runtime, whose transform skews memory and CPU figures (tsx's
 * keepNames puts every closure in dictionary mode; a loader thread costs
 * about 1 KB per connection). The built files import the library by its name
 * (`switchyard`, `switchyard/server`), which the build's own package.json
 * maps to the transpiled src/ beside it, not to dist/.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BUILD = join(ROOT, 'bench/.build');

interface Transpiler {
  transpile(outDir: string, dirs: string[]): Promise<string>;
}

/** Where a source file of the repository (`bench/servers/raw-ws.ts`) lands once built. */
export function built(path: string): string {
  return join(BUILD, path.replace(/\.ts$/, '.js'));
}

export async function buildForBench(): Promise<void> {
  const { transpile } = (await import(new URL('../../scripts/transpile.mjs', import.meta.url).href)) as Transpiler;
  await transpile(BUILD, ['src', 'examples/chat', 'bench/servers', 'bench/layers']);
}
