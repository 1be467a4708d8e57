/**
 * What the HTTP and WebSocket bridges share within one server: the app,
 * resolved options, logger, metrics, and the set of running app instances
 * that shutdown waits for.
 */
import type { Logger } from 'pino';
import type { Application } from '../asgi.js';
import type { ServerMetrics } from './metrics.js';
import type { ResolvedOptions } from './options.js';
import type { ListenInfo, TrustedProxies } from './scope.js';

export interface ServerContext {
  app: Application;
  options: ResolvedOptions;
  logger: Logger;
  metrics: ServerMetrics | null;
  listen: ListenInfo;
  trusted: TrustedProxies;
  /** The lifespan scope's state, shallow-copied into each connection scope. */
  state: Record<string, unknown> | undefined;
  /** Running application instances (HTTP and WebSocket). */
  running: Set<Promise<void>>;
  /** Set once shutdown began: new work is refused. */
  closing: boolean;
}

/** Registers an app instance until it settles. */
export function track(ctx: ServerContext, instance: Promise<void>): void {
  ctx.running.add(instance);
  void instance.finally(() => ctx.running.delete(instance));
}

/** Whether an error means "no route": answered 404 (HTTP) or 403 (handshake), not 500. */
export function isRouteNotFound(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'SY_ROUTE_NOT_FOUND';
}

/** Whether an error is `DenyConnection`. */
export function isDenied(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'SY_DENY_CONNECTION';
}

/** Milliseconds since `start` (from `performance.now()`), rounded to 0.1. */
export function elapsed(start: number): number {
  return Math.round((performance.now() - start) * 10) / 10;
}
