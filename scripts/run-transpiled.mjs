// `node scripts/run-transpiled.mjs <file.ts> [args...]`: runs a TypeScript
// entry point of this repository as plain JavaScript, in this process (what
// `npm start` and `npm run chat:adduser` do; transpile.mjs says why not tsx).
//
// The output is kept by content: a directory named by a hash of the sources'
// paths, sizes and modification times, built once (into a directory of its
// own, then renamed, so that two processes starting at once never see a half
// build) and reused while the sources do not change.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, transpile, transpiled } from './transpile.mjs';

const CACHE = join(ROOT, 'node_modules/.cache/switchyard-run');
const DAY_MS = 24 * 60 * 60 * 1000;

const [entry, ...args] = process.argv.slice(2);
if (entry === undefined) {
  console.error('usage: node scripts/run-transpiled.mjs <file.ts> [args...]');
  process.exit(2);
}
const path = resolve(entry);
const inside = path.startsWith(ROOT) ? path.slice(ROOT.length) : null;
if (inside === null || !inside.includes('/') || !path.endsWith('.ts') || !existsSync(path)) {
  console.error(`run-transpiled: ${entry} is not a .ts file in a directory of this repository (${ROOT})`);
  process.exit(2);
}
// The library, and the top directory of the entry point (examples/ for the chat demo).
const DIRS = [...new Set(['src', inside.split('/')[0]])];

/** A hash of what the build reads: every file under DIRS, with its size and time. */
function sourcesKey() {
  const hash = createHash('sha256');
  for (const dir of DIRS) {
    for (const name of readdirSync(join(ROOT, dir), { recursive: true }).sort()) {
      const stat = statSync(join(ROOT, dir, name));
      if (stat.isFile()) hash.update(`${dir}/${name}\0${stat.size}\0${stat.mtimeMs}\n`);
    }
  }
  hash.update(process.version);
  return hash.digest('hex').slice(0, 16);
}

async function build() {
  const out = join(CACHE, sourcesKey());
  if (existsSync(out)) return out;
  mkdirSync(CACHE, { recursive: true });
  // Builds of sources that changed since, a day old: nothing runs from them any more.
  for (const name of readdirSync(CACHE)) {
    if (Date.now() - statSync(join(CACHE, name)).mtimeMs > DAY_MS) rmSync(join(CACHE, name), { recursive: true, force: true });
  }
  const partial = `${out}.${process.pid}.partial`;
  await transpile(partial, DIRS);
  try {
    renameSync(partial, out);
  } catch (error) {
    rmSync(partial, { recursive: true, force: true }); // another process finished the same build first
    if (!existsSync(out)) throw error;
  }
  return out;
}

const out = await build();
// The chat's accounts stay in examples/chat/users.json, where chat:adduser writes them.
process.env.CHAT_USERS_FILE ||= join(ROOT, 'examples/chat/users.json');
process.setSourceMapsEnabled(true); // stacks name .ts lines
const script = transpiled(out, path);
process.argv = [process.argv[0], script, ...args];
await import(pathToFileURL(script).href);
