/**
 * The library's logger: pino, JSON by default, silent under the test runner
 * unless `SWITCHYARD_LOG_LEVEL` says otherwise. The server swaps in its own
 * configured logger with {@link setLogger}; modules read {@link logger} at
 * call time, so they follow the swap.
 */
import { pino, type Logger } from 'pino';

function defaultLevel(): string {
  if (process.env.SWITCHYARD_LOG_LEVEL) return process.env.SWITCHYARD_LOG_LEVEL;
  return process.env.NODE_ENV === 'test' ? 'silent' : 'info';
}

/** The current logger. */
export let logger: Logger = pino({ name: 'switchyard', level: defaultLevel() });

/** Replaces the library's logger (the server does this at startup). */
export function setLogger(next: Logger): void {
  logger = next;
}

export type { Logger };
