/** Test helpers for time: a delay, an abort signal whose timer keeps the process alive, and polling with a timeout. */

/** Resolves after `ms`. */
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

/** What a wait is for, in its timeout message: a text, or a function giving it (to show the state at the timeout). */
export type Waited = string | (() => string | Promise<string>);

/**
 * Polls `probe` every `every` ms until it returns something other than
 * `undefined`, and resolves with that; rejects after `ms` with
 * "timed out after <ms> ms waiting for <what>".
 *
 * @example const line = await eventually(() => lines.find(isReady), 5000, 'the ready line');
 */
export async function eventually<T>(probe: () => T | undefined | Promise<T | undefined>, ms: number, what: Waited, every = 10): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${typeof what === 'string' ? what : await what()}`);
    await delay(every);
  }
}

/**
 * Resolves once `check()` is true, polling every 10 ms; rejects after `ms`
 * with "timed out after <ms> ms waiting for <what>".
 *
 * @example await until(() => received.length === 3, 2000, 'three messages');
 */
export async function until(check: () => boolean | Promise<boolean>, ms: number, what: Waited): Promise<void> {
  await eventually(async () => ((await check()) ? true : undefined), ms, what);
}
