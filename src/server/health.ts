/**
 * Liveness and readiness endpoints (`/livez`, `/readyz` by default).
 *
 * How it works. Liveness says only that the process answers HTTP: 200
 * while the event loop turns, whatever Redis does, so an orchestrator never
 * restarts a healthy process because a shared dependency is away.
 * Readiness says the process can do its work: 200 once every configured
 * channel layer answers a round trip, 503 before that, while a layer does
 * not answer, and while the server drains. A Redis layer configured by URL
 * is probed with a `PING` to each of its hosts (same credentials, TLS and
 * db), on its own connection; a layer object with a `ping()` method is
 * asked directly; other layers (in-memory) are always ready. A probe runs
 * at most once a second, however often the endpoint is scraped.
 *
 * At startup the layers are probed once in the background: a layer that
 * does not answer is a warning naming its URL (not a crash), and probing
 * goes on with backoff until it answers, which is logged too.
 *
 * The server answers these paths before the app sees the request (as the
 * metrics path): an app that serves its own `/readyz` sets the option to
 * another path, or to `null` (`--readiness-path off`) to turn it off.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { retryDelay } from '../backoff.js';
import { channelLayerUrls, getChannelLayer } from '../layers/registry.js';

/** One dependency readiness waits for. */
interface Probe {
  /** What the logs and the 503 body call it (the URL, password hidden). */
  readonly name: string;
  check(): Promise<void>;
  close(): void;
}

/** Options of {@link HealthEndpoints}. */
export interface HealthOptions {
  /** Liveness path, or `null` for none. */
  livenessPath: string | null;
  /** Readiness path, or `null` for none. */
  readinessPath: string | null;
  logger: Logger;
}

const PROBE_TIMEOUT_MS = 1000;
const CACHE_MS = 1000;

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The probes of the configured layers (Redis URLs ping their hosts; a layer with `ping()` is asked). */
async function layerProbes(): Promise<Probe[]> {
  const probes: Probe[] = [];
  for (const { alias, url, source } of channelLayerUrls()) {
    const layer = getChannelLayer(alias) as { ping?: () => Promise<unknown> } | null;
    if (typeof layer?.ping === 'function') {
      probes.push({ name: source, check: async () => { await layer.ping!(); }, close: () => {} });
      continue;
    }
    if (!/^rediss?(\+pubsub)?:$/.test(new URL(url).protocol)) continue;
    const [{ layerOptionsFromUrl }, { Shard }] = await Promise.all([import('../redis/config.js'), import('../redis/connection.js')]);
    // The probe's own connection errors are the readiness state, not log lines of their own.
    const quiet = { debug() {}, info() {}, warn() {}, error() {} };
    const shards = layerOptionsFromUrl(new URL(url)).hosts.map((host) => new Shard(host, { connectTimeout: PROBE_TIMEOUT_MS, logger: quiet }));
    probes.push({
      name: source,
      check: async () => { await Promise.all(shards.map((shard) => shard.run((redis) => redis.ping()))); },
      close: () => { for (const shard of shards) shard.close(); },
    });
  }
  return probes;
}

/**
 * The `/livez` and `/readyz` endpoints of one server.
 *
 * @example
 * ```ts
 * import http from 'node:http';
 * import { HealthEndpoints, createLogger } from 'switchyard/server';
 *
 * const health = new HealthEndpoints({ livenessPath: '/livez', readinessPath: '/readyz', logger: createLogger() });
 * const server = http.createServer((req, res) => { if (!health.handle(req, res)) res.end('app'); });
 * await health.start();
 * ```
 */
export class HealthEndpoints {
  readonly #options: HealthOptions;
  #probes: Probe[] = [];
  #draining = false;
  #stopped = false;
  #retry: NodeJS.Timeout | null = null;
  #last: { at: number; problem: string | null } | null = null;
  #inFlight: Promise<string | null> | null = null;

  constructor(options: HealthOptions) {
    this.#options = options;
  }

  /** Builds the probes and checks the layers once in the background (a layer away is a warning, then retried). */
  async start(): Promise<void> {
    this.#probes = await layerProbes();
    if (this.#probes.length > 0) void this.#watchStartup(1);
  }

  /** Readiness answers 503 from now on (the server is draining). */
  drain(): void {
    this.#draining = true;
  }

  /** Stops probing and closes the probes' connections. */
  stop(): void {
    this.#stopped = true;
    this.#draining = true;
    if (this.#retry !== null) clearTimeout(this.#retry);
    for (const probe of this.#probes) probe.close();
  }

  /** Answers a request for one of the health paths and returns true; false for any other request. */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const raw = req.url ?? '/';
    const q = raw.indexOf('?');
    const path = q === -1 ? raw : raw.slice(0, q);
    if (path === this.#options.livenessPath) {
      reply(res, 200, { status: 'alive' });
      return true;
    }
    if (path !== this.#options.readinessPath) return false;
    if (this.#draining) {
      reply(res, 503, { status: 'not ready', reason: 'shutting down' });
      return true;
    }
    this.#problem().then((problem) => {
      if (problem === null) reply(res, 200, { status: 'ready' });
      else reply(res, 503, { status: 'not ready', reason: problem });
    }, (err: unknown) => {
      this.#options.logger.error({ err }, 'Readiness check failed');
      reply(res, 503, { status: 'not ready', reason: 'readiness check failed' });
    });
    return true;
  }

  /** What keeps the process from being ready (`null`: nothing), probed at most once per {@link CACHE_MS}. */
  #problem(): Promise<string | null> {
    if (this.#last !== null && performance.now() - this.#last.at < CACHE_MS) return Promise.resolve(this.#last.problem);
    this.#inFlight ??= this.#probeAll().then((problem) => {
      this.#last = { at: performance.now(), problem };
      this.#inFlight = null;
      return problem;
    });
    return this.#inFlight;
  }

  async #probeAll(): Promise<string | null> {
    const results = await Promise.allSettled(this.#probes.map((probe) => withTimeout(probe.check(), PROBE_TIMEOUT_MS + 500)));
    const failed = results.flatMap((result, i) => (result.status === 'rejected' ? [`${this.#probes[i]!.name} does not answer: ${String((result.reason as Error)?.message ?? result.reason)}`] : []));
    return failed.length === 0 ? null : failed.join('; ');
  }

  /** The startup check: warn once when a layer is away, log when it comes, retry in between with backoff. */
  async #watchStartup(attempt: number): Promise<void> {
    if (this.#stopped) return;
    const problem = await this.#problem();
    if (this.#stopped) return;
    const log = this.#options.logger;
    if (problem === null) {
      if (attempt > 1) log.info('Channel layer connected: ready');
      return;
    }
    if (attempt === 1) {
      const readiness = this.#options.readinessPath !== null ? `, ${this.#options.readinessPath} answers 503 until it does` : '';
      log.warn(`${problem}; serving anyway${readiness}`);
    }
    this.#retry = setTimeout(() => void this.#watchStartup(attempt + 1), retryDelay(attempt, { minMs: 500, maxMs: 10_000 }));
    this.#retry.unref();
  }
}

function reply(res: ServerResponse, status: number, body: object): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
  res.end(res.req.method === 'HEAD' ? undefined : text);
}
