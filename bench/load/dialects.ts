/**
 * The two wire dialects the load generator speaks.
 *
 * - `chat`: the chat room protocol (Switchyard, raw ws, Django Channels):
 *   `/ws/chat/<room>/`, the client sends `{"message","username"}` and every
 *   member receives `{"message","username"}`.
 * - `sio`: the same exchange over Socket.IO 4 (Engine.IO v4, WebSocket only):
 *   the room is a query parameter, the client answers the open packet with a
 *   namespace connect (`40`) and pings (`2`) with pongs (`3`), and chat lines
 *   travel as `42["chat",{...}]` events.
 *
 * The message text is `<send µs>|<phase>|<seq>|<padding>`: receivers find the
 * first `|` byte and read the numbers around it without decoding the frame.
 */
export interface Dialect {
  path(room: string): string;
  /** The frame text that asks the server to broadcast `message` to the room. */
  chat(message: string): string;
  /** Answers protocol chatter; returns a frame to send back, or null. */
  reply(text: string): string | null;
}

export const chatDialect: Dialect = {
  path: (room) => `/ws/chat/${room}/`,
  chat: (message) => `{"message":"${message}","username":"bench"}`,
  reply: () => null,
};

export const socketIoDialect: Dialect = {
  path: (room) => `/socket.io/?EIO=4&transport=websocket&room=${room}`,
  chat: (message) => `42["chat",{"message":"${message}","username":"bench"}]`,
  reply: (text) => (text === '2' ? '3' : text.startsWith('0{') ? '40' : null),
};

export function dialectOf(name: string): Dialect {
  if (name === 'sio') return socketIoDialect;
  if (name === 'chat') return chatDialect;
  throw new Error(`unknown dialect ${name}`);
}
