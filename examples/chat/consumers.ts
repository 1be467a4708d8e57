/**
 * The seeds' `ChatConsumer`, ported: one room per URL, group `chat_<room>`
 * (or, for a room name no group name can hold, the stable one of `rooms.ts`),
 * the error handling of the tutorial (invalid JSON, empty or over-long
 * messages answer with an error frame and keep the connection), and the
 * tutorial's presence events (`user_join` / `user_leave`) for signed-in users.
 *
 * Presence goes through `switchyard/presence` rather than the tutorial's
 * per-process dict, so the online list is right across processes sharing a
 * layer, with several tabs per user (`user_join` on the first, `user_leave`
 * after the last), and after a process dies (its users leave once its
 * heartbeats stop). Every connection, signed in or not, hears those events;
 * only signed-in users are tracked.
 *
 * The protocol is the tutorial's, exactly: a client that speaks only it gets
 * only its frames. Two requests extend it, answered only when asked:
 * `{"type":"ping"}` gets `{"type":"pong"}`, and `{"type":"presence"}` gets
 * the online list, `{"type":"presence","users":[names]}` (the room page asks
 * for it on every (re)connection).
 *
 * While the channel layer is away (Redis down), a message cannot reach the
 * room: its sender gets the tutorial's error frame,
 * `{"type":"error","message":"The room is temporarily unavailable: try again in a moment"}`,
 * and the connection stays open (the framework logs one warn line for all).
 *
 * Lengths count characters as Python's `len` does (code points: an emoji is
 * one). Room names are the route's Unicode `\w+`; `rooms.ts` maps each to a
 * valid group name. Anonymous clients cannot take registered names, and learn
 * which names are registered only at a bounded rate (`names.ts`).
 *
 * Room broadcasts are declared renders (`static renders`), so a message to
 * a room of 500 is encoded to JSON once, not 500 times.
 */
import {
  WebsocketConsumer, getChannelLayer, logger, type ConsumerEvent, type LayerUnavailableError, type WebsocketScope,
} from 'switchyard';
import { Presence, type PresenceChange } from 'switchyard/presence';
import type { AnonymousNames } from './names.js';
import { MAX_ROOM_NAME_LENGTH, characters, roomGroupName } from './rooms.js';

/** The longest message the room accepts, in characters as Python's `len` counts them (the tutorial's limit). */
export const MAX_MESSAGE_LENGTH = 1000;
/** The longest name a client may give itself, in characters (code points). */
export const MAX_USERNAME_LENGTH = 150;

/** What travels through the room's group for a chat line. */
export interface ChatMessageEvent { type: 'chat_message'; message: string; username: string; [key: string]: unknown }
/** What travels through the room's group when a signed-in user comes or goes. */
export interface PresenceEvent { type: 'user_join' | 'user_leave'; username: string; [key: string]: unknown }

/** The part of `scope.user` this consumer reads. */
interface ScopeUser { username?: string; isAuthenticated?: boolean }

/** What a room member receives when someone comes or goes. */
const presenceFrame = (event: PresenceEvent) => JSON.stringify({ type: event.type, username: event.username });

/** What the sender of a message hears while the room's layer is away. */
export const ROOM_UNAVAILABLE = 'The room is temporarily unavailable: try again in a moment';
const ROOM_UNAVAILABLE_FRAME = JSON.stringify({ type: 'error', message: ROOM_UNAVAILABLE });

/** `{"type": "ping"}` with no message: answered with `{"type": "pong"}` (an extension of the seeds' protocol). */
const PONG = JSON.stringify({ type: 'pong' });
/** A request of the extensions (`ping`, `presence`): that type and no `message` (a chat line may carry any `type`). */
const isRequest = (content: unknown, type: string): boolean =>
  typeof content === 'object' && content !== null && (content as { type?: unknown }).type === type && !('message' in content);

class InvalidMessage extends Error {}
class RefusedName extends Error {}

export class ChatConsumer extends WebsocketConsumer {
  /** Registered names anonymous users may not claim, checked at a bounded rate (the app sets it; none by default). */
  static anonymousNames: AnonymousNames | null = null;

  /** How the room's group events reach each member's socket. */
  static override renders = {
    chat_message: (event: ChatMessageEvent) => JSON.stringify({ message: event.message, username: event.username }),
    user_join: presenceFrame,
    user_leave: presenceFrame,
  };

  roomName = '';
  roomGroupName = '';
  #presenceRef: string | null = null;
  #stopListening: () => void = () => {};

  override async connect(): Promise<void> {
    try {
      this.roomName = String(this.scope.urlRoute?.kwargs.room_name);
      const group = roomGroupName(this.roomName);
      if (group === null) return this.#refuseRoom();
      this.roomGroupName = group;
      await this.channelLayer!.groupAdd(this.roomGroupName, this.channelName);
      await this.accept();
      await this.send(JSON.stringify({ type: 'connection_established', message: 'Connected to chat room' }));
      const presence = this.#presence();
      this.#stopListening = presence.subscribe(this.roomGroupName, (change) => this.#presenceChanged(change));
      const user = this.#signedInUser();
      if (user !== null) this.#presenceRef = await presence.track(this.roomGroupName, user.username, { since: Date.now() });
    } catch {
      await this.close(4000);
    }
  }

