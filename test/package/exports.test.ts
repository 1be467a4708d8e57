// What `import 'switchyard'` gives and what it costs.
//
// The root entry is what a user needs (the ASGI types, consumers, routers, the
// layer interface with the in-memory layer and its registry, runOnce and
// leases, the core errors, runWorker, the logger): its names are pinned here,
// so that adding or removing one is a deliberate edit of this list. Middleware
// is `switchyard/middleware`'s alone. And importing the root loads no driver:
// not ioredis (a service on the in-memory layer need not connect to, or even
// install, Redis), pg, node-sqlite3-wasm, prom-client, ws or msgpackr.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { publicExports } from '../docs/exports.js';

const root = resolve(import.meta.dirname, '../..');
const exports = publicExports(root);
const namesOf = (module: string) =>
  exports.filter((e) => e.module === module).map((e) => (e.isValue ? e.name : `type ${e.name}`)).sort();

/** The root's public names: values bare, types-only as `type X`. Edit on purpose, in the same commit as src/index.ts. */
const ROOT = [
  'AcceptConnection', 'AsyncConsumer', 'GroupBatchingLayer', 'type BatchingOptions', 'type GroupBatchingConfig', 'type GroupBatchingLayerOptions', 'ChannelAlreadyTapped', 'ChannelFull', 'ChannelNameRouter', 'DelegatingLayer', 'DeliveryIncompleteError', 'DenyConnection', 'EXCEPT_KEY',
  'HttpConsumer', 'ImproperlyConfigured', 'InMemoryChannelLayer', 'InvalidChannelLayerError', 'InvalidMessageError',
  'InvalidNameError', 'JsonWebsocketConsumer', 'LayerUnavailableError', 'LeadershipLost', 'LocalLeases',
  'MAX_NAME_LENGTH', 'MessageTooLarge', 'NoHandlerError', 'PATH_ROUTING', 'POSITION_KEY', 'ProtocolError', 'ProtocolTypeRouter',
  'RouteNotFound', 'SLOW_CONSUMER_CLOSE_CODE', 'SessionUpdateError', 'StopConsumer', 'SuspiciousOperation', 'SwitchyardError', 'TooManyGroups',
  'TypedJsonConsumer', 'RequestError', 'URLRouter', 'WebsocketConsumer', 'defineProtocol', 'groupSender',
  'buildChannelLayer', 'closeChannelLayers', 'configureChannelLayers', 'getChannelLayer', 'getHeader', 'handlerName',
  'inheritPathRouting', 'isLeasable', 'logger', 'path', 'prepareChannelLayers', 'rePath', 'registerConverter',
  'registerLayerBackend', 'requireValidChannelName', 'requireValidGroupName', 'requireValidLease',
  'requireValidMessage', 'resetChannelLayers', 'runOnce', 'runWorker', 'scopeWith', 'setChannelLayer', 'setLogger',
  'toHeaders', 'utf8',
  'type Address', 'type Application', 'type BaseLayerOptions', 'type ChannelLayer', 'type ChannelScope', 'type ChannelTap',
  'type ConnectionScopeBase', 'type ConsumerApplication', 'type ConsumerClass', 'type ConsumerEvent',
  'type GroupHistoryConfig', 'type GroupSendOptions', 'type Header', 'type HistoryOptions', 'type HistoryRead', 'type MessagePosition',
  'type HeadersInit', 'type HttpDisconnectEvent', 'type HttpRequestEvent', 'type HttpResponseBodyEvent',
  'type HttpResponseStartEvent', 'type HttpResponseTrailersEvent', 'type HttpScope', 'type InMemoryChannelLayerOptions',
  'type InitKwargs', 'type ErrorFrame', 'type EventOf', 'type GroupEvent', 'type ProtocolSpec', 'type ReceivedMessage', 'type RequestHandlers', 'type InvalidFrameProblem', 'type LayerConfig', 'type LayerExtension', 'type LayerFactory',
  'type LayerMessage', 'type Leader', 'type LeasableLayer', 'type Lease', 'type LifespanScope',
  'type LifespanShutdownCompleteEvent', 'type LifespanShutdownEvent', 'type LifespanShutdownFailedEvent',
  'type LifespanStartupCompleteEvent', 'type LifespanStartupEvent', 'type LifespanStartupFailedEvent',
  'type PathConverter', 'type Receive', 'type ReceiveEvent', 'type Render', 'type Renders', 'type Route',
  'type RouteOptions', 'type RunOnceLogger', 'type RunOnceOptions', 'type Scope', 'type Send', 'type SendBodyOptions',
  'type SendEvent', 'type SlowConsumer', 'type SlowConsumerConfig', 'type SlowConsumerPolicy', 'type StreamPosition', 'type TapListener', 'type TappableLayer', 'type URLRoute', 'type WebSocketAcceptEvent', 'type WebSocketCloseEvent',
  'type WebSocketConnectEvent', 'type WebSocketDisconnectEvent', 'type WebSocketHttpResponseBodyEvent',
  'type WebSocketHttpResponseStartEvent', 'type WebSocketReceiveEvent', 'type WebSocketScope', 'type WebSocketSendEvent',
  'type WebsocketAcceptEvent', 'type WebsocketCloseEvent', 'type WebsocketConnectEvent', 'type WebsocketDisconnectEvent',
  'type WebsocketHttpResponseBodyEvent', 'type WebsocketHttpResponseStartEvent', 'type WebsocketReceiveEvent',
  'type WebsocketScope', 'type WebsocketSendEvent', 'type WorkerOptions',
].sort();

