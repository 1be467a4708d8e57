/**
 * `switchyard/presence`: who is online, per topic, across processes
 * (Phoenix Presence's model over any Switchyard channel layer).
 *
 * @example
 * ```ts
 * import { getChannelLayer, JsonWebsocketConsumer } from 'switchyard';
 * import type { AuthenticatedUser } from 'switchyard/middleware';
 * import { Presence } from 'switchyard/presence';
 *
 * class Room extends JsonWebsocketConsumer {
 *   #ref = ''; #off = () => {};
 *   override async connect() {
 *     const user = this.scope.user as AuthenticatedUser; // set by AuthMiddleware
 *     await this.accept();
 *     const presence = Presence.forLayer(getChannelLayer()!);
 *     this.#off = presence.subscribe('room:1', (c) => void this.sendJson({ type: 'presence_diff', joins: c.joins, leaves: c.leaves }));
 *     this.#ref = await presence.track('room:1', user.username, { online_at: Date.now() });
 *     await this.sendJson({ type: 'presence_state', state: presence.list('room:1') });
 *   }
 *   override async disconnect() {
 *     const user = this.scope.user as AuthenticatedUser;
 *     this.#off();
 *     await Presence.forLayer(getChannelLayer()!).untrack('room:1', user.username, this.#ref);
 *   }
 * }
 * ```
 */
export {
  Presence,
  type ListedMeta,
  type PresenceChange,
  type PresenceList,
  type PresenceMeta,
  type PresenceOptions,
} from './presence.js';
export type { DirectoryAnswer, DirectoryOptions } from './directory.js';
export { PresenceClosed, PresenceNotFound } from '../errors.js';
