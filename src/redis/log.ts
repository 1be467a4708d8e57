/**
 * The logger the Redis layers write to: Switchyard's shared logger
 * (`src/log.ts`, pino). A layer can be given its own logger with the `logger`
 * option (any pino-compatible object).
 */
import * as shared from '../log.js';

/** The subset of a pino logger the Redis layers use: `(fields, message)`. */
export interface LayerLogger {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/** The default logger of the Redis layers: Switchyard's shared logger, read at call time (it follows `setLogger`). */
export const defaultLogger: LayerLogger = {
  debug: (fields, message) => shared.logger.debug({ module: 'switchyard/redis', ...fields }, message),
  info: (fields, message) => shared.logger.info({ module: 'switchyard/redis', ...fields }, message),
  warn: (fields, message) => shared.logger.warn({ module: 'switchyard/redis', ...fields }, message),
  error: (fields, message) => shared.logger.error({ module: 'switchyard/redis', ...fields }, message),
};

/**
 * Logs at most once per `intervalMs` per key (a down Redis must not flood the log).
 *
 * @example
 * ```ts
 * import { logger } from 'switchyard';
 * import { LogThrottle } from './log.js';
 *
 * declare const err: Error;
 * const throttle = new LogThrottle(5000);
 * if (throttle.allow('redis-down')) logger.warn({ err }, 'Redis unreachable');
 * ```
 */
export class LogThrottle {
  readonly #intervalMs: number;
  readonly #last = new Map<string, number>();
  constructor(intervalMs: number) {
    this.#intervalMs = intervalMs;
  }
  allow(key: string): boolean {
    const now = Date.now();
    if ((this.#last.get(key) ?? -Infinity) + this.#intervalMs > now) return false;
    if (this.#last.size > 1000) this.#last.clear();
    this.#last.set(key, now);
    return true;
  }
}
