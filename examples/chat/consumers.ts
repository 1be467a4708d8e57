/**
 * The seeds' `ChatConsumer`, ported: one room per URL, group `chat_<room>`,
 * the error handling of the tutorial (invalid JSON, empty or over-long
 * messages answer with an error frame and keep the connection), and the
 * tutorial's presence events (`user_join` / `user_leave`) for signed-in users.
 *
 * Room broadcasts go through `forward()`, so a message to a room of 500 is
 * encoded to JSON once, not 500 times.
 */
import { WebsocketConsumer } from '../../src/index.js';

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

class InvalidMessage extends Error {}

export class ChatConsumer extends WebsocketConsumer {
  /** Signed-in users of this process by channel name, as the tutorial keeps them. */
  static connectedUsers = new Map<string, { username: string }>();

  roomName = '';
  roomGroupName = '';

  override async connect(): Promise<void> {
    try {
      this.roomName = String(this.scope.urlRoute?.kwargs.room_name);
      this.roomGroupName = `chat_${this.roomName}`;
      await this.channelLayer!.groupAdd(this.roomGroupName, this.channelName);
      await this.accept();
      await this.send(JSON.stringify({ type: 'connection_established', message: 'Connected to chat room' }));
      const user = this.#signedInUser();
      if (user !== null) {
        ChatConsumer.connectedUsers.set(this.channelName, user);
        await this.channelLayer!.groupSend(this.roomGroupName, { type: 'user_join', username: user.username });
      }
    } catch {
      await this.close(4000);
    }
  }

  override async disconnect(): Promise<void> {
    const user = ChatConsumer.connectedUsers.get(this.channelName);
    if (user !== undefined) {
      ChatConsumer.connectedUsers.delete(this.channelName);
      await this.channelLayer!.groupSend(this.roomGroupName, { type: 'user_leave', username: user.username });
    }
    await this.channelLayer!.groupDiscard(this.roomGroupName, this.channelName);
  }

  override async receive(data: string | Uint8Array): Promise<void> {
    let content: { message?: unknown; username?: unknown } | null;
    try {
      content = JSON.parse(typeof data === 'string' ? data : Buffer.from(data).toString('utf8'));
    } catch {
      return this.send(JSON.stringify({ type: 'error', message: 'Invalid JSON format' }));
    }
    try {
      const message = content?.message;
      if (typeof message !== 'string' || message === '' || message.length > MAX_MESSAGE_LENGTH) throw new InvalidMessage();
      const username = this.#username(content?.username);
      await this.channelLayer!.groupSend(this.roomGroupName, { type: 'chat_message', message, username });
    } catch (error) {
      if (!(error instanceof InvalidMessage)) throw error;
      await this.send(JSON.stringify({ type: 'error', message: 'Invalid message' }));
    }
  }

  async chat_message(event: ChatMessageEvent): Promise<void> {
    await this.forward(event, renderChatMessage);
  }

  async user_join(event: PresenceEvent): Promise<void> {
    await this.forward(event, renderPresence);
  }

  async user_leave(event: PresenceEvent): Promise<void> {
    await this.forward(event, renderPresence);
  }

  /** A signed-in user's name always wins over what the client claims. */
  #username(claimed: unknown): string {
    const user = this.#signedInUser();
    if (user !== null) return user.username;
    if (typeof claimed !== 'string' || claimed.trim() === '') return 'Anonymous';
    if (claimed.length > MAX_USERNAME_LENGTH) throw new InvalidMessage();
    return claimed;
  }

  #signedInUser(): { username: string } | null {
    const user = this.scope.user as ScopeUser | undefined;
    return user?.isAuthenticated && typeof user.username === 'string' ? { username: user.username } : null;
  }
}
