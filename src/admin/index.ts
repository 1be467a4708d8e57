/**
 * `switchyard/admin`: a live dashboard of the whole cluster, mountable in
 * any Switchyard app (off unless mounted).
 *
 * Every process that mounts it (or calls `startAdminReporter()`) publishes a
 * small stats sample to one layer group every second: connections,
 * connects/disconnects and messages (from the server's metrics, or its plain
 * counts without metrics), slow-consumer actions, recovery outcomes, layer
 * health, memory, event-loop delay, and its busiest groups. The dashboard's
 * process aggregates them and pushes them to the page over a Switchyard
 * `JsonWebsocketConsumer`. Actions (with a confirmation on the page, and
 * `authorize()` asked again on the server): disconnect a connection by its
 * channel name, close every connection of a group with a code and reason.
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
 *   http: URLRouter([admin.routes.http, rePath('', pages)]),              // GET /admin/realtime/
 *   websocket: URLRouter([admin.routes.websocket, ...chatRoutes]),        // ws /admin/realtime/ws/
 * });
 * ```
 */
export {
  adminDashboard,
  startAdminReporter,
  type AdminDashboard,
  type AdminDashboardOptions,
  type AdminReporterHandle,
  type AdminReporterSettings,
} from './dashboard.js';
export type { Authorize } from './consumers.js';
export type { ClusterSnapshot, GroupView, PresenceView, ProcessView, SeriesPoint } from './cluster-view.js';
export { SAMPLES_GROUP, type ProcessSample } from './sample.js';
export { ADMIN_CLOSE } from './reporter.js';
export type { LocalGroups } from '../layers/base.js';
