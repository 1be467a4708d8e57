/**
 * The clock shared by every process of a run: CLOCK_MONOTONIC in microseconds
 * (`process.hrtime()` reads it through libuv), so a timestamp taken by the
 * sender can be compared with the receiver's clock in another process.
 */
export function nowMicros(): number {
  const [s, ns] = process.hrtime();
  return s * 1e6 + Math.floor(ns / 1000);
}
