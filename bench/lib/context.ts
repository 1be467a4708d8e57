/** What every scenario gets from the runner. */
import type { RedisHandle } from './redis.js';

export interface RunContext {
  runId: string;
  redis: RedisHandle;
  plan: { server: string | null; load: string | null; cores: number };
  /** Cores available to the load generator. */
  loadCores: number;
  workers: number;
  /** Next free TCP port for a server. */
  nextPort(): number;
  /** Appends a result record (and keeps it for the summary). */
  record(scenario: string, server: string, data: Record<string, unknown>): void;
  log(message: string): void;
  /** Restricts the servers run (BENCH_SERVERS=rawws,switchyard). */
  wants(server: string): boolean;
}
