/**
 * The seeds' `ChatConsumer`, ported: one room per URL, group `chat_<room>`,
 * the error handling of the tutorial (invalid JSON, empty or over-long
 * messages answer with an error frame and keep the connection), and the
 * tutorial's presence events (`user_join` / `user_leave`) for signed-in users.
 *
 * Presence goes through `switchyard/presence` rather than the tutorial's
 * per-process dict, so the online list is right across processes sharing a
 * layer, with several tabs per user (`user_join` on the first, `user_leave`
 * after the last), and after a process dies (its users leave once its
 * heartbeats stop). Every connection, signed in or not, hears those events;
 * only signed-in users are tracked. A connection that arrives in a room
 * where someone is online also gets `{"type":"presence","users":[names]}`.
 *
 * Room broadcasts go through `forward()`, so a message to a room of 500 is
 * encoded to JSON once, not 500 times.
 */
import { WebsocketConsumer, getChannelLayer } from 'switchyard';
import { Presence, type PresenceChange } from 'switchyard/presence';

/** The longest message the room accepts (the tutorial's limit). */
export const MAX_MESSAGE_LENGTH = 1000;
/** The longest name a client may give itself. */
export const MAX_USERNAME_LENGTH = 150;

/** What travels through the room's group for a chat line. */
export interface ChatMessageEvent { type: 'chat_message'; message: string; username: string; [key: string]: unknown }
/** What travels through the room's group when a signed-in user comes or goes. */
export interface PresenceEvent { type: 'user_join' | 'user_leave'; username: string; [key: string]: unknown }

/** The part of `scope.user` this consumer reads. */
interface ScopeUser { username?: string; isAuthenticated?: boolean }

// Module-level render functions: forward() caches one frame per event and function.
const renderChatMessage = (event: ChatMessageEvent) => JSON.stringify({ message: event.message, username: event.username });
const renderPresence = (event: PresenceEvent) => JSON.stringify({ type: event.type, username: event.username });

/** `{"type": "ping"}` with no message: answered with `{"type": "pong"}` (an extension of the seeds' protocol). */
const PONG = JSON.stringify({ type: 'pong' });
const isPing = (content: unknown): boolean =>
  typeof content === 'object' && content !== null && (content as { type?: unknown }).type === 'ping' && !('message' in content);

class InvalidMessage extends Error {}
class ReservedName extends Error {}

export class ChatConsumer extends WebsocketConsumer {
  /** Names anonymous users may not claim (the app sets it to "is a registered user"). */
  static isReservedName: (name: string) => boolean = () => false;

  roomName = '';
  roomGroupName = '';
  #presenceRef: string | null = null;
  #stopListening: () => void = () => {};

  override async connect(): Promise<void> {
    try {
      this.roomName = String(this.scope.urlRoute?.kwargs.room_name);
      this.roomGroupName = `chat_${this.roomName}`;
      await this.channelLayer!.groupAdd(this.roomGroupName, this.channelName);
      await this.accept();
      await this.send(JSON.stringify({ type: 'connection_established', message: 'Connected to chat room' }));
      const presence = this.#presence();
      this.#stopListening = presence.subscribe(this.roomGroupName, (change) => this.#presenceChanged(change));
      const user = this.#signedInUser();
      if (user !== null) this.#presenceRef = await presence.track(this.roomGroupName, user.username, { since: Date.now() });
      const online = Object.keys(presence.list(this.roomGroupName)).sort();
      if (online.length > 0) await this.send(JSON.stringify({ type: 'presence', users: online }));
    } catch {
      await this.close(4000);
    }
  }

  override async disconnect(): Promise<void> {
    await this.#leavePresence();
    await this.channelLayer!.groupDiscard(this.roomGroupName, this.channelName);
  }

  /**
   * However the instance ends (a crash skips `disconnect()`), its presence goes with it.
   * Callbacks made once per instance rather than an async method: an idle connection
   * then holds no suspended frame here.
   */
  override run(...args: Parameters<WebsocketConsumer['run']>): Promise<void> {
    return super.run(...args).then(this.#leaveAfterRun, this.#leaveAfterFailure);
  }

  readonly #leaveAfterRun = (): Promise<void> => this.#leavePresence().catch(() => {});
  readonly #leaveAfterFailure = (error: unknown): Promise<never> => this.#leaveAfterRun().then(() => Promise.reject(error));

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
    if (isPing(content)) return this.send(PONG);
    try {
      const message = content?.message;
      if (typeof message !== 'string' || message === '' || message.length > MAX_MESSAGE_LENGTH) throw new InvalidMessage();
      const username = this.#username(content?.username);
      await this.channelLayer!.groupSend(this.roomGroupName, { type: 'chat_message', message, username });
    } catch (error) {
      if (error instanceof ReservedName) {
        return this.send(JSON.stringify({ type: 'error', message: 'That name belongs to a registered user: sign in to use it' }));
      }
      if (!(error instanceof InvalidMessage)) throw error;
      await this.send(JSON.stringify({ type: 'error', message: 'Invalid message' }));
    }
  }

  // Not async: the send's promise is returned as it is (no suspended frame per member of a broadcast).
  chat_message(event: ChatMessageEvent): Promise<void> {
    return this.forward(event, renderChatMessage);
  }

  user_join(event: PresenceEvent): Promise<void> {
    return this.forward(event, renderPresence);
  }

  user_leave(event: PresenceEvent): Promise<void> {
    return this.forward(event, renderPresence);
  }

  /** The room's presence replica for this process (one per channel layer). */
  #presence(): Presence {
    return Presence.forLayer(getChannelLayer((this.constructor as typeof ChatConsumer).channelLayerAlias)!, { name: 'chat' });
  }

  /** Called by presence, for this room, on this process: first tab in → user_join, last tab out → user_leave. */
  #presenceChanged(change: PresenceChange): void {
    const events = [
      ...change.joined.map((username): PresenceEvent => ({ type: 'user_join', username })),
      ...change.left.map((username): PresenceEvent => ({ type: 'user_leave', username })),
    ];
    for (const event of events) this.send(renderPresence(event)).catch(() => {}); // the socket may be closing
  }

  /** A signed-in user's name always wins over what the client claims. */
  #username(claimed: unknown): string {
    const user = this.#signedInUser();
    if (user !== null) return user.username;
    if (typeof claimed !== 'string' || claimed.trim() === '') return 'Anonymous';
    if (claimed.length > MAX_USERNAME_LENGTH) throw new InvalidMessage();
    if ((this.constructor as typeof ChatConsumer).isReservedName(claimed)) throw new ReservedName();
    return claimed;
  }

  #signedInUser(): { username: string } | null {
    const user = this.scope.user as ScopeUser | undefined;
    return user?.isAuthenticated && typeof user.username === 'string' ? { username: user.username } : null;
  }
}
