/**
 * `serve()`: lifespan startup, an HTTP(S) server with the HTTP and WebSocket
 * bridges, and the graceful close.
 *
 * Shutdown order (SIGTERM/SIGINT with `handleSignals`, or `close()`): stop
 * accepting; refuse handshakes in progress (503) and close every open
 * WebSocket with 1001; ask keep-alive connections to close after their
 * response; wait up to `shutdownTimeout` seconds for the disconnect handlers
 * and in-flight responses; drop what is left; run lifespan shutdown.
 */
import cluster from 'node:cluster';
import { existsSync, lstatSync, readFileSync, unlinkSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Application } from '../asgi.js';
import { closeChannelLayers, getChannelLayer, prepareChannelLayers, setChannelLayer } from '../layers/registry.js';
import { setLogger } from '../log.js';
import type { ServerContext } from './context.js';
import { FallbackTransport } from './fallback.js';
import { resolveFallbackOptions } from './fallback-options.js';
import { HealthEndpoints } from './health.js';
import { handleHttp } from './http.js';
import { Lifespan } from './lifespan.js';
import { createLogger } from './logging.js';
import { writeMethod } from './native-writer.js';
import { ServerMetrics, webSocketCounters } from './metrics.js';
import { resolveOptions, type ServerOptions } from './options.js';
import { WebSocketCounts, registerServer } from './stats.js';
import { stopWithNpmParent } from './parent-watch.js';
import { TrustedProxies } from './scope.js';
import { WebSocketHub } from './websocket-hub.js';

/** A running server. */
export interface Server {
  /** Where it listens: the bound address, or the Unix socket path. */
  readonly address: AddressInfo | string;
  /** `http://host:port` (or `https://`), or `http+unix://<encoded path>`. */
  readonly url: string;
  /** The Node server underneath. */
  readonly httpServer: http.Server;
  readonly logger: Logger;
  /** The Prometheus instruments, when `metricsPath` is set. */
  readonly metrics: ServerMetrics | null;
  /** Open WebSocket connections right now. */
  readonly openConnections: number;
  /** Settles once the server has fully closed. */
  readonly closed: Promise<void>;
  /**
   * Drains and stops (idempotent). `timeout` (seconds) overrides `shutdownTimeout`;
   * `code` and `reason` are what open WebSockets are closed with (default 1001,
   * "going away"; `--reload` uses 1012, "service restart", so clients come back).
   */
  close(options?: { timeout?: number; code?: number; reason?: string }): Promise<void>;
}

function listen(server: http.Server, host: string, port: number, unixSocket: string | null): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    const done = (): void => {
      server.off('error', onError);
      resolve();
    };
    if (unixSocket !== null) {
      // A socket file left by a crashed run would make listen fail with EADDRINUSE.
      if (existsSync(unixSocket) && lstatSync(unixSocket).isSocket()) unlinkSync(unixSocket);
      server.listen(unixSocket, done);
    } else {
      server.listen(port, host, done);
    }
  });
}

/**
 * Serves an ASGI application over HTTP/1.1 and WebSocket.
 *
 * Resolves once lifespan startup succeeded and the socket listens; rejects
 * with `LifespanError` when startup fails, or with the listen error.
 *
 * @example
 * ```ts
 * import type { Application } from 'switchyard';
 * import { serve } from 'switchyard/server';
 *
 * declare const application: Application; // yours, e.g. from './app.js'
 * const server = await serve(application, { port: 8000, handleSignals: true });
 * server.logger.info(`Serving on ${server.url}`);
 * ```
 */
