/**
 * The server's logger: pino, JSON lines in production, human-readable
 * (pino-pretty, in-process, no worker thread) when stdout is a terminal.
 *
 * In a cluster worker (`--workers N`, `--reload`) every line carries the
 * process's `pid` and its cluster `worker` id, so interleaved lines of N
 * processes can be told apart; the primary labels its own with
 * {@link processFields}.
 */
import cluster from 'node:cluster';
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger } from 'pino';

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** pino level. Default `info`. */
  level?: string;
  /** Pretty-print. Default: when stdout is a TTY and `NODE_ENV` is not `production`. */
  pretty?: boolean;
}

/**
 * The fields naming this process on each line: `{ pid, worker }` in a
 * cluster worker (its id) or a cluster primary (`"primary"`), nothing in a
 * lone process.
 *
 * @example
 * ```ts
 * import { createLogger } from 'switchyard/server';
 * import { processFields } from './logging.js';
 *
 * const logger = createLogger();
 * const primaryLogger = logger.child(processFields('primary')); // {"pid":4242,"worker":"primary",...}
 * ```
 */
export function processFields(role: 'auto' | 'primary' = 'auto'): { pid?: number; worker?: number | 'primary' } {
  if (role === 'primary') return { pid: process.pid, worker: 'primary' };
  if (cluster.isWorker && cluster.worker !== undefined) return { pid: process.pid, worker: cluster.worker.id };
  return {};
}

/**
 * Builds the logger the server uses.
 *
 * @example
 * ```ts
 * import { createLogger } from 'switchyard/server';
 *
 * const logger = createLogger({ level: 'debug' });
 * logger.info({ port: 8000 }, 'listening');
 * ```
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const { level, pretty: usePretty } = {
    level: 'info',
    pretty: process.stdout.isTTY === true && process.env.NODE_ENV !== 'production',
    ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
  };
  const named = processFields();
  const base = { name: 'switchyard', ...named };
  if (usePretty) {
    // Pretty lines hide pid and name, unless this is one process of several.
    const ignore = named.pid !== undefined ? 'hostname,name' : 'pid,hostname,name';
    return pino({ level, base }, pretty({ colorize: true, ignore, translateTime: 'HH:MM:ss.l', sync: true }));
  }
  // Synchronous writes: a log line must not be lost when the process exits right after it.
  return pino({ level, base }, pino.destination({ fd: 1, sync: true }));
}
