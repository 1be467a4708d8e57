/**
 * The seeds' chat protocol as the reference servers speak it (raw ws, tuned
 * ws, uWebSockets.js, Bun): the greeting, the error frames, and what a
 * client's frame becomes. Plain functions with no imports, so that every
 * runtime (Node, Bun) loads it as it is.
 */

export const ESTABLISHED = JSON.stringify({ type: 'connection_established', message: 'Connected to chat room' });
export const INVALID = JSON.stringify({ type: 'error', message: 'Invalid message' });
export const INVALID_JSON = JSON.stringify({ type: 'error', message: 'Invalid JSON format' });

/**
 * What a client's text frame becomes: the line to broadcast to its room, or
 * the error frame for the sender alone (invalid JSON, an empty or over-long
 * message).
 */
export function chatLine(text: string): { broadcast: string } | { reply: string } {
  let content: { message?: unknown; username?: unknown };
  try {
    content = JSON.parse(text);
  } catch {
    return { reply: INVALID_JSON };
  }
  const message = content?.message;
  if (typeof message !== 'string' || message === '' || message.length > 1000) return { reply: INVALID };
  const username = typeof content.username === 'string' && content.username.trim() !== '' ? content.username : 'Anonymous';
  return { broadcast: JSON.stringify({ message, username }) };
}
