// The package as a stranger gets it: a fresh clone (no dist/, no node_modules)
// installed by path, packed into a tarball, installed from a git URL, and then
// used from an empty project: a .js app served by `npx switchyard` on the Redis
// layer, every subpath imported from ESM, CommonJS and TypeScript's node10,
// node16 and bundler resolution. Dependencies come from npm's cache (the suite's
// own `npm ci` filled it), so nothing here needs more than the registry.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { freePort } from '../helpers/ports.js';

const repo = resolve(import.meta.dirname, '../..');
const subpaths = ['', '/server', '/redis', '/testing', '/client', '/presence', '/middleware'];
const tsc = join(repo, 'node_modules/typescript/bin/tsc');
const typesNodeVersion = JSON.parse(readFileSync(join(repo, 'node_modules/@types/node/package.json'), 'utf8')).version as string;
const prefix = `sy-pkg-${process.pid}-`;

let work = '';
let clone = '';
let tarball = '';

/** Runs a command to completion; a failure shows its output. No NODE_OPTIONS: a stranger has no source condition. */
function sh(command: string, args: string[], cwd: string, extraEnv: Record<string, string> = {}): string {
  const { NODE_OPTIONS: _, NODE_TEST_CONTEXT: __, ...env } = process.env;
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', env: { ...env, ...extraEnv }, timeout: 240_000 });
  assert.equal(result.status, 0, `${command} ${args.join(' ')} in ${cwd} failed:\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

const npm = (args: string[], cwd: string) => sh('npm', [...args, '--prefer-offline', '--no-audit', '--no-fund'], cwd);

function emptyProject(name: string, type: 'module' | 'commonjs' = 'module'): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true, type }));
  return dir;
}

/** Every subpath loads from ESM and from CommonJS (`require(esm)`, Node 20.19+). */
function assertImportsEverywhere(project: string): void {
  const esm = subpaths.map((s, i) => `import * as m${i} from 'switchyard${s}'; if (Object.keys(m${i}).length === 0) throw new Error('switchyard${s} is empty');`).join('\n');
  writeFileSync(join(project, 'esm-check.mjs'), `${esm}\nconsole.log('esm ok');\n`);
  assert.match(sh(process.execPath, ['esm-check.mjs'], project), /esm ok/);
  const cjs = subpaths.map((s) => `if (Object.keys(require('switchyard${s}')).length === 0) throw new Error('switchyard${s} is empty');`).join('\n');
  writeFileSync(join(project, 'cjs-check.cjs'), `${cjs}\nconsole.log('cjs ok');\n`);
  assert.match(sh(process.execPath, ['--no-warnings', 'cjs-check.cjs'], project), /cjs ok/);
}

before(() => {
  work = mkdtempSync(join(tmpdir(), 'switchyard-package-'));
  clone = join(work, 'clone');
  // A fresh clone: what git's index holds (committed or staged), nothing built, nothing installed.
  execFileSync('git', ['checkout-index', '--all', `--prefix=${clone}/`], { cwd: repo });
  sh('git', ['init', '-q'], clone);
  sh('git', ['add', '-A'], clone);
  sh('git', ['-c', 'user.email=ci@example.invalid', '-c', 'user.name=ci', 'commit', '-qm', 'clone'], clone);
});

after(async () => {
  if (work !== '') rmSync(work, { recursive: true, force: true });
  const redis = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true });
  await redis.connect();
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

test('npm install /path/to/clone builds a fresh clone and leaves it clean', () => {
  const project = emptyProject('by-path');
  npm(['install', clone], project);
  assert.ok(existsSync(join(clone, 'dist/src/index.js')), 'prepare built dist/');
  assertImportsEverywhere(project);
  assert.equal(sh('git', ['status', '--porcelain'], clone), '', 'installing left the clone unchanged');
  npm(['install'], clone);
  assert.equal(sh('git', ['status', '--porcelain'], clone), '', 'npm install in the clone left it unchanged');
});

test('npm pack ships dist/, types, README, LICENSE, the browser client, and only source maps whose sources it ships', () => {
  const out = join(work, 'pack');
  mkdirSync(out);
  const name = npm(['pack', '--pack-destination', out], clone).trim().split('\n').pop()!;
  tarball = join(out, name);
  const listing = sh('tar', ['-tzf', tarball], work).split('\n').filter(Boolean).map((f) => f.replace(/^package\//, ''));
  const shipped = new Set(listing);
  for (const file of ['package.json', 'README.md', 'LICENSE', 'bin/switchyard.js', 'dist/src/index.js', 'dist/src/index.d.ts',
    'dist/src/server/cli.js', 'dist/client/switchyard-client.js', ...subpaths.map((s) => `dist/src${s}/index.d.ts`)]) {
    assert.ok(shipped.has(file), `the tarball has ${file}`);
  }
  assert.ok(!listing.some((f) => f.startsWith('test/') || f.startsWith('bench/') || f.startsWith('node_modules/')), 'no tests, benches or modules');
  const unpacked = join(work, 'unpacked');
  mkdirSync(unpacked);
  sh('tar', ['-xzf', tarball, '-C', unpacked], work);
  const maps = listing.filter((f) => f.endsWith('.map'));
  assert.ok(maps.length > 0, 'source maps are shipped');
  for (const map of maps) {
    const { sources } = JSON.parse(readFileSync(join(unpacked, 'package', map), 'utf8')) as { sources: string[] };
    for (const source of sources) {
      const target = join(dirname(map), source).replace(/\\/g, '/');
      assert.ok(shipped.has(target), `${map} points at ${source}, which the tarball ships`);
    }
  }
});

test('the tarball in an empty project: every subpath from ESM, CommonJS and TypeScript node10/node16/bundler', () => {
  assert.ok(tarball !== '', 'packed by the previous test');
  const project = emptyProject('from-tarball');
  npm(['install', tarball, `@types/node@${typesNodeVersion}`], project);
  assertImportsEverywhere(project);
  const browser = sh(process.execPath, ['--input-type=module', '-e', "console.log(import.meta.resolve('switchyard/client/browser'))"], project).trim();
  assert.match(readFileSync(new URL(browser), 'utf8'), /export\{/, 'the browser bundle is an ES module');

  const usage = `import { ProtocolTypeRouter, URLRouter, WebsocketConsumer, rePath } from 'switchyard';
import { serve } from 'switchyard/server';
import { RedisChannelLayer } from 'switchyard/redis';
import { WebsocketCommunicator } from 'switchyard/testing';
import { ReconnectingWebSocket } from 'switchyard/client';
import { Presence } from 'switchyard/presence';
import { AllowedHostsOriginValidator } from 'switchyard/middleware';
class Echo extends WebsocketConsumer {
  override async receive(data: string | Uint8Array): Promise<void> { await this.send(data); }
}
export const application = ProtocolTypeRouter({ websocket: AllowedHostsOriginValidator(URLRouter([rePath(/^ws\\/$/, Echo.asApp())])) });
export const used = [serve, RedisChannelLayer, WebsocketCommunicator, ReconnectingWebSocket, Presence];
`;
  const settings = {
    node10: { module: 'commonjs', moduleResolution: 'node10', ext: 'ts', type: 'commonjs' },
    node16: { module: 'node16', moduleResolution: 'node16', ext: 'mts', type: 'module' },
    bundler: { module: 'esnext', moduleResolution: 'bundler', ext: 'ts', type: 'module' },
  } as const;
  for (const [name, { module, moduleResolution, ext }] of Object.entries(settings)) {
    const dir = join(project, `ts-${name}`);
    mkdirSync(dir);
    writeFileSync(join(dir, `usage.${ext}`), usage);
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { module, moduleResolution, target: 'es2022', strict: true, noEmit: true, lib: ['es2023', 'dom'], types: ['node'], esModuleInterop: true, skipLibCheck: false, ignoreDeprecations: '5.0' },
      files: [`usage.${ext}`],
    }));
    const result = spawnSync(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')], { cwd: project, encoding: 'utf8' });
    assert.equal(result.status, 0, `TypeScript (${name}) failed:\n${result.stdout}${result.stderr}`);
  }
});

test('npx switchyard serve runs a .js app on the Redis layer from the tarball install', async () => {
  const project = join(work, 'from-tarball');
  assert.ok(existsSync(join(project, 'node_modules/switchyard')), 'installed by the previous test');
  writeFileSync(join(project, 'app.js'), `import { ProtocolTypeRouter, URLRouter, WebsocketConsumer, rePath } from 'switchyard';
class Room extends WebsocketConsumer {
  async connect() { await this.channelLayer.groupAdd('room', this.channelName); await this.accept(); }
  async receive(text) { await this.channelLayer.groupSend('room', { type: 'room.message', text }); }
  async room_message(event) { await this.send('via redis: ' + event.text); }
}
export const application = ProtocolTypeRouter({ websocket: URLRouter([rePath(/^ws\\/$/, Room.asApp())]) });
`);
  const port = await freePort();
  const { NODE_OPTIONS: _, NODE_TEST_CONTEXT: __, ...env } = process.env;
  const server = spawn('npx', ['switchyard', 'serve', 'app.js:application', '--port', String(port)], {
    cwd: project, env: { ...env, CHANNEL_LAYER_URL: `redis://127.0.0.1:6379/0?prefix=${prefix}` }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  server.stdout.on('data', (chunk) => { output += chunk; });
  server.stderr.on('data', (chunk) => { output += chunk; });
  const exited = new Promise<number | null>((done) => server.on('exit', (code) => done(code)));
  try {
    const deadline = Date.now() + 20_000;
    let reply = '';
    while (reply === '' && Date.now() < deadline) {
      reply = await new Promise<string>((done) => {
        const socket = new WebSocket(`ws://127.0.0.1:${port}/ws/`);
        socket.on('open', () => socket.send('hello'));
        socket.on('message', (data) => { done(String(data)); socket.close(); });
        socket.on('error', () => setTimeout(() => done(''), 200));
      });
    }
    assert.equal(reply, 'via redis: hello', `the app answered through Redis; server said:\n${output}`);
  } finally {
    server.kill('SIGTERM');
  }
  assert.equal(await exited, 0, `the server drained and exited 0 on SIGTERM:\n${output}`);
});

test('npm install git+file://… builds the package (prepare with devDependencies) and it works', () => {
  const project = emptyProject('from-git');
  npm(['install', `git+file://${clone}`], project);
  const installed = join(project, 'node_modules/switchyard');
  assert.ok(existsSync(join(installed, 'dist/src/index.js')), 'dist/ was built');
  assert.ok(!readdirSync(installed).includes('node_modules') || !existsSync(join(installed, 'node_modules/typescript')), 'no devDependencies installed in the package');
  assertImportsEverywhere(project);
});
