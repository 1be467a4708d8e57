// Helpers for the packaging tests: a fresh clone of this checkout, empty
// projects that install it, and the checks every kind of install must pass.
// Commands run without NODE_OPTIONS: a stranger has no `switchyard-source`
// condition. Dependencies come from npm's cache (the suite's own `npm ci`
// filled it), so nothing here needs more than the registry.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const repo = resolve(import.meta.dirname, '../..');
export const subpaths = ['', '/server', '/redis', '/testing', '/client', '/presence', '/middleware', '/admin', '/client/fallback'];

/** The environment a user's shell would have: none of the test runner's variables. */
export function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const { NODE_OPTIONS: _, NODE_TEST_CONTEXT: __, ...env } = process.env;
  return { ...env, ...extra };
}

/** Runs a command to completion and returns its stdout; a failure shows its output. */
export function sh(command: string, args: string[], cwd: string): string {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', env: userEnv(), timeout: 240_000 });
  assert.equal(result.status, 0, `${command} ${args.join(' ')} in ${cwd} failed:\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

export const npm = (args: string[], cwd: string): string => sh('npm', [...args, '--prefer-offline', '--no-audit', '--no-fund'], cwd);

/** A temporary folder, removed by {@link Workspace.remove}. */
export class Workspace {
  readonly dir = mkdtempSync(join(tmpdir(), 'switchyard-package-'));

  /**
   * A fresh clone: what git's index holds (committed or staged), in a new git
   * repository, with nothing built and nothing installed.
   */
  freshClone(): string {
    const clone = join(this.dir, 'clone');
    execFileSync('git', ['checkout-index', '--all', `--prefix=${clone}/`], { cwd: repo });
    sh('git', ['init', '-q'], clone);
    sh('git', ['add', '-A'], clone);
    sh('git', ['-c', 'user.email=ci@example.invalid', '-c', 'user.name=ci', 'commit', '-qm', 'clone'], clone);
    return clone;
  }

  /** An empty npm project. */
  project(name: string, type: 'module' | 'commonjs' = 'module'): string {
    const dir = join(this.dir, name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true, type }));
    return dir;
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Every subpath loads from ESM and from CommonJS (`require(esm)`, Node 20.19+), and none is empty. */
export function assertImportsEverywhere(project: string): void {
  const esm = subpaths.map((s, i) => `import * as m${i} from 'switchyard${s}'; if (Object.keys(m${i}).length === 0) throw new Error('switchyard${s} is empty');`);
  writeFileSync(join(project, 'esm-check.mjs'), `${esm.join('\n')}\nconsole.log('esm ok');\n`);
  assert.match(sh(process.execPath, ['esm-check.mjs'], project), /esm ok/);
  const cjs = subpaths.map((s) => `if (Object.keys(require('switchyard${s}')).length === 0) throw new Error('switchyard${s} is empty');`);
  writeFileSync(join(project, 'cjs-check.cjs'), `${cjs.join('\n')}\nconsole.log('cjs ok');\n`);
  assert.match(sh(process.execPath, ['--no-warnings', 'cjs-check.cjs'], project), /cjs ok/);
}
