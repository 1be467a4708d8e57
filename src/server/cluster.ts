/**
 * `--workers N`: N processes share one listening socket through `node:cluster`.
 *
 * How it works. The primary forks N copies of the same command line; each
 * worker is a complete server (its own lifespan, its own connections) and
 * reports `listening` or `refuse` over IPC. The primary logs the URL once all
 * are up, restarts a worker that dies after startup, and on SIGTERM/SIGINT
 * forwards SIGTERM and waits (bounded) for every worker to drain. It also
 * answers workers' metrics scrapes with the sum over all workers. A worker
 * that fails during startup stops the whole group with a non-zero exit, so a
 * broken app never restarts in a loop.
 *
 * With N > 1 the in-memory channel layer is refused (unless forced): each
 * process would have its own groups, so a `groupSend` in one worker would
 * never reach sockets held by another.
 */
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { getChannelLayer } from '../layers/registry.js';
import { InMemoryChannelLayer } from '../layers/memory.js';
import { processFields } from './logging.js';
import { answerMetricsRequest } from './metrics.js';
import { stopWithNpmParent } from './parent-watch.js';

/** IPC messages from a worker to the primary. */
export type WorkerMessage =
  | { switchyard: 'listening'; url: string }
  | { switchyard: 'refuse'; message: string };

/** Exit code of a process whose startup failed. */
export const STARTUP_FAILURE_EXIT = 3;

/** Why N > 1 with the in-memory layer is refused; `null` when it is fine. */
export function memoryLayerProblem(workers: number, force: boolean): string | null {
  if (workers <= 1 || force) return null;
  const layer = getChannelLayer();
  if (!(layer instanceof InMemoryChannelLayer)) return null;
  return `Refusing to start ${workers} workers with the in-memory channel layer: each worker process would keep its own `
    + 'channels and groups, so a groupSend() in one worker would never reach the sockets of another. '
    + 'Use a shared layer (CHANNEL_LAYER_URL=redis://...), run one worker, or pass --force-workers if the app does not use groups.';
}

/** Tells the primary something (no-op outside a cluster worker); resolves once the message is sent. */
export function tellPrimary(message: WorkerMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!cluster.isWorker || process.send === undefined) return resolve();
    process.send(message, undefined, undefined, () => resolve());
  });
}

/**
 * Runs the primary: forks `workers` processes and supervises them until a
 * signal or a startup failure. Resolves with the exit code.
 */
export function runPrimary(workers: number, parentLogger: Logger, shutdownTimeout: number): Promise<number> {
  // The primary's own lines say so, as each worker's name their worker (see logging.ts).
  const logger = parentLogger.child(processFields('primary'));
  return new Promise((resolveExit) => {
    let stopping = false;
    let ready = 0;
    let exitCode = 0;
    const live = new Set<Worker>();
    const started = new WeakSet<Worker>();
    const refusals = new Set<string>();

    const finish = (): void => {
      if (live.size === 0) resolveExit(exitCode);
    };
    const stopAll = (code: number): void => {
      if (stopping) return;
      stopping = true;
      exitCode = code;
      for (const worker of live) worker.process.kill('SIGTERM');
      const killer = setTimeout(() => {
        for (const worker of live) worker.process.kill('SIGKILL');
      }, (shutdownTimeout + 5) * 1000);
      killer.unref();
      finish();
    };

    const fork = (): void => {
      const worker = cluster.fork({ SWITCHYARD_CLUSTER_WORKERS: String(workers) });
      live.add(worker);
      worker.on('message', (message: WorkerMessage) => {
        if (answerMetricsRequest(worker, message)) return;
        if (message?.switchyard === 'listening') {
          started.add(worker);
          ready++;
          if (ready === workers) logger.info({ url: message.url, workers }, `Listening on ${message.url} with ${workers} workers`);
        } else if (message?.switchyard === 'refuse') {
          // Workers sharing a configuration refuse it together: say each reason once.
          if (!refusals.has(message.message)) logger.error(message.message);
          refusals.add(message.message);
          stopAll(1);
        }
      });
      worker.on('exit', (code, signal) => {
        live.delete(worker);
        if (stopping) return finish();
        if (!started.has(worker)) {
          logger.error({ pid: worker.process.pid, code, signal }, 'A worker failed during startup: stopping');
          return stopAll(code === 0 || code === null ? STARTUP_FAILURE_EXIT : code);
        }
        logger.warn({ pid: worker.process.pid, code, signal }, 'A worker died: starting a new one');
        ready--;
        fork();
      });
    };

    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) return;
      logger.info(`${signal} received: stopping ${live.size} workers`);
      stopAll(0);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    stopWithNpmParent(); // a primary started by npm stops with npm, as a lone server does
    for (let i = 0; i < workers; i++) fork();
  });
}