export async function serve(app: Application, options: ServerOptions = {}): Promise<Server> {
  const opts = resolveOptions(options);
  const logger = opts.logger ?? createLogger({ level: opts.logLevel });
  // The library logs (consumers, layers) through the server's logger from now on.
  if (opts.logger === undefined) setLogger(logger);
  await prepareChannelLayers();
  const metrics = opts.metricsPath !== null ? new ServerMetrics() : null;
  if (metrics !== null) {
    // Consumers ask the registry for their layer: the timed wrapper stands in for the default one.
    const layer = getChannelLayer();
    if (layer !== null) setChannelLayer('default', metrics.timeLayer(layer));
  }

  const lifespan = opts.lifespan === 'off' ? null : new Lifespan(app, logger, opts.lifespan);
  await lifespan?.startup();

  const tls = opts.sslKeyfile !== null && opts.sslCertfile !== null;
  const server: http.Server = tls
    ? https.createServer({ key: readFileSync(opts.sslKeyfile!), cert: readFileSync(opts.sslCertfile!) })
    : http.createServer();
  server.keepAliveTimeout = opts.keepAliveTimeout * 1000;

  const ctx: ServerContext = {
    app,
    options: opts,
    logger,
    metrics,
    listen: { tls, server: null, unixSocket: opts.unixSocket !== null },
    trusted: new TrustedProxies(opts.forwardedAllowIps),
    state: lifespan?.supported === true ? lifespan.state : undefined,
    running: new Set(),
    closing: false,
  };
  // The one place that subscribes to what WebSocket connections report: the metrics, or
  // plain counts without them, so the process's figures can be read in-process (stats.ts).
  const counts = metrics === null ? new WebSocketCounts() : null;
  const hub = new WebSocketHub(ctx, metrics !== null ? webSocketCounters(metrics) : counts!);
  const health = new HealthEndpoints({ livenessPath: opts.livenessPath, readinessPath: opts.readinessPath, logger });
  const fallbackOptions = resolveFallbackOptions(opts.fallback, opts.wsMaxSize);
  const fallback = fallbackOptions === null ? null : new FallbackTransport(ctx, hub, fallbackOptions);
  server.on('request', (req, res) => { if (!health.handle(req, res) && fallback?.handle(req, res) !== true) handleHttp(ctx, req, res); });
  server.on('upgrade', (req, socket, head) => hub.handleUpgrade(req, socket, head));

  try {
    await listen(server, opts.host, opts.port, opts.unixSocket);
  } catch (err) {
    hub.stop();
    await lifespan?.shutdown(opts.shutdownTimeout * 1000);
    throw err;
  }
  const address = server.address()!;
  let url: string;
  if (typeof address === 'string') {
    ctx.listen.server = [address, null];
    url = `http+unix://${encodeURIComponent(address)}`;
  } else {
    ctx.listen.server = [address.address, address.port];
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    url = `${tls ? 'https' : 'http'}://${host}:${address.port}`;
  }

  // How a turn's frames reach the kernel (see native-writer.ts): said once, for whoever compares machines.
  logger.info({ url, writes: writeMethod() }, `Listening on ${url}`);
  const unregister = registerServer(metrics ?? counts!);
  await health.start();

  let closing: Promise<void> | null = null;
  let markClosed!: () => void;
  const closed = new Promise<void>((resolve) => { markClosed = resolve; });

  async function drain(timeoutSeconds: number, code = 1001, reason = 'Server shutting down'): Promise<void> {
    ctx.closing = true;
    health.drain();
    logger.info({ connections: hub.openCount, running: ctx.running.size }, 'Shutting down: draining connections');
    const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
    hub.closeAll(code, reason);
    server.closeIdleConnections();
    const deadline = performance.now() + timeoutSeconds * 1000;
    while (ctx.running.size > 0 && performance.now() < deadline) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([...ctx.running]),
        new Promise<void>((resolve) => { timer = setTimeout(resolve, Math.max(0, deadline - performance.now())); }),
      ]);
      clearTimeout(timer);
    }
    if (ctx.running.size > 0) {
      logger.warn({ running: ctx.running.size }, `${ctx.running.size} application instance(s) took too long to shut down and were abandoned`);
    }
    hub.terminateAll();
    server.closeAllConnections();
    hub.stop();
    fallback?.stop();
    health.stop();
    await stopped;
    await lifespan?.shutdown(Math.max(1000, timeoutSeconds * 1000));
    logger.info('Server stopped');
  }

  const onSignal = (signal: NodeJS.Signals): void => {
    if (closing !== null) {
      // A cluster worker gets Ctrl-C from the terminal and SIGTERM from its primary: one shutdown.
      if (cluster.isWorker) return;
      logger.warn(`${signal} again: exiting now`);
      process.exit(1);
    }
    logger.info(`${signal} received`);
    void result.close().then(() => closeChannelLayers()).then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'Shutdown failed');
        process.exit(1);
      },
    );
  };
  if (opts.handleSignals) {
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    stopWithNpmParent();
  }

  const result: Server = {
    address,
    url,
    httpServer: server,
    logger,
    metrics,
    get openConnections() { return hub.openCount; },
    closed,
    close(closeOptions = {}) {
      closing ??= drain(closeOptions.timeout ?? opts.shutdownTimeout, closeOptions.code, closeOptions.reason).finally(() => {
        unregister();
        if (opts.handleSignals) {
          process.off('SIGTERM', onSignal);
          process.off('SIGINT', onSignal);
        }
        markClosed();
      });
      return closing;
    },
  };
  return result;
}
