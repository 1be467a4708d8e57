/** Test helpers for time: a delay, and an abort signal whose timer keeps the process alive. */
export const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * An AbortSignal that aborts after `ms`. Unlike `AbortSignal.timeout()`, its
 * timer is referenced, so a test waiting on it does not end the event loop.
 */
export function abortAfter(ms: number): AbortSignal {
  const controller = new AbortController();
  setTimeout(() => controller.abort(new Error(`timed out after ${ms} ms`)), ms);
  return controller.signal;
}
