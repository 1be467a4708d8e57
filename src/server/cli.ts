/**
 * The `switchyard` command.
 *
 *   switchyard serve MODULE[:EXPORT] [options]      serve an app (Daphne/Uvicorn)
 *   switchyard serve app.ts --reload                restart on source changes (development)
 *   switchyard runworker MODULE[:EXPORT] CHANNEL... serve channels with a worker app
 *   switchyard --version
 *
 * Every `serve` option but `--force-workers` can also come from a
 * `SWITCHYARD_*` environment variable (shown in `--help`); a flag wins over
 * the variable. Startup fails fast, before listening, with one log line and
 * exit code 1 on a configuration error (a bad `CHANNEL_LAYER_URL`, an app
 * that cannot be loaded, `.ts` without tsx); a Redis that does not answer is
 * only a warning, and `/readyz` says 503 until it does.
 */
import cluster from 'node:cluster';
import { readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';
import { closeChannelLayers, getChannelLayer, prepareChannelLayers } from '../layers/registry.js';
import { InMemoryChannelLayer } from '../layers/memory.js';
import { setLogger } from '../log.js';
import { runWorker } from '../worker.js';
import { memoryLayerProblem, runPrimary, STARTUP_FAILURE_EXIT, tellPrimary } from './cluster.js';
import { loadApplication } from './load.js';
import { followReloader, isReloadWorker, runReloader } from './reload.js';
import { createLogger, type Logger } from './logging.js';
import { DEFAULT_OPTIONS, type ServerOptions } from './options.js';
import { serve } from './server.js';

function number(kind: 'int' | 'float') {
  return (value: string): number => {
    const parsed = kind === 'int' ? Number.parseInt(value, 10) : Number.parseFloat(value);
    if (!Number.isFinite(parsed) || parsed < 0 || (kind === 'int' && String(parsed) !== value.trim())) {
      throw new InvalidArgumentError(`expected a non-negative ${kind === 'int' ? 'integer' : 'number'}`);
    }
    return parsed;
  };
}

const list = (value: string): string[] => value.split(',').map((v) => v.trim()).filter((v) => v !== '');

interface ServeFlags {
  host: string; port: number; unixSocket?: string; workers: number; forceWorkers?: boolean; rootPath: string;
  proxyHeaders?: boolean; forwardedAllowIps: string[]; wsMaxSize: number; wsPingInterval: number; wsPingTimeout: number;
  wsPerMessageDeflate?: boolean; wsMaxSendBuffer: number; wsSendHighWaterMark: number; wsConnectTimeout: number; wsCloseTimeout: number; keepAliveTimeout: number; accessLog: boolean; logLevel: string; sslKeyfile?: string;
  sslCertfile?: string; shutdownTimeout: number; metricsPath?: string; livenessPath: string; readinessPath: string;
  lifespan: 'auto' | 'on' | 'off'; reload?: boolean; reloadDir: string[]; fallback?: boolean;
}

/** A health endpoint's path; `off` turns it off (as `''`: commander keeps no null). */
function endpointPath(value: string): string {
  if (value === 'off' || value === '') return '';
  if (!value.startsWith('/')) throw new InvalidArgumentError('expected a path starting with "/", or off');
  return value;
}

function fail(logger: Logger, err: unknown, exitCode: number): never {
  const message = err instanceof Error ? err.message : String(err);
  const code = (err as { code?: unknown } | null)?.code;
  // Our own errors explain themselves: no stack, but the cause's (the app's) when there is one.
  if (typeof code === 'string' && code.startsWith('SY_')) logger.error({ code, cause: (err as Error).cause }, message);
  else logger.error({ err }, message);
  process.exit(exitCode);
}

async function serveCommand(target: string, flags: ServeFlags): Promise<void> {
  const logger = createLogger({ level: flags.logLevel });
  setLogger(logger);
  if (flags.reload === true && cluster.isPrimary) {
    if (flags.workers > 1) {
      logger.error('--reload runs the app in one process and restarts it when a file changes; it cannot be combined with --workers (use one or the other)');
      process.exit(1);
    }
    const roots = flags.reloadDir.length > 0 ? flags.reloadDir : [process.cwd()];
    // A directory that is not there would be watched silently for nothing: say so and stop.
    const missing = roots.find((root) => !statSync(root, { throwIfNoEntry: false })?.isDirectory());
    if (missing !== undefined) {
      logger.error(`--reload-dir ${missing}: no such directory to watch`);
      process.exit(1);
    }
    process.exit(await runReloader({ roots, logger, shutdownTimeout: flags.shutdownTimeout }));
  }
  if (flags.workers > 1 && cluster.isPrimary) {
    process.exit(await runPrimary(flags.workers, logger, flags.shutdownTimeout));
  }
  let app;
  try {
    app = await loadApplication(target);
    await prepareChannelLayers();
  } catch (err) {
    const code = (err as { code?: unknown } | null)?.code;
    if (cluster.isWorker && !isReloadWorker() && code === 'SY_IMPROPERLY_CONFIGURED') {
      // Every worker would say the same: the primary says it once and stops them all.
      await tellPrimary({ switchyard: 'refuse', message: (err as Error).message });
      process.exit(1);
    }
    fail(logger, err, 1);
  }
  const total = Number(process.env.SWITCHYARD_CLUSTER_WORKERS ?? flags.workers);
  const problem = memoryLayerProblem(total, flags.forceWorkers === true);
  if (problem !== null) {
    await tellPrimary({ switchyard: 'refuse', message: problem }); // before exiting, or the message may be lost
    if (!cluster.isWorker) logger.error(problem);
    process.exit(1);
  }
  const options: ServerOptions = {
    host: flags.host,
    port: flags.port,
    unixSocket: flags.unixSocket ?? null,
    rootPath: flags.rootPath,
    proxyHeaders: flags.proxyHeaders === true,
    fallback: flags.fallback === true,
    forwardedAllowIps: flags.forwardedAllowIps,
    wsMaxSize: flags.wsMaxSize,
    wsPingInterval: flags.wsPingInterval,
    wsPingTimeout: flags.wsPingTimeout,
    wsPerMessageDeflate: flags.wsPerMessageDeflate === true,
    wsMaxSendBuffer: flags.wsMaxSendBuffer,
    wsSendHighWaterMark: flags.wsSendHighWaterMark,
    wsConnectTimeout: flags.wsConnectTimeout,
    wsCloseTimeout: flags.wsCloseTimeout,
    keepAliveTimeout: flags.keepAliveTimeout,
    accessLog: flags.accessLog,
    logger,
    sslKeyfile: flags.sslKeyfile ?? null,
    sslCertfile: flags.sslCertfile ?? null,
    shutdownTimeout: flags.shutdownTimeout,
    metricsPath: flags.metricsPath ?? null,
    livenessPath: flags.livenessPath || null,
    readinessPath: flags.readinessPath || null,
    lifespan: flags.lifespan,
    handleSignals: true,
  };
  try {
    const server = await serve(app, options);
    if (isReloadWorker()) followReloader(server);
    await tellPrimary({ switchyard: 'listening', url: server.url });
  } catch (err) {
    const code = (err as { code?: string }).code;
    fail(logger, err, code === 'SY_LIFESPAN_FAILED' ? STARTUP_FAILURE_EXIT : 1);
  }
}

async function runworkerCommand(target: string, channels: string[], flags: { layer: string; logLevel: string }): Promise<void> {
  const logger = createLogger({ level: flags.logLevel });
  setLogger(logger);
  const controller = new AbortController();
  let app;
  try {
    app = await loadApplication(target);
    await prepareChannelLayers();
    if (getChannelLayer(flags.layer) instanceof InMemoryChannelLayer) {
      logger.warn(`runworker on the in-memory channel layer: only this process can send to ${channels.join(', ')}; share a layer with the senders (CHANNEL_LAYER_URL=redis://...)`);
    }
  } catch (err) {
    fail(logger, err, 1);
  }
  const stop = (signal: NodeJS.Signals): void => {
    logger.info(`${signal} received: stopping the worker`);
    controller.abort();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  try {
    await runWorker(app, channels, { layerAlias: flags.layer, signal: controller.signal });
  } catch (err) {
    if (!controller.signal.aborted) fail(logger, err, 1);
  }
  await closeChannelLayers();
  process.exit(0);
}

/** This package's version, from its own package.json (found by the package's name, from src/ or dist/ alike). */
function packageVersion(): string {
  const manifest = fileURLToPath(import.meta.resolve('switchyard/package.json'));
  return (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
}

/** Builds the command (exported for tests and for embedding). */
export function buildProgram(): Command {
  const d = DEFAULT_OPTIONS;
  const program = new Command('switchyard')
    .description('Serve Switchyard (ASGI) applications over HTTP/1.1 and WebSocket, and run channel workers.')
    .version(packageVersion(), '-V, --version', 'print the version of switchyard')
    .showHelpAfterError();

  program.command('serve')
    .description('Serve an application. MODULE is a .ts/.js file or package; EXPORT defaults to "application".')
    .argument('<MODULE[:EXPORT]>', 'the application, e.g. examples/chat/app.ts:application')
    .addOption(new Option('--host <host>', 'interface to bind').env('SWITCHYARD_HOST').default(d.host))
    .addOption(new Option('--port <port>', 'TCP port (0 picks a free one)').env('SWITCHYARD_PORT').default(d.port).argParser(number('int')))
    .addOption(new Option('--unix-socket <path>', 'listen on a Unix socket instead of host:port').env('SWITCHYARD_UNIX_SOCKET'))
    .addOption(new Option('--workers <n>', 'processes sharing the socket (node:cluster)').env('SWITCHYARD_WORKERS').default(1).argParser(number('int')))
    .addOption(new Option('--force-workers', 'allow --workers > 1 with the in-memory channel layer (groups will not span processes)'))
    .addOption(new Option('--root-path <path>', 'scope.root_path: the prefix the app is mounted under').env('SWITCHYARD_ROOT_PATH').default(d.rootPath))
    .addOption(new Option('--fallback', 'serve the HTTP fallback (event streams or long polls down, POSTs up) on WebSocket routes (the variable enables it when set)').env('SWITCHYARD_FALLBACK'))
    .addOption(new Option('--proxy-headers', 'trust X-Forwarded-For/-Proto from --forwarded-allow-ips (the variable enables it when set)').env('SWITCHYARD_PROXY_HEADERS'))
    .addOption(new Option('--forwarded-allow-ips <list>', 'comma-separated addresses/CIDR blocks trusted for proxy headers, or *')
      .env('SWITCHYARD_FORWARDED_ALLOW_IPS').default(d.forwardedAllowIps, d.forwardedAllowIps.join(',')).argParser(list))
    .addOption(new Option('--ws-max-size <bytes>', 'largest incoming WebSocket message (bigger closes with 1009)').env('SWITCHYARD_WS_MAX_SIZE').default(d.wsMaxSize).argParser(number('int')))
    .addOption(new Option('--ws-ping-interval <seconds>', 'ping silent WebSocket peers this often (0: off)').env('SWITCHYARD_WS_PING_INTERVAL').default(d.wsPingInterval).argParser(number('float')))
    .addOption(new Option('--ws-ping-timeout <seconds>', 'drop a peer that does not answer a ping in time (disconnect 1006)').env('SWITCHYARD_WS_PING_TIMEOUT').default(d.wsPingTimeout).argParser(number('float')))
    .addOption(new Option('--ws-per-message-deflate', 'negotiate permessage-deflate compression (the variable enables it when set)').env('SWITCHYARD_WS_PER_MESSAGE_DEFLATE'))
    .addOption(new Option('--ws-max-send-buffer <bytes>', 'outgoing bytes queued for a peer that does not read before closing it with 1008').env('SWITCHYARD_WS_MAX_SEND_BUFFER').default(d.wsMaxSendBuffer).argParser(number('int')))
    .addOption(new Option('--ws-send-high-water-mark <bytes>', "outgoing bytes queued for a peer above which the app's sends wait for it to drain").env('SWITCHYARD_WS_SEND_HIGH_WATER_MARK').default(d.wsSendHighWaterMark).argParser(number('int')))
    .addOption(new Option('--ws-connect-timeout <seconds>', 'refuse (403) a handshake the app has not answered in time (0: never)').env('SWITCHYARD_WS_CONNECT_TIMEOUT').default(d.wsConnectTimeout).argParser(number('float')))
    .addOption(new Option('--ws-close-timeout <seconds>', 'wait this long for the peer\'s close frame before dropping the connection').env('SWITCHYARD_WS_CLOSE_TIMEOUT').default(d.wsCloseTimeout).argParser(number('float')))
    .addOption(new Option('--keep-alive-timeout <seconds>', 'close idle keep-alive HTTP connections after this long').env('SWITCHYARD_KEEP_ALIVE_TIMEOUT').default(d.keepAliveTimeout).argParser(number('float')))
    .addOption(new Option('--access-log', 'log one line per HTTP request and per WebSocket connection').default(true))
    .addOption(new Option('--no-access-log', 'no access log lines').env('SWITCHYARD_NO_ACCESS_LOG'))
    .addOption(new Option('--log-level <level>', 'trace, debug, info, warn, error, fatal or silent').env('SWITCHYARD_LOG_LEVEL').default(d.logLevel)
      .choices(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']))
    .addOption(new Option('--ssl-keyfile <file>', 'PEM private key: serve https:// and wss://').env('SWITCHYARD_SSL_KEYFILE'))
    .addOption(new Option('--ssl-certfile <file>', 'PEM certificate chain, with --ssl-keyfile').env('SWITCHYARD_SSL_CERTFILE'))
    .addOption(new Option('--shutdown-timeout <seconds>', 'on SIGTERM/SIGINT, wait this long for disconnect handlers and in-flight responses').env('SWITCHYARD_SHUTDOWN_TIMEOUT').default(d.shutdownTimeout).argParser(number('float')))
    .addOption(new Option('--metrics-path <path>', 'serve Prometheus metrics at this path (off unless given)').env('SWITCHYARD_METRICS_PATH'))
    .addOption(new Option('--liveness-path <path>', 'liveness endpoint: 200 while the process answers; answered before the app (off: none)')
      .env('SWITCHYARD_LIVENESS_PATH').default(d.livenessPath).argParser(endpointPath))
    .addOption(new Option('--readiness-path <path>', 'readiness endpoint: 503 until the channel layer answers and while draining, then 200; '
      + 'answered before the app, so an app with its own route there sets another path or off').env('SWITCHYARD_READINESS_PATH').default(d.readinessPath).argParser(endpointPath))
    .addOption(new Option('--reload', 'development: restart the app when a source file (.ts, .js, .json...) under --reload-dir changes, '
      + 'keeping the port; open WebSockets close with 1012 (service restart) so clients reconnect. Not with --workers (the variable enables it when set)')
      .env('SWITCHYARD_RELOAD'))
    .addOption(new Option('--reload-dir <dir>', 'a directory --reload watches, recursively, skipping node_modules, dist, build and dot-directories (repeatable)')
      .env('SWITCHYARD_RELOAD_DIR').default([], 'the current directory').argParser((dir: string, dirs: string[]) => [...dirs, dir]))
    .addOption(new Option('--lifespan <mode>', 'lifespan events: auto, on or off').env('SWITCHYARD_LIFESPAN').default(d.lifespan).choices(['auto', 'on', 'off']))
    .action((target: string, flags: ServeFlags) => serveCommand(target, flags));

  program.command('runworker')
    .description('Receive on the named channels and hand each message to the app (a ChannelNameRouter), as Django\'s runworker.')
    .argument('<MODULE[:EXPORT]>', 'the worker application')
    .argument('<CHANNEL...>', 'channel names to serve')
    .addOption(new Option('--layer <alias>', 'channel layer alias').default('default'))
    .addOption(new Option('--log-level <level>', 'pino level').env('SWITCHYARD_LOG_LEVEL').default(d.logLevel))
    .action((target: string, channels: string[], flags: { layer: string; logLevel: string }) => runworkerCommand(target, channels, flags));

  return program;
}

await buildProgram().parseAsync(process.argv);
