/**
 * `adminDashboard()`: the realtime dashboard an app mounts in its routers,
 * and `startAdminReporter()` for a process that only reports.
 */
import type { Application } from '../asgi.js';
import { getChannelLayer } from '../layers/registry.js';
import type { Presence } from '../presence/presence.js';
import { path as routePath, URLRouter, type Route } from '../routing.js';
import { ClusterView, type ClusterSnapshot } from './cluster-view.js';
import { type Authorize, DashboardConsumer, DashboardHttpConsumer } from './consumers.js';
import { AdminReporter } from './reporter.js';

/** Options of {@link startAdminReporter}. */
export interface AdminReporterSettings {
  /** The channel layer's alias in the registry. Default `default`. */
  channelLayerAlias?: string;
  /** Milliseconds between samples. Default 1000. */
  interval?: number;
  /** This process's name on the dashboards. Default `host:pid`. */
  processId?: string;
  /** Busiest groups per sample (and listed on the page). Default 20. */
  topGroups?: number;
}

/** Options of {@link adminDashboard}. */
export interface AdminDashboardOptions extends AdminReporterSettings {
  /**
   * Required: whether a request or connection may see the dashboard and act
   * (asked for every request, handshake and action). `false` (or a throw,
   * logged) answers 403 / refuses the handshake.
   */
  authorize: Authorize;
  /** Where the page is mounted; the WebSocket is `path + "ws/"`. Default `/admin/realtime/`. */
  path?: string;
  /**
   * The presence whose topics the page lists, if the app uses
   * `switchyard/presence`: the replica, or a function returning it (looked
   * up when the page is open, e.g. `() => Presence.forLayer(getChannelLayer()!)`).
   */
  presence?: Presence | (() => Presence | null) | null;
  /** Milliseconds without a sample after which a process is dropped from the page. Default 5 × interval. */
  goneAfter?: number;
  /** Points kept in the page's time series (one per interval). Default 120. */
  historyLength?: number;
}

/** A running reporter (see {@link startAdminReporter}). */
export interface AdminReporterHandle {
  /** This process's name on the dashboards. */
  readonly processId: string;
  /** Stops reporting. */
  close(): Promise<void>;
}

/** A mounted dashboard (see {@link adminDashboard}). */
export interface AdminDashboard extends AdminReporterHandle {
  /** The mount path, with a leading and a trailing slash. */
  readonly path: string;
  /** The page, its files and `snapshot.json`: a router to mount at {@link path}. */
  readonly http: Application;
  /** The live-updates consumer: to mount at `path + "ws/"`. */
  readonly websocket: Application;
  /** Ready-made routes: `routes.http` for the app's HTTP `URLRouter`, `routes.websocket` for its WebSocket one. */
  readonly routes: { http: Route; websocket: Route };
  /** The cluster now, as the page gets it (listens for at least one interval first). */
  snapshot(): Promise<ClusterSnapshot>;
}

function settings(options: AdminReporterSettings): Required<Omit<AdminReporterSettings, 'processId'>> & { processId?: string } {
  const resolved = { channelLayerAlias: 'default', interval: 1000, topGroups: 20, ...withoutUndefined(options) };
  if (!(Number.isFinite(resolved.interval) && resolved.interval >= 10)) throw new TypeError(`interval must be a number of milliseconds >= 10, not ${String(resolved.interval)}`);
  if (!(Number.isInteger(resolved.topGroups) && resolved.topGroups > 0)) throw new TypeError(`topGroups must be a positive integer, not ${String(resolved.topGroups)}`);
  if (typeof resolved.channelLayerAlias !== 'string') throw new TypeError('channelLayerAlias must be a string');
  return resolved;
}

function withoutUndefined<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as Partial<T>;
}

/**
 * Publishes this process's stats sample every interval, so that the
 * dashboards of the cluster show it, without mounting a page here (a
 * worker, a process serving only some routes). `adminDashboard()` starts
 * one itself: call this only in processes that do not mount the dashboard.
 *
 * @example
 * ```ts
 * import { startAdminReporter } from 'switchyard/admin';
 *
 * const reporter = startAdminReporter({ processId: `worker-${process.pid}` });
 * // ...at shutdown:
 * await reporter.close();
 * ```
 */
