/**
 * Reconnection delays: exponential growth with full jitter above a floor.
 *
 * Retry `n` (1, 2, 3, ...) waits a uniformly random time in
 * `[minDelay, min(maxDelay, minDelay × factor^n)]`. The window doubles (with
 * the default factor) until it reaches `maxDelay`. Full jitter spreads the
 * retries of many clients that lost the same server at the same moment, so a
 * restarted server is not hit by all of them in one burst; the floor keeps a
 * client from retrying in a tight loop.
 *
 * @internal
 */
export interface BackoffOptions {
  /** Shortest wait, ms. */
  minDelay: number;
  /** Longest wait, ms. */
  maxDelay: number;
  /** Growth of the window per retry. */
  factor: number;
  /** A number in [0, 1); `Math.random` unless a test pins it. */
  random: () => number;
}

/** The upper bound of the window for retry `attempt` (1-based). */
export function backoffCeiling(attempt: number, { minDelay, maxDelay, factor }: BackoffOptions): number {
  return Math.min(maxDelay, minDelay * factor ** attempt);
}

/** How long to wait before retry `attempt` (1-based), in ms. */
export function backoffDelay(attempt: number, options: BackoffOptions): number {
  const ceiling = backoffCeiling(attempt, options);
  return Math.round(options.minDelay + options.random() * Math.max(0, ceiling - options.minDelay));
}
