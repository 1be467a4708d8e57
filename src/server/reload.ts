/**
 * `switchyard serve --reload`: restart the app when its sources change,
 * keeping the port (Uvicorn's `--reload`, for development).
 *
 * How it works. The command becomes a `node:cluster` primary with one
 * worker, so the primary holds the listening socket and the port never
 * closes. On a change (see `watch.ts`) it logs which files changed and forks
 * a new worker, a fresh process that imports the app anew; once the new one
 * listens, the old one is told to drain: its WebSockets close with 1012
 * ("service restart"), which a reconnecting client treats as "come back
 * now", and it exits. A new version that fails to start is logged and
 * stopped; the old one keeps serving until the next change. Changes made
 * while a new version starts are gathered into one more restart.
 * SIGTERM/SIGINT stop everything as without `--reload`.
 */
import cluster, { type Worker } from 'node:cluster';
import { relative } from 'node:path';
import type { Logger } from 'pino';
import { closeChannelLayers } from '../layers/registry.js';
import type { WorkerMessage } from './cluster.js';
import { processFields } from './logging.js';
import { stopWithNpmParent } from './parent-watch.js';
import type { Server } from './server.js';
import { watchSources } from './watch.js';

/** The close code of WebSockets ended by a reload: 1012, "service restart". */
export const RELOAD_CLOSE_CODE = 1012;

/** The environment variable that marks a worker of the reloader. */
const RELOAD_WORKER_ENV = 'SWITCHYARD_RELOAD_WORKER';

/** Options of {@link runReloader}. */
export interface ReloadOptions {
  /** Directories whose source files are watched. */
  roots: readonly string[];
  logger: Logger;
  /** Seconds a stopping worker gets to drain before it is killed. */
  shutdownTimeout: number;
}

/** Whether this process is the worker of a reloader. */
export function isReloadWorker(): boolean {
  return cluster.isWorker && process.env[RELOAD_WORKER_ENV] === '1';
}

/**
 * In a reloader's worker: drain with close code 1012 and exit when the
 * reloader says a new version is listening.
 */
export function followReloader(server: Server): void {
  process.on('message', (message: { switchyard?: string } | null) => {
    if (message?.switchyard !== 'restart') return;
    void server.close({ code: RELOAD_CLOSE_CODE, reason: 'Service restart' })
      .then(() => closeChannelLayers())
      .finally(() => process.exit(0));
  });
}

/** Changed files, as the log shows them: relative to the current directory. */
function describe(files: readonly string[]): string {
  const names = files.map((file) => relative(process.cwd(), file) || file);
  return names.length <= 3 ? names.join(', ') : `${names.slice(0, 3).join(', ')} and ${names.length - 3} more`;
}

/**
 * Runs the reloader (the primary of `serve --reload`) until SIGTERM/SIGINT;
 * resolves with the exit code.
 */
export function runReloader(options: ReloadOptions): Promise<number> {
  const logger = options.logger.child(processFields('primary'));
  return new Promise((resolveExit) => {
    const live = new Set<Worker>();
    let current: Worker | null = null;
    let starting: Worker | null = null;
    let pending: string[] = [];
    let stopping = false;

    const start = (): void => {
      const worker = cluster.fork({ [RELOAD_WORKER_ENV]: '1', SWITCHYARD_CLUSTER_WORKERS: '1' });
      live.add(worker);
      starting = worker;
      worker.on('message', (message: WorkerMessage) => {
        if (message?.switchyard === 'refuse') logger.error(message.message);
        if (message?.switchyard !== 'listening' || worker !== starting) return;
        const previous = current;
        current = worker;
        starting = null;
        // New first, then the old one drains: the socket always has a listener.
        previous?.send({ switchyard: 'restart' });
        if (pending.length > 0) reload([]);
      });
      worker.on('exit', (code, signal) => {
        live.delete(worker);
        if (stopping) {
          if (live.size === 0) resolveExit(0);
          return;
        }
        if (worker === starting) {
          starting = null;
          logger.error({ code, signal }, current !== null
            ? 'The changed app failed to start: the previous version keeps serving; waiting for the next change'
            : 'The app failed to start: waiting for a change');
          if (pending.length > 0) reload([]);
        } else if (worker === current) {
          current = null;
          logger.error({ code, signal }, 'The app exited: waiting for a change to start it again');
        }
      });
    };

    const reload = (files: string[]): void => {
      if (stopping) return;
      pending.push(...files);
      if (starting !== null) return; // gathered into one more restart once this one is up
      const changed = [...new Set(pending)];
      pending = [];
      logger.info({ files: changed.map((file) => relative(process.cwd(), file)) }, `Reloading: ${describe(changed)} changed`);
      start();
    };

    const watcher = watchSources({ roots: options.roots, onChange: reload });
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) return;
      stopping = true;
      watcher.close();
      logger.info(`${signal} received: stopping`);
      for (const worker of live) worker.process.kill('SIGTERM');
      const killer = setTimeout(() => {
        for (const worker of live) worker.process.kill('SIGKILL');
      }, (options.shutdownTimeout + 5) * 1000);
      killer.unref();
      if (live.size === 0) resolveExit(0);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    stopWithNpmParent(); // a primary started by npm stops with npm, as a lone server does
    logger.info({ roots: options.roots }, `Reloading on changes under ${options.roots.join(', ')}`);
    start();
  });
}
