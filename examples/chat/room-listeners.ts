/**
 * One presence subscription per room in this process, shared by the room's
 * connections here: the first member to join subscribes, the last to leave
 * unsubscribes, and the one listener hands each change to every member, in
 * the order they joined (the order separate subscriptions were called in).
 * A connection then costs a slot in its room's set rather than a
 * subscription, a closure and its context.
 */
import { logger } from 'switchyard';
import { type Presence, type PresenceChange, PresenceClosed } from 'switchyard/presence';

/** A room's members here and the subscription that serves them. */
interface Room<T> { members: Set<T>; unsubscribe: () => void }

/**
 * The members of each room, per presence replica (one per channel layer).
 *
 * @example
 * ```ts
 * import { Presence } from 'switchyard/presence';
 * import { getChannelLayer } from 'switchyard';
 *
 * class Member { heard(change: unknown) { console.log(change); } }
 * const rooms = new RoomListeners<Member>((member, change) => member.heard(change));
 * const me = new Member();
 * rooms.join(Presence.forLayer(getChannelLayer()!), 'chat_lobby', me);
 * rooms.leave(Presence.forLayer(getChannelLayer()!), 'chat_lobby', me);
 * ```
 */
export class RoomListeners<T> {
  readonly #heard: (member: T, change: PresenceChange) => void;
  readonly #rooms = new WeakMap<Presence, Map<string, Room<T>>>();

  /** `heard` is called with each member and each change of its room. */
  constructor(heard: (member: T, change: PresenceChange) => void) {
    this.#heard = heard;
  }

  /** Adds `member` to `topic`'s listeners (subscribing the room if it is the first here). */
  join(presence: Presence, topic: string, member: T): void {
    let rooms = this.#rooms.get(presence);
    if (rooms === undefined) this.#rooms.set(presence, (rooms = new Map()));
    const room = rooms.get(topic);
    if (room !== undefined) {
      room.members.add(member);
      // As a subscribe() of its own would: a replica whose start failed (layer away) is retried.
      presence.start().catch((error: unknown) => {
        if (!(error instanceof PresenceClosed)) logger.warn({ err: error }, 'presence: start failed; the next subscribe or track retries');
      });
      return;
    }
    const members = new Set<T>([member]);
    const unsubscribe = presence.subscribe(topic, (change) => {
      for (const each of [...members]) {
        try {
          this.#heard(each, change);
        } catch (error) {
          logger.error({ err: error, topic }, 'presence subscriber failed');
        }
      }
    });
    rooms.set(topic, { members, unsubscribe });
  }

  /** Removes `member` (a no-op when it is not there); the room's last member unsubscribes it. */
  leave(presence: Presence, topic: string, member: T): void {
    const rooms = this.#rooms.get(presence);
    const room = rooms?.get(topic);
    if (room === undefined || !room.members.delete(member)) return;
    if (room.members.size > 0) return;
    rooms!.delete(topic);
    room.unsubscribe();
  }
}
