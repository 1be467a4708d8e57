/**
 * The HTTP fallback's options (`serve(app, { fallback: true | {...} })`):
 * one interface, one block of defaults, checked with exact messages.
 */
import type { FallbackTransportName } from './fallback-wire.js';

/**
 * How the HTTP fallback runs (see `docs/guide.md`, "Without WebSockets").
 * Times in seconds, sizes in bytes; every field is optional.
 *
 * @example
 * ```ts
 * import type { ServerOptions } from 'switchyard/server';
 *
 * const options: ServerOptions = { fallback: { transports: ['sse'], heartbeatInterval: 10 } };
 * ```
 */
export interface FallbackOptions {
  /** The transports offered. Default both, `['sse', 'poll']`. */
  transports?: FallbackTransportName[];
  /** Seconds a long poll is held open while there is nothing to send. Default 25. */
  pollTimeout?: number;
  /**
   * Seconds a long-poll session lives with no poll waiting; then the app gets
   * `websocket.disconnect` (1006), as for a WebSocket peer that stopped answering. Default 30.
   */
  sessionTimeout?: number;
  /** Seconds between heartbeat comments on an event stream (proxies drop idle responses). Default 15. */
  heartbeatInterval?: number;
  /** Largest POST body; bigger is answered 413. Default `2 * wsMaxSize + 64 KiB` (a largest frame, base64 or JSON-escaped, and then some). */
  maxPostSize?: number;
  /** Seconds a POST (or poll) relayed to the process holding its connection waits for that process's answer (then 504). Default 10. */
  relayTimeout?: number;
  /** The alias of the channel layer that relays requests between processes (see `configureChannelLayers`). Default `'default'`. */
  layer?: string;
}

/** The options with every default applied. */
export type ResolvedFallbackOptions = Required<FallbackOptions>;

/**
 * Applies the defaults to `fallback` (`true`: all defaults); throws a
 * `TypeError` with an exact message for a bad value.
 */
export function resolveFallbackOptions(fallback: boolean | FallbackOptions, wsMaxSize: number): ResolvedFallbackOptions | null {
  if (fallback === false) return null;
  if (fallback !== true && (typeof fallback !== 'object' || fallback === null || Array.isArray(fallback))) {
    throw new TypeError(`The "fallback" option must be a boolean or an object (got ${String(fallback)})`);
  }
  const given = fallback === true ? {} : Object.fromEntries(Object.entries(fallback).filter(([, v]) => v !== undefined));
  const known = new Set(['transports', 'pollTimeout', 'sessionTimeout', 'heartbeatInterval', 'maxPostSize', 'relayTimeout', 'layer']);
  for (const key of Object.keys(given)) {
    if (!known.has(key)) throw new TypeError(`Unknown "fallback" option "${key}" (known: ${[...known].join(', ')})`);
  }
  const resolved: ResolvedFallbackOptions = {
    transports: ['sse', 'poll'],
    pollTimeout: 25,
    sessionTimeout: 30,
    heartbeatInterval: 15,
    maxPostSize: 2 * wsMaxSize + 64 * 1024,
    relayTimeout: 10,
    layer: 'default',
    ...given,
  };
  if (typeof resolved.layer !== 'string' || resolved.layer === '') {
    throw new TypeError(`The "fallback.layer" option must be a channel layer alias (got ${String(resolved.layer)})`);
  }
  const { transports } = resolved;
  if (!Array.isArray(transports) || transports.length === 0 || !transports.every((t) => t === 'sse' || t === 'poll')) {
    throw new TypeError(`The "fallback.transports" option must be a non-empty array of "sse" and "poll" (got ${JSON.stringify(transports)})`);
  }
  for (const key of ['pollTimeout', 'sessionTimeout', 'heartbeatInterval', 'maxPostSize', 'relayTimeout'] as const) {
    const value = resolved[key];
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      throw new TypeError(`The "fallback.${key}" option must be a positive number (got ${String(value)})`);
    }
  }
  return resolved;
}
