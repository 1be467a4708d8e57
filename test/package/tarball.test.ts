// `npm pack` on a fresh clone (dependencies installed, nothing built), and the
// tarball installed in an empty project: what it ships, every subpath from
// ESM, CommonJS and TypeScript's node10/node16/bundler resolution, and a .js
// app served by `npx switchyard` on the Redis layer.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { freePort } from '../helpers/ports.js';
import { runCommand } from '../helpers/processes.js';
import { eventually, until } from '../helpers/time.js';
import { ioUringAllowed } from '../helpers/io-uring.js';
import { Workspace, assertImportsEverywhere, npm, repo, sh, subpaths, userEnv } from './helpers.js';

const tsc = join(repo, 'node_modules/typescript/bin/tsc');
const typesNodeVersion = (JSON.parse(readFileSync(join(repo, 'node_modules/@types/node/package.json'), 'utf8')) as { version: string }).version;
const prefix = `sy-pkg-${process.pid}-`;

/** The declaration file a subpath's exports name (`dist/src/server/index.d.ts`). */
const exportsMap = (JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { exports: Record<string, { types?: string }> }).exports;
const typesOf = (subpath: string) => exportsMap[`.${subpath}`]!.types!.replace(/^\.\//, '');

const workspace = new Workspace();
let tarball = '';
let listing: string[] = [];
let project = '';

before(() => {
  const clone = workspace.freshClone();
  symlinkSync(join(repo, 'node_modules'), join(clone, 'node_modules'));
  const out = join(workspace.dir, 'pack');
  mkdirSync(out);
  tarball = join(out, npm(['pack', '--pack-destination', out], clone).trim().split('\n').pop()!);
  listing = sh('tar', ['-tzf', tarball], workspace.dir).split('\n').filter(Boolean).map((f) => f.replace(/^package\//, ''));
  project = workspace.project('from-tarball');
  npm(['install', tarball, `@types/node@${typesNodeVersion}`], project);
});

after(async () => {
  workspace.remove();
  const redis = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true });
  await redis.connect();
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

test('the tarball ships dist/, types, README, LICENSE and the browser client; no tests, benches or modules', () => {
  const shipped = new Set(listing);
  const expected = ['package.json', 'README.md', 'LICENSE', 'bin/switchyard.js', 'dist/src/index.js', 'dist/src/server/cli.js',
    'dist/client/switchyard-client.js', 'dist/client/switchyard-fallback.js', ...subpaths.map(typesOf)];
  for (const file of expected) assert.ok(shipped.has(file), `the tarball has ${file}`);
  assert.deepEqual(listing.filter((f) => /^(test|bench|node_modules|examples)\//.test(f)), []);
});

test('installing the tarball compiles the native writer from the C source it ships (no binary in the tarball), io_uring road included', () => {
  for (const file of ['native/write-each.c', 'native/ring.c', 'native/ring.h', 'scripts/build-native.mjs']) assert.ok(listing.includes(file), file);
  assert.deepEqual(listing.filter((f) => f.endsWith('.node')), []);
  const binary = join(project, 'node_modules/switchyard/build/write-each.node');
  assert.ok(existsSync(binary), 'npm ran the install step');
  const method = sh(process.execPath, ['-e', `console.log(require(${JSON.stringify(binary)}).writeMethod())`], project).trim();
  assert.equal(method, ioUringAllowed() ? 'io_uring' : 'write');
});

test('every source map in the tarball points only at files the tarball ships', () => {
  const shipped = new Set(listing);
  const maps = listing.filter((f) => f.endsWith('.map'));
  assert.ok(maps.length > 0, 'source maps are shipped');
  const installed = join(project, 'node_modules/switchyard');
  for (const map of maps) {
    const { sources } = JSON.parse(readFileSync(join(installed, map), 'utf8')) as { sources: string[] };
    for (const source of sources) {
      assert.ok(shipped.has(join(dirname(map), source)), `${map} points at ${source}, which the tarball ships`);
    }
  }
});

test('every subpath imports from ESM and CommonJS; the browser client is an ES module a page can load', () => {
  assertImportsEverywhere(project);
  const browser = sh(process.execPath, ['--input-type=module', '-e', "console.log(import.meta.resolve('switchyard/client/browser'))"], project).trim();
  assert.match(readFileSync(new URL(browser), 'utf8'), /export\{/);
});

test('TypeScript resolves every subpath with node10, node16 and bundler resolution', async () => {
  const usage = `import { ProtocolTypeRouter, URLRouter, WebsocketConsumer, rePath } from 'switchyard';
import { serve } from 'switchyard/server';
import { RedisChannelLayer } from 'switchyard/redis';
import { WebsocketCommunicator } from 'switchyard/testing';
import { ReconnectingWebsocket } from 'switchyard/client';
import { Presence } from 'switchyard/presence';
import { AllowedHostsOriginValidator } from 'switchyard/middleware';
class Echo extends WebsocketConsumer {
  override async receive(data: string | Uint8Array): Promise<void> { await this.send(data); }
}
export const application = ProtocolTypeRouter({ websocket: AllowedHostsOriginValidator(URLRouter([rePath(/^ws\\/$/, Echo.asApp())])) });
export const used = [serve, RedisChannelLayer, WebsocketCommunicator, ReconnectingWebsocket, Presence];
`;
  // node16 also checks the shipped declaration files themselves (skipLibCheck off).
  const settings = [
    { name: 'node10', module: 'commonjs', ext: 'ts', skipLibCheck: true },
    { name: 'node16', module: 'node16', ext: 'mts', skipLibCheck: false },
    { name: 'bundler', module: 'esnext', ext: 'ts', skipLibCheck: true },
  ];
  const runs = settings.map(({ name, module, ext, skipLibCheck }) => {
    const dir = join(project, `ts-${name}`);
    mkdirSync(dir);
    writeFileSync(join(dir, `usage.${ext}`), usage);
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: {
        module, moduleResolution: name, target: 'es2022', strict: true, noEmit: true, lib: ['es2023', 'dom'],
        types: ['node'], esModuleInterop: true, skipLibCheck, ignoreDeprecations: '5.0',
      },
      files: [`usage.${ext}`],
    }));
    return new Promise<void>((done) => {
      const child = spawn(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')], { cwd: project, env: userEnv() });
      let output = '';
      child.stdout.on('data', (chunk) => { output += chunk; });
      child.on('exit', (code) => { assert.equal(code, 0, `TypeScript (${name}) failed:\n${output}`); done(); });
    });
  });
  await Promise.all(runs);
});

test('npx switchyard serve runs a .js app on the Redis layer, and drains on SIGTERM', async () => {
  writeFileSync(join(project, 'app.js'), `import { ProtocolTypeRouter, URLRouter, WebsocketConsumer, rePath } from 'switchyard';
class Room extends WebsocketConsumer {
  async connect() { await this.channelLayer.groupAdd('room', this.channelName); await this.accept(); }
  async receive(text) { await this.channelLayer.groupSend('room', { type: 'room.message', text }); }
  async room_message(event) { await this.send('via redis: ' + event.text); }
}
export const application = ProtocolTypeRouter({ websocket: URLRouter([rePath(/^ws\\/$/, Room.asApp())]) });
`);
  const port = await freePort();
  const server = runCommand('npx', ['switchyard', 'serve', 'app.js:application', '--port', String(port)], {
    cwd: project, env: userEnv({ CHANNEL_LAYER_URL: `redis://127.0.0.1:6379/0?prefix=${prefix}` }),
  });
  // One question; '' when nothing answers within 3 s (a socket that opens and stays silent must not hang the test).
  const ask = () => new Promise<string>((done) => {
    const socket = new WebSocket(`ws://127.0.0.1:${port}/ws/`);
    const silent = setTimeout(() => { done(''); socket.terminate(); }, 3000);
    socket.on('open', () => socket.send('hello'));
    socket.on('message', (data) => { clearTimeout(silent); done(String(data)); socket.close(); });
    socket.on('error', () => { clearTimeout(silent); setTimeout(() => done(''), 200); });
  });
  try {
    const reply = await eventually(async () => (await ask()) || undefined, 20_000, () => `an answer; the server said:\n${server.output()}`);
    assert.equal(reply, 'via redis: hello', `the app answered through Redis; the server said:\n${server.output()}`);
  } finally {
    server.child.kill('SIGTERM');
  }
  // npm's own exit status is npm's business; the server behind it must drain and stop.
  await server.exited;
  await until(() => server.output().includes('Server stopped'), 5000, 'the server behind npx to drain ("Server stopped")');
  assert.equal(await ask(), '', 'and no longer answers');
});
