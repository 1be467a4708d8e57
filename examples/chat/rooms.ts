/**
 * Room names: which ones the chat serves, and the layer group each one uses.
 *
 * The route is the tutorial's `(?P<room_name>\w+)` with Python's meaning of
 * `\w` (letters and numbers of every script, and `_`), so `/ws/chat/聊天/`
 * is a room, as it is a route in Django. But a channel layer's group names
 * are ASCII letters, digits, `-`, `_` and `.`, shorter than 100 characters,
 * and the tutorial's `chat_<room>` breaks for `聊天` (Django's tutorial has
 * the same problem). So:
 *
 * - an ASCII room whose `chat_<room>` fits stays `chat_<room>`, exactly as
 *   the tutorial (a Django process on the same Redis sees the same groups);
 * - any other room (non-ASCII, or too long for `chat_<room>`) uses
 *   `chat_.` + the SHA-256 of its UTF-8 bytes (base64url, 43 characters):
 *   stable across processes and restarts, and never equal to a tutorial name,
 *   which cannot contain a `.`;
 * - a room name over {@link MAX_ROOM_NAME_LENGTH} characters is refused.
 */
import { createHash } from 'node:crypto';
import { MAX_NAME_LENGTH } from 'switchyard';

/** The longest room name served, in characters (code points, as Python's `len`). */
export const MAX_ROOM_NAME_LENGTH = 100;

/**
 * A room name the route accepts: Python's `\w+` (`str.isalnum()` characters and `_`).
 * The WebSocket route spells it `\w+` in Python syntax; pages and the HTTP side use this.
 */
export const ROOM_NAME = /^[\p{L}\p{N}_]+$/u;

const TUTORIAL_ROOM = /^[A-Za-z0-9_]+$/;

/** Characters as Python's `len` counts them (code points, not UTF-16 units). */
export function characters(text: string): number {
  let count = 0;
  for (const _ of text) count += 1;
  return count;
}

/**
 * The layer group of a room, or `null` for a room name the chat refuses (too long).
 *
 * @example
 * ```ts
 * roomGroupName('lobby'); // 'chat_lobby', the tutorial's
 * roomGroupName('聊天');  // 'chat_.' + 43 characters of SHA-256
 * ```
 */
export function roomGroupName(room: string): string | null {
  if (characters(room) > MAX_ROOM_NAME_LENGTH) return null;
  const tutorial = `chat_${room}`;
  if (TUTORIAL_ROOM.test(room) && tutorial.length < MAX_NAME_LENGTH) return tutorial;
  return `chat_.${createHash('sha256').update(room, 'utf8').digest('base64url')}`;
}
