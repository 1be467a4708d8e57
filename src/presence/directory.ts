/**
 * Who is in a group, and which groups a channel is in: Socket.IO's
 * `fetchSockets()` / `socket.rooms`, over any channel layer.
 *
 * Locally the answer is at once: the layer's own record of this process's
 * memberships (`ChannelLayer.localGroups`). Cluster-wide, a {@link Presence}
 * replica asks the others (one `presence.query` group message) and each
 * answers from its own process's record (one message back per replica), so
 * the question costs 1 + N layer messages for N other processes and never
 * touches the members themselves. The wait is bounded: the answer comes
 * when every replica this one knows has answered, or after `timeoutMs` with
 * `complete: false` naming how many answered. Only processes that run a
 * replica (every process that calls `Presence.forLayer(layer).start()`,
 * `track()` or `subscribe()`) are asked.
 */
import { randomBytes } from 'node:crypto';
import type { LayerMessage } from '../asgi.js';
import type { ChannelLayer } from '../layers/base.js';
import { ImproperlyConfigured } from '../errors.js';
import { logger } from '../log.js';

/** What a cluster-wide question answers. */
export interface DirectoryAnswer {
  /** Channel names (for `groupMembers`) or group names (for `groupsOf`), at most `limit` per process. */
  names: string[];
  /** How many there are in all (`names` may be cut at `limit` per process). */
  total: number;
  /** Processes that answered, this one included. */
  processes: number;
  /** True when every known replica answered in time and nothing was cut. */
  complete: boolean;
}

/** Options of a cluster-wide question. */
export interface DirectoryOptions {
  /** Ms to wait for the other processes at most. Default 500. */
  timeoutMs?: number;
  /** Names each process lists at most. Default 1000. */
  limit?: number;
}

/** What a question asks of one process's record. */
export type DirectoryQuestion = { group: string } | { channel: string };

/** A process's own answer to a question: from its layer's record of its memberships. */
export function localAnswer(layer: ChannelLayer, question: DirectoryQuestion, limit: number): { names: string[]; total: number } {
  if (typeof layer.localGroups !== 'function') {
    throw new ImproperlyConfigured('this channel layer keeps no record of its memberships (localGroups): group members cannot be listed');
  }
  const groups = layer.localGroups();
  let names: string[];
  if ('group' in question) names = [...(groups.get(question.group)?.keys() ?? [])];
  else {
    names = [];
    for (const [group, members] of groups) for (const member of members.keys()) if (member === question.channel) names.push(group);
  }
  return { names: names.slice(0, limit), total: names.length };
}

interface Pending {
  readonly waitingFor: Set<string>;
  readonly answer: DirectoryAnswer;
  readonly done: () => void;
}

/** The questions of one replica that wait for answers. */
export class DirectoryQuestions {
  readonly #pending = new Map<string, Pending>();

  /**
   * Asks: `send` broadcasts the question (with its id) to the other
   * replicas, `replicas` are those expected to answer. Resolves with the
   * merged answer, this process's own included.
   */
  async ask(
    own: { names: string[]; total: number }, replicas: readonly string[], options: Required<DirectoryOptions>,
    send: (id: string) => Promise<void>,
  ): Promise<DirectoryAnswer> {
    const answer: DirectoryAnswer = { names: [...own.names], total: own.total, processes: 1, complete: own.total === own.names.length };
    if (replicas.length === 0) return answer;
    const id = randomBytes(8).toString('hex');
    let timer: NodeJS.Timeout | undefined;
    const answered = new Promise<void>((resolve) => {
      this.#pending.set(id, { waitingFor: new Set(replicas), answer, done: resolve });
      timer = setTimeout(resolve, options.timeoutMs);
    });
    try {
      await send(id);
      await answered;
    } finally {
      clearTimeout(timer);
      const pending = this.#pending.get(id);
      this.#pending.delete(id);
      if (pending !== undefined && pending.waitingFor.size > 0) answer.complete = false;
    }
    return answer;
  }

  /** Takes a peer's answer (`presence.answer`); unknown or late ones are ignored. */
  take(message: LayerMessage, replica: string): void {
    const pending = typeof message.id === 'string' ? this.#pending.get(message.id) : undefined;
    if (pending === undefined || !pending.waitingFor.delete(replica)) return;
    const names = Array.isArray(message.names) ? message.names.filter((name): name is string => typeof name === 'string') : [];
    const total = typeof message.total === 'number' ? message.total : names.length;
    pending.answer.names.push(...names);
    pending.answer.total += total;
    pending.answer.processes++;
    if (total > names.length) pending.answer.complete = false;
    if (pending.waitingFor.size === 0) pending.done();
  }
}

/** The question a `presence.query` message carries, or null when it is malformed. */
function questionOf(message: LayerMessage): DirectoryQuestion | null {
  if (typeof message.group === 'string') return { group: message.group };
  if (typeof message.channel_of === 'string') return { channel: message.channel_of };
  return null;
}

/** Answers a peer's `presence.query` from this process's record, to the asker's channel. */
export async function answerQuestion(layer: ChannelLayer, message: LayerMessage, replica: string): Promise<void> {
  const question = questionOf(message);
  const limit = typeof message.limit === 'number' ? message.limit : 1000;
  if (question === null || typeof message.reply_to !== 'string' || typeof message.id !== 'string') return;
  try {
    const { names, total } = localAnswer(layer, question, limit);
    await layer.send(message.reply_to, { type: 'presence.answer', replica, id: message.id, names, total });
  } catch (error) {
    logger.warn({ err: error }, 'presence: a group membership question went unanswered');
  }
}

/** Resolves the options' defaults and checks them. */
export function directoryOptions(options: DirectoryOptions): Required<DirectoryOptions> {
  const resolved = { timeoutMs: 500, limit: 1000, ...options };
  if (!(resolved.timeoutMs >= 0 && resolved.timeoutMs <= 60_000)) throw new TypeError(`timeoutMs must be from 0 to 60000, not ${resolved.timeoutMs}`);
  if (!(Number.isInteger(resolved.limit) && resolved.limit >= 0)) throw new TypeError(`limit must be a non-negative integer, not ${resolved.limit}`);
  return resolved;
}
