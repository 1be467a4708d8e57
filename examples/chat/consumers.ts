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
 * for it on every (re)connection). One request/reply (`docs/requests.md`),
 * `rename`, checks a name before an anonymous client uses it (the room page
 * asks when its name field changes): the reply is the name the room will
 * show, and the connection's chat lines without a name use it.
 *
 * The protocol is declared once (`chatProtocol`, zod schemas): what clients
 * send, the room's group events (validated on receipt: another process may
 * run older code), the request and the frames. A client may be typed from
 * it (`new ReconnectingWebsocket<typeof ChatConsumer>(url)`). A message that
 * fails its schema gets the tutorial's `{"type":"error","message":"Invalid message"}`.
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
import { z } from 'zod';
import {
  DeliveryIncompleteError, RequestError, TypedJsonConsumer, defineProtocol, getChannelLayer, logger,
  type ConsumerEvent, type EventOf, type InvalidFrameProblem, type LayerUnavailableError, type ReceivedMessage, type RequestHandlers, type WebsocketScope,
} from 'switchyard';
import { Presence, type PresenceChange } from 'switchyard/presence';
import type { AnonymousNames } from './names.js';
import { MAX_ROOM_NAME_LENGTH, characters, roomGroupName } from './rooms.js';

/** The longest message the room accepts, in characters as Python's `len` counts them (the tutorial's limit). */
export const MAX_MESSAGE_LENGTH = 1000;
/** The longest name a client may give itself, in characters (code points). */
export const MAX_USERNAME_LENGTH = 150;

/** A string of at most `max` characters as Python counts them (code points: an emoji is one). */
const atMost = (max: number) => (value: string) => characters(value) <= max;

/** What the room says and hears. */
export const chatProtocol = defineProtocol({
  /** The tutorial's chat line, or one of the two extensions (exactly `{"type":"ping"}` or `{"type":"presence"}`). */
  messages: z.union([
    z.strictObject({ type: z.literal('ping') }),
    z.strictObject({ type: z.literal('presence') }),
    z.object({
      message: z.string().min(1).refine(atMost(MAX_MESSAGE_LENGTH)),
      // Whatever is not a non-blank string is "Anonymous", as in the tutorial.
      username: z.unknown().refine((name) => typeof name !== 'string' || atMost(MAX_USERNAME_LENGTH)(name)).optional(),
    }),
  ]),
  events: {
    chat_message: z.object({ message: z.string(), username: z.string() }),
    user_join: z.object({ username: z.string() }),
    user_leave: z.object({ username: z.string() }),
  },
  requests: {
    rename: { input: z.object({ username: z.string().trim().min(1).refine(atMost(MAX_USERNAME_LENGTH)) }), output: z.object({ username: z.string() }) },
  },
  /** What a client receives (declared for typed clients; not validated). */
  frames: z.union([
    z.object({ message: z.string(), username: z.string() }),
    z.object({ type: z.enum(['connection_established', 'error']), message: z.string() }),
    z.object({ type: z.enum(['user_join', 'user_leave']), username: z.string() }),
    z.object({ type: z.literal('presence'), users: z.array(z.string()) }),
    z.object({ type: z.literal('pong') }),
  ]),
});

/** What travels through the room's group for a chat line. */
export type ChatMessageEvent = EventOf<typeof chatProtocol, 'chat_message'>;
/** What travels through the room's group when a signed-in user comes or goes. */
export type PresenceEvent = EventOf<typeof chatProtocol, 'user_join' | 'user_leave'>;

/** The part of `scope.user` this consumer reads. */
interface ScopeUser { username?: string; isAuthenticated?: boolean }

/** What a room member receives when someone comes or goes. */
const presenceFrame = (event: PresenceEvent) => JSON.stringify({ type: event.type, username: event.username });

/** What the sender of a message hears while the room's layer is away. */
export const ROOM_UNAVAILABLE = 'The room is temporarily unavailable: try again in a moment';
const ROOM_UNAVAILABLE_FRAME = JSON.stringify({ type: 'error', message: ROOM_UNAVAILABLE });
/** What the sender hears when the room's history kept the message but the layer went away before everyone had it. */
export const MESSAGE_KEPT = 'Your message was saved, but it may not have reached everyone yet: no need to send it again';
const MESSAGE_KEPT_FRAME = JSON.stringify({ type: 'error', message: MESSAGE_KEPT });
const INVALID_MESSAGE_FRAME = JSON.stringify({ type: 'error', message: 'Invalid message' });
const INVALID_JSON_FRAME = JSON.stringify({ type: 'error', message: 'Invalid JSON format' });