  /** A room name no group can carry: one line at warn, with the name cut short (it may be kilobytes). */
  async #refuseRoom(): Promise<void> {
    logger.warn(
      { room: `${[...this.roomName].slice(0, 40).join('')}…`, length: characters(this.roomName), client: this.#address() ?? null },
      `chat: room refused: names are at most ${MAX_ROOM_NAME_LENGTH} characters`,
    );
    await this.close(4000);
  }

  override async disconnect(): Promise<void> {
    await this.#leavePresence();
    if (this.roomGroupName !== '') await this.channelLayer!.groupDiscard(this.roomGroupName, this.channelName);
  }

  /** However the instance ends (a crash skips `disconnect()`), its presence goes with it. */
  protected override async cleanup(): Promise<void> {
    await this.#leavePresence().catch(() => {});
  }

  async #leavePresence(): Promise<void> {
    this.#stopListening();
    this.#stopListening = () => {};
    const ref = this.#presenceRef;
    this.#presenceRef = null;
    const user = this.#signedInUser();
    if (ref !== null && user !== null) await this.#presence().untrack(this.roomGroupName, user.username, ref);
  }

  override async receive(data: string | Uint8Array): Promise<void> {
    let content: { message?: unknown; username?: unknown } | null;
    try {
      content = JSON.parse(typeof data === 'string' ? data : Buffer.from(data).toString('utf8'));
    } catch {
      return this.send(JSON.stringify({ type: 'error', message: 'Invalid JSON format' }));
    }
    // An app-level ping lets browsers, which never see protocol pings, notice a dead link.
    if (isRequest(content, 'ping')) return this.send(PONG);
    if (isRequest(content, 'presence')) return this.send(JSON.stringify({ type: 'presence', users: this.#online() }));
    try {
      const message = content?.message;
      if (typeof message !== 'string' || message === '' || characters(message) > MAX_MESSAGE_LENGTH) throw new InvalidMessage();
      const username = this.#username(content?.username);
      await this.channelLayer!.groupSend(this.roomGroupName, { type: 'chat_message', message, username });
    } catch (error) {
      if (error instanceof RefusedName) return this.send(JSON.stringify({ type: 'error', message: error.message }));
      if (!(error instanceof InvalidMessage)) throw error;
      await this.send(JSON.stringify({ type: 'error', message: 'Invalid message' }));
    }
  }

  /** The layer is away (Redis down): the framework logs it and keeps the connection; the sender is told. */
  override async layerUnavailable(error: LayerUnavailableError, event: ConsumerEvent): Promise<void> {
    await super.layerUnavailable(error, event);
    await this.send(ROOM_UNAVAILABLE_FRAME);
  }

  /** The room's presence replica for this process (one per channel layer). */
  #presence(): Presence {
    return Presence.forLayer(getChannelLayer((this.constructor as typeof ChatConsumer).channelLayerAlias)!, { name: 'chat' });
  }

  /** Signed-in users online in this room, on every process, by name. */
  #online(): string[] {
    return Object.keys(this.#presence().list(this.roomGroupName)).sort();
  }

  /** Called by presence, for this room, on this process: first tab in → user_join, last tab out → user_leave. */
  #presenceChanged(change: PresenceChange): void {
    const events = [
      ...change.joined.map((username): PresenceEvent => ({ type: 'user_join', username })),
      ...change.left.map((username): PresenceEvent => ({ type: 'user_leave', username })),
    ];
    for (const event of events) this.send(presenceFrame(event)).catch(() => {}); // the socket may be closing
  }

  /** A signed-in user's name always wins over what the client claims. */
  #username(claimed: unknown): string {
    const user = this.#signedInUser();
    if (user !== null) return user.username;
    if (typeof claimed !== 'string' || claimed.trim() === '') return 'Anonymous';
    if (characters(claimed) > MAX_USERNAME_LENGTH) throw new InvalidMessage();
    const verdict = (this.constructor as typeof ChatConsumer).anonymousNames?.check(this.#address(), claimed) ?? 'ok';
    if (verdict === 'registered') throw new RefusedName('That name belongs to a registered user: sign in to use it');
    if (verdict === 'throttled') throw new RefusedName('Too many different names from your address: wait a minute, or keep your name');
    return claimed;
  }

  /** The client's address (`scope.client`), when the server knows it. */
  #address(): string | undefined {
    return (this.scope as WebsocketScope).client?.[0];
  }

  #signedInUser(): { username: string } | null {
    const user = this.scope.user as ScopeUser | undefined;
    return user?.isAuthenticated && typeof user.username === 'string' ? { username: user.username } : null;
  }
}
