// Module hooks that run the repository's TypeScript (`npm start`,
// `npm run chat:adduser`) without tsx. Registered by register-ts-loader.mjs.
//
// Why not tsx: its transform turns on esbuild's keepNames, which wraps every
// function in `__name(fn, "fn")`, a defineProperty of `name` that moves each
// closure's properties to V8's dictionary mode: a few hundred bytes per
// closure, several KB per idle WebSocket of the chat demo, against the same
// code as plain JavaScript (bench/lib/build.ts). Here each .ts file is
// transpiled alone by esbuild without keepNames (plain JavaScript names
// functions by itself), and keeps its real file: URL, so paths relative to
// import.meta.url (pages, users.json, the client bundle) keep working.
//
// Without keepNames, esbuild may rename a local that shadows a module-level
// name (`x` becomes `x2`, and so does its function's `name`); the bench's
// transpiled JavaScript does the same, and no class of src/ or examples/ is
// renamed so.
//
// It serves this repository's sources, all ES modules (package.json says
// "type": "module"): type syntax only, no enums, decorators or namespaces
// that would need more than a per-file transform, and JSON is loaded by Node.
import { readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { transform } from 'esbuild';

// The compiler options esbuild honours (verbatimModuleSyntax: an import
// without `type` is kept; target ES2022: class fields are defined as tsc
// defines them), read from tsconfig.json so the two cannot drift apart.
const tsconfigRaw = readFileSync(new URL('../tsconfig.json', import.meta.url), 'utf8');

const isTypeScript = (url) => url.startsWith('file:') && new URL(url).pathname.endsWith('.ts');

/**
 * The NodeNext convention of the sources: `import './x.js'` names the file
 * x.ts. A relative `.js` specifier that does not exist, from a .ts module, is
 * tried as `.ts`.
 */
export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (error) {
    const fromTypeScript = context.parentURL !== undefined && isTypeScript(context.parentURL);
    if (error?.code !== 'ERR_MODULE_NOT_FOUND' || !fromTypeScript || !/^\.{1,2}\/.*\.js$/.test(specifier)) throw error;
    return nextResolve(`${specifier.slice(0, -3)}.ts`, context);
  }
}

/** A .ts file as an ES module, its types stripped; other files as Node loads them. */
export async function load(url, context, nextLoad) {
  if (!isTypeScript(url)) return nextLoad(url, context);
  const path = fileURLToPath(url);
  const { code } = await transform(await readFile(path, 'utf8'), {
    loader: 'ts',
    format: 'esm',
    target: 'node20',
    tsconfigRaw,
    // Stack traces name .ts lines (register-ts-loader.mjs turns source maps
    // on); the map needs no copy of the source for that.
    sourcemap: 'inline',
    sourcesContent: false,
    sourcefile: path,
  });
  return { format: 'module', source: code, shortCircuit: true };
}
