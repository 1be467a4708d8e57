// `switchyard serve` in a production install: a project whose node_modules holds
// the built package and its dependencies, but no tsx. A .ts app gets one line
// saying what to install or how to compile; a .js app just runs.
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { build } from 'esbuild';
import { listening, runCommand, type Running } from '../helpers/processes.js';

const ROOT = resolve('.');

/** The package as `npm run build` lays it out (dist/src/**.js from today's src/), with bin/ and package.json. */
async function installBuiltPackage(project: string): Promise<void> {
  const pkg = join(project, 'node_modules', 'switchyard');
  mkdirSync(pkg, { recursive: true });
  cpSync(join(ROOT, 'package.json'), join(pkg, 'package.json'));
  cpSync(join(ROOT, 'bin'), join(pkg, 'bin'), { recursive: true });
  const sources = (readdirSync(join(ROOT, 'src'), { recursive: true }) as string[])
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))
    .map((file) => join(ROOT, 'src', file));
  await build({ entryPoints: sources, outdir: join(pkg, 'dist', 'src'), outbase: join(ROOT, 'src'), format: 'esm', platform: 'node', target: 'node20', logLevel: 'error' });
  // The runtime dependencies (and everything else installed here) but tsx.
  for (const name of readdirSync(join(ROOT, 'node_modules'))) {
    if (name === 'tsx' || name === 'switchyard' || name.startsWith('.')) continue;
    symlinkSync(join(ROOT, 'node_modules', name), join(project, 'node_modules', name));
  }
}

const APP_TS = `import type { Application } from 'switchyard';
export const application: Application = async (scope, receive, send) => {
  await send({ type: 'http.response.start', status: 200, headers: [] });
  await send({ type: 'http.response.body', body: Buffer.from('typescript') });
};
`;
const APP_JS = `export const application = async (scope, receive, send) => {
  if (scope.type === 'lifespan') return;
  await send({ type: 'http.response.start', status: 200, headers: [] });
  await send({ type: 'http.response.body', body: Buffer.from('javascript') });
};
`;

describe('a production install without tsx (processes)', () => {
  let project = '';
  const running: Running[] = [];
  const serve = (app: string): Running => {
    // No switchyard-source condition and no tsx: what `npx switchyard` sees after `npm install --omit=dev`.
    const env = { ...process.env, NODE_ENV: 'production', NODE_OPTIONS: '' };
    const cli = runCommand(process.execPath, [join('node_modules', 'switchyard', 'bin', 'switchyard.js'), 'serve', app, '--port', '0'], { cwd: project, env });
    running.push(cli);
    return cli;
  };

  before(async () => {
    project = mkdtempSync(join(tmpdir(), 'switchyard-prod-'));
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'site', private: true, type: 'module' }));
    writeFileSync(join(project, 'app.ts'), APP_TS);
    writeFileSync(join(project, 'app.js'), APP_JS);
    await installBuiltPackage(project);
  });
  after(() => {
    for (const r of running) r.stop();
    rmSync(project, { recursive: true, force: true });
  });

  test('serve app.ts: one line saying to install tsx or compile to .js, exit 1', async () => {
    const cli = serve('app.ts:application');
    assert.equal((await cli.exited).code, 1, cli.output());
    const errors = cli.lines.filter((l) => l.level === 50);
    assert.equal(errors.length, 1, cli.output());
    assert.match(String(errors[0]!.msg), /^Cannot load app\.ts: TypeScript apps need tsx, which is not installed here/);
    assert.match(String(errors[0]!.msg), /npm install -D tsx/);
    assert.match(String(errors[0]!.msg), /compile the app to JavaScript/);
    assert.doesNotMatch(cli.output(), /ERR_MODULE_NOT_FOUND|\n\s+at /);
  });

  test('serve app.js needs nothing extra', async () => {
    const cli = serve('app.js:application');
    const url = String((await cli.waitFor(listening)).url);
    const response = await fetch(url);
    assert.equal(await response.text(), 'javascript');
    cli.child.kill('SIGTERM');
    assert.equal((await cli.exited).code, 0);
  });
});