/** `{"type": "ping"}` with no message: answered with `{"type": "pong"}` (an extension of the seeds' protocol). */
const PONG = JSON.stringify({ type: 'pong' });

class InvalidMessage extends Error {}
class RefusedName extends Error {}

export class ChatConsumer extends TypedJsonConsumer<typeof chatProtocol> {
  static override protocol = chatProtocol;
  /** Registered names anonymous users may not claim, checked at a bounded rate (the app sets it; none by default). */
  static anonymousNames: AnonymousNames | null = null;

  /** How the room's group events reach each member's socket. */
  static override renders = {
    chat_message: (event: ChatMessageEvent) => JSON.stringify({ message: event.message, username: event.username }),
    user_join: presenceFrame,
    user_leave: presenceFrame,
  };

  /** The requests' handlers, once for the class (`this` is the connection's consumer). */
  static override requests = {
    /** Checks a name as a chat line would use it; the reply is the name the room will show. */
    rename({ username }) {
      try {
        this.#chosenName = this.#username(username);
        return { username: this.#chosenName };
      } catch (error) {
        if (error instanceof RefusedName) throw new RequestError('name_refused', error.message);
        throw error;
      }
    },
  } satisfies RequestHandlers<typeof chatProtocol, ChatConsumer>;

  roomName = '';
  roomGroupName = '';
  #presenceRef: string | null = null;
  /** Stops this connection's presence events, once it listens to its room. */
  #stopListening: (() => void) | null = null;
  /** The name `rename` accepted, for chat lines that carry none. */
  #chosenName: string | null = null;

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
    this.#stopListening?.();
    this.#stopListening = null;
    const ref = this.#presenceRef;
    this.#presenceRef = null;
    const user = this.#signedInUser();
    if (ref !== null && user !== null) await this.#presence().untrack(this.roomGroupName, user.username, ref);
  }

  /** A valid message: a chat line for the room, or one of the two extensions. */
  override async receiveJson(content: ReceivedMessage<typeof chatProtocol>): Promise<void> {
    // An app-level ping lets browsers, which never see protocol pings, notice a dead link.
    if (!('message' in content)) return content.type === 'ping' ? this.send(PONG) : this.send(JSON.stringify({ type: 'presence', users: this.#online() }));
    try {
      const username = this.#username(content.username);
      await this.groupSend(this.roomGroupName, { type: 'chat_message', message: content.message, username });
    } catch (error) {
      if (error instanceof RefusedName) return this.send(JSON.stringify({ type: 'error', message: error.message }));
      if (!(error instanceof InvalidMessage)) throw error;
      await this.send(INVALID_MESSAGE_FRAME);
    }
  }

  /** The tutorial's answer to a message that fails the schema: no code, no issues (its clients compare frames exactly). */
  override async invalidMessage(): Promise<void> {
    await this.send(INVALID_MESSAGE_FRAME);
  }

  /** The tutorial's answer to what is not JSON; a binary frame is read as UTF-8 text, as the tutorial's server does. */
  override async receiveInvalid(problem: InvalidFrameProblem, data: string | Uint8Array): Promise<void> {
    if (typeof data !== 'string') return this.receive(new TextDecoder().decode(data));
    logger.debug({ problem, size: data.length, path: this.scope.path }, 'chat: invalid frame');
    await this.send(INVALID_JSON_FRAME);
  }

  /**
   * The layer is away (Redis down): the framework logs it and keeps the
   * connection; the sender is told whether to try again (nothing was kept)
   * or not (the room's history kept it: members that recover will have it).
   */
  override async layerUnavailable(error: LayerUnavailableError, event: ConsumerEvent): Promise<void> {
    await super.layerUnavailable(error, event);
    await this.send(error instanceof DeliveryIncompleteError ? MESSAGE_KEPT_FRAME : ROOM_UNAVAILABLE_FRAME);
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

  /** A signed-in user's name always wins over what the client claims; no name is the one `rename` chose, or Anonymous. */
  #username(claimed: unknown): string {
    const user = this.#signedInUser();
    if (user !== null) return user.username;
    if (typeof claimed !== 'string' || claimed.trim() === '') return this.#chosenName ?? 'Anonymous';
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
