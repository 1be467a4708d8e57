/**
 * Retry loops that neither spin nor flood the log.
 *
 * How it works: a loop that failed waits {@link retryDelay} before its next
 * attempt, a random time in a window that doubles per consecutive failure up
 * to a cap (full jitter, so processes that lost the same Redis do not retry
 * in step), and reports each failure to a {@link RepeatedErrorLog}, which
 * writes the first occurrence of an error in full and then, while the same
 * error repeats, one summary line per interval ("failed 212 more times in the
 * last 60 s"), plus one line when the loop recovers. A waiting loop sleeps on
 * a timer, so signals and I/O run between attempts.
 */
/** What {@link RepeatedErrorLog} writes to: pino's logger, or the Redis layers' `LayerLogger`. */
export interface ErrorLogger {
  error(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  info(fields: object, message: string): void;
}

/** Bounds of {@link retryDelay}, in ms. */
export interface RetryDelayOptions {
  /** The first retry's window. Default 100. */
  minMs?: number;
  /** The largest window. Default 10 000. */
  maxMs?: number;
}

/**
 * Ms to wait before retry `attempt` (1, 2, 3...): uniformly random in
 * `[window / 2, window]`, the window `minMs × 2^(attempt-1)` capped at `maxMs`.
 *
 * @example
 * ```ts
 * import { retryDelay } from './backoff.js';
 *
 * retryDelay(1); // 50..100
 * retryDelay(20); // 5000..10000
 * ```
 */
export function retryDelay(attempt: number, options: RetryDelayOptions = {}): number {
  const { minMs, maxMs } = { minMs: 100, maxMs: 10_000, ...options };
  const window = Math.min(maxMs, minMs * 2 ** Math.min(Math.max(0, attempt - 1), 30));
  return Math.round(window / 2 + Math.random() * (window / 2));
}

/** Resolves after `ms`, or at once (without rejecting) when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Logs a failure that repeats: the first in full, then a summary per interval.
 *
 * @example
 * ```ts
 * import { logger } from 'switchyard';
 * import { RepeatedErrorLog } from './backoff.js';
 *
 * const err = new Error('connect ECONNREFUSED 127.0.0.1:6379');
 * const channel = 'thumbnails-generate';
 * const errors = new RepeatedErrorLog(() => logger, 'worker application failed', 60_000);
 * errors.failed(err, { channel }, 'retrying in 200 ms'); // logged
 * errors.failed(err, { channel }, 'retrying in 400 ms'); // counted
 * errors.recovered({ channel });                           // "recovered after 2 failures"
 * ```
 */
export class RepeatedErrorLog {
  readonly #logger: () => ErrorLogger;
  readonly #what: string;
  readonly #intervalMs: number;
  readonly #level: 'error' | 'warn';
  #lastKey: string | null = null;
  #failures = 0;
  #suppressed = 0;
  #lastWritten = 0;

  /**
   * `logger` is read at each write (the library's logger may be swapped);
   * `what` opens every line; failures are logged at `level` (default `error`).
   */
  constructor(logger: () => ErrorLogger, what: string, intervalMs = 60_000, level: 'error' | 'warn' = 'error') {
    this.#logger = logger;
    this.#what = what;
    this.#intervalMs = intervalMs;
    this.#level = level;
  }

  /** Consecutive failures since the last recovery. */
  get failures(): number {
    return this.#failures;
  }

  /** Reports one failure; `next` says what happens now ("retrying in 400 ms"). */
  failed(error: unknown, fields: object, next: string): void {
    this.#failures++;
    const key = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    const now = Date.now();
    if (key !== this.#lastKey) {
      this.#flush(fields);
      this.#lastKey = key;
      this.#lastWritten = now;
      this.#logger()[this.#level]({ err: error, ...fields }, `${this.#what}; ${next}`);
      return;
    }
    this.#suppressed++;
    if (now - this.#lastWritten >= this.#intervalMs) this.#flush(fields, next);
  }

  /** Reports a success: a line when failures were logged, and a fresh start. */
  recovered(fields: object): void {
    if (this.#failures === 0) return;
    this.#flush(fields);
    this.#logger().info({ ...fields, failures: this.#failures }, `${this.#what}: recovered after ${this.#failures} failure(s)`);
    this.#failures = 0;
    this.#lastKey = null;
  }

  #flush(fields: object, next?: string): void {
    if (this.#suppressed === 0) return;
    const seconds = Math.round((Date.now() - this.#lastWritten) / 1000);
    this.#logger()[this.#level](
      { ...fields, repeated: this.#suppressed, error: this.#lastKey },
      `${this.#what}: the same error ${this.#suppressed} more time(s) in the last ${seconds} s${next !== undefined ? `; ${next}` : ''}`,
    );
    this.#suppressed = 0;
    this.#lastWritten = Date.now();
  }
}
