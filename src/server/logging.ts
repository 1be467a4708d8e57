/**
 * The server's logger: pino, JSON lines in production, human-readable
 * (pino-pretty, in-process, no worker thread) when stdout is a terminal.
 */
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
  const base = { name: 'switchyard' };
  if (usePretty) {
    return pino({ level, base }, pretty({ colorize: true, ignore: 'pid,hostname,name', translateTime: 'HH:MM:ss.l', sync: true }));
  }
  // Synchronous writes: a log line must not be lost when the process exits right after it.
  return pino({ level, base }, pino.destination({ fd: 1, sync: true }));
}
