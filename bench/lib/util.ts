export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
export const range = (n: number) => Array.from({ length: n }, (_, i) => i);
/** Rounds to `digits` decimals (results stay readable in JSON). */
export const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;