export function startAdminReporter(options: AdminReporterSettings = {}): AdminReporterHandle {
  const { channelLayerAlias, interval, topGroups, processId } = settings(options);
  const reporter = new AdminReporter({ layer: () => getChannelLayer(channelLayerAlias), interval, topGroups, processId });
  reporter.start();
  return { processId: reporter.id, close: () => reporter.close() };
}

/**
 * The realtime admin dashboard: a page (totals and per-process figures,
 * rates, busiest groups, presence, slow consumers, recovery, layer health,
 * memory, event-loop delay) updated live over a WebSocket, with actions
 * (disconnect a connection, close a group's connections). Off unless
 * mounted; every process that mounts it reports to all dashboards through
 * the channel layer (one small message a second), and the page of any of
 * them shows the whole cluster.
 *
 * @example
 * ```ts
 * import { ProtocolTypeRouter, URLRouter, rePath, type Application } from 'switchyard';
 * import { adminDashboard } from 'switchyard/admin';
 *
 * declare const pages: Application;
 * declare const chatRoutes: ReturnType<typeof rePath>[];
 * const admin = adminDashboard({
 *   authorize: (scope) => (scope as { user?: { isStaff?: boolean } }).user?.isStaff === true,
 * });
 * export const application = ProtocolTypeRouter({
 *   http: URLRouter([admin.routes.http, rePath('', pages)]),
 *   websocket: URLRouter([admin.routes.websocket, ...chatRoutes]),
 * });
 * ```
 */
export function adminDashboard(options: AdminDashboardOptions): AdminDashboard {
  if (typeof options?.authorize !== 'function') {
    throw new TypeError('adminDashboard() needs an authorize(scope) function: the dashboard shows every connection and can close them');
  }
  const mount = options.path ?? '/admin/realtime/';
  if (typeof mount !== 'string' || !/^\/([^/?#]+\/)*$/.test(mount)) {
    throw new TypeError(`path must start and end with "/" (e.g. "/admin/realtime/"), not ${JSON.stringify(mount)}`);
  }
  const { channelLayerAlias, interval, topGroups, processId } = settings(options);
  const goneAfter = options.goneAfter ?? 5 * interval;
  const historyLength = options.historyLength ?? 120;
  if (!(goneAfter > interval)) throw new TypeError(`goneAfter must be more than one interval (${interval} ms), not ${String(goneAfter)}`);
  if (!(Number.isInteger(historyLength) && historyLength > 0)) throw new TypeError(`historyLength must be a positive integer, not ${String(historyLength)}`);

  const layer = () => getChannelLayer(channelLayerAlias);
  const reporter = new AdminReporter({ layer, interval, topGroups, processId });
  const presenceOption = options.presence ?? null;
  const presence = typeof presenceOption === 'function' ? presenceOption : () => presenceOption;
  const view = new ClusterView({ layer, interval, goneAfter, historyLength, topGroups, linger: 30_000, presence });
  const admin = { authorize: options.authorize, view };

  // Subclasses bound to the dashboard's layer alias: consumers name their channel on it.
  class Page extends DashboardHttpConsumer { static override channelLayerAlias = channelLayerAlias; }
  class Live extends DashboardConsumer { static override channelLayerAlias = channelLayerAlias; }
  const pageApp = Page.asApp({ admin });
  const http = URLRouter([
    routePath('', pageApp, { kwargs: { file: 'index.html' } }),
    routePath('dashboard.js', pageApp, { kwargs: { file: 'dashboard.js' } }),
    routePath('dashboard.css', pageApp, { kwargs: { file: 'dashboard.css' } }),
    routePath('snapshot.json', pageApp, { kwargs: { file: 'snapshot.json' } }),
  ]);
  const websocket = Live.asApp({ admin });
  const prefix = mount.slice(1);
  reporter.start();

  return {
    path: mount,
    processId: reporter.id,
    http,
    websocket,
    routes: { http: routePath(prefix, http), websocket: routePath(`${prefix}ws/`, websocket) },
    async snapshot() {
      view.touch();
      await view.ready();
      return view.snapshot();
    },
    async close() {
      await Promise.all([reporter.close(), view.close()]);
    },
  };
}
