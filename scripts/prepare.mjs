#!/usr/bin/env node
// npm's `prepare` step: builds dist/ (the compiled library and the browser client)
// so the package works from a clone, a git URL or a tarball with no manual build.
//
// npm installs a git dependency's devDependencies before `prepare`, and a
// checkout has them after `npm ci`; but `npm install /path/to/clone` links a
// folder without installing anything in it. There the clone installs its own
// locked dependencies first (scripts off, so this step does not run again).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function run(command, args) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    console.error(`switchyard prepare: \`${command} ${args.join(' ')}\` failed (exit ${result.status ?? result.signal})`);
    process.exit(1);
  }
}

const hasBuildTools = ['typescript', 'esbuild'].every((name) => existsSync(`${root}node_modules/${name}/package.json`));
if (!hasBuildTools) run(npm, ['ci', '--include=dev', '--ignore-scripts', '--no-audit', '--no-fund']);
run(npm, ['run', 'build']);
