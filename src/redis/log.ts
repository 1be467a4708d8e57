/**
 * The logger the Redis layers write to: Switchyard's shared logger
 * (`src/log.ts`, pino) when it is present, else the console. A layer can be
 * given its own logger with the `logger` option (any pino-compatible object).
 */

/** The subset of a pino logger the Redis layers use: `(fields, message)`. */
export interface LayerLogger {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

const consoleLogger: LayerLogger = {
  debug: () => {},
  info: () => {},
  warn: (fields, message) => console.warn(`[switchyard/redis] ${message}`, fields),
  error: (fields, message) => console.error(`[switchyard/redis] ${message}`, fields),
};

let shared: LayerLogger = consoleLogger;
const sharedModule = '../log.js';
import(sharedModule).then(
  (module: { logger?: LayerLogger & { child?: (bindings: object) => LayerLogger } }) => {
    if (module.logger !== undefined) shared = module.logger.child?.({ module: 'switchyard/redis' }) ?? module.logger;
  },
  () => {},
);

/** The default logger of the Redis layers (resolved lazily, so it follows `src/log.ts` once loaded). */
export const defaultLogger: LayerLogger = {
  debug: (fields, message) => shared.debug(fields, message),
  info: (fields, message) => shared.info(fields, message),
  warn: (fields, message) => shared.warn(fields, message),
  error: (fields, message) => shared.error(fields, message),
};

/**
 * Logs at most once per `intervalMs` per key (a down Redis must not flood the log).
 *
 * @example
 * ```ts
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