test('the root exports exactly the pinned list of names', () => {
  const actual = namesOf('switchyard');
  const added = actual.filter((n) => !ROOT.includes(n));
  const removed = ROOT.filter((n) => !actual.includes(n));
  assert.deepEqual({ added, removed }, { added: [], removed: [] }, 'the root export list changed: update ROOT if that is deliberate');
});

test('middleware lives on switchyard/middleware only', () => {
  const middleware = namesOf('switchyard/middleware');
  assert.ok(middleware.includes('AuthMiddlewareStack') && middleware.includes('type UserLoader'), 'the middleware names are read');
  assert.deepEqual(namesOf('switchyard').filter((n) => middleware.includes(n)), []);
});

/**
 * The packages a fresh Node process has loaded after importing `specifier`:
 * from the ESM resolutions (record-resolutions.mjs) and from `require.cache`
 * (CommonJS packages and what they require), by package name.
 */
function packagesLoadedBy(specifier: string): Set<string> {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-exports-'));
  try {
    const resolutions = join(dir, 'resolutions.txt');
    writeFileSync(resolutions, '');
    const probe = [
      "import { createRequire } from 'node:module';",
      `await import(${JSON.stringify(specifier)});`,
      'console.log(JSON.stringify(Object.keys(createRequire(import.meta.url).cache)));',
    ].join('\n');
    const child = spawnSync(
      process.execPath,
      ['--conditions=switchyard-source', '--import', 'tsx', '--import', join(import.meta.dirname, 'record-resolutions.mjs'), '--input-type=module', '-e', probe],
      { cwd: root, encoding: 'utf8', env: { ...process.env, SWITCHYARD_RESOLUTIONS: resolutions }, timeout: 60_000 },
    );
    assert.equal(child.status, 0, `importing ${specifier} failed:\n${child.stderr}`);
    const paths = [...(JSON.parse(child.stdout) as string[]), ...readFileSync(resolutions, 'utf8').split('\n')];
    const packages = new Set<string>();
    for (const path of paths) {
      // The last node_modules segment names the package (a dependency's own dependency included).
      const match = /.*node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(decodeURIComponent(path));
      if (match) packages.add(match[1]!);
    }
    assert.ok(paths.some((p) => p.includes(`${root}/src/`)), `the probe resolved no switchyard sources for ${specifier}`);
    return packages;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const HEAVY = ['ioredis', 'pg', 'node-sqlite3-wasm', 'prom-client', 'ws', 'msgpackr', 'jose', 'commander'];

test("import 'switchyard' loads no driver: not ioredis, pg, node-sqlite3-wasm, prom-client, ws, msgpackr", () => {
  const loaded = packagesLoadedBy('switchyard');
  assert.equal(loaded.has('ioredis'), false, 'ioredis is loaded by the root entry');
  assert.deepEqual(HEAVY.filter((name) => loaded.has(name)), []);
});

test('the probe sees a driver when one is loaded: switchyard/redis loads ioredis, switchyard/server prom-client', () => {
  assert.ok(packagesLoadedBy('switchyard/redis').has('ioredis'));
  assert.ok(packagesLoadedBy('switchyard/server').has('prom-client'));
});
