/**
 * Presence's data: the public shapes (metas, lists, changes) and the
 * internal ones shared by the replica code (entries by topic, key and ref;
 * the operations deltas carry; the checks applied to what peers send).
 */

/** What a connection says about itself when tracked (JSON-able). */
export type PresenceMeta = Record<string, unknown>;
/** A meta as listed: the tracked meta plus the entry's unique `ref`. */
export type ListedMeta<M extends PresenceMeta> = M & { ref: string };
/** A topic's presences: key → its metas (one per tracked entry), Phoenix's shape. */
export type PresenceList<M extends PresenceMeta = PresenceMeta> = Record<string, { metas: Array<ListedMeta<M>> }>;

/** A change of a topic's merged view, as subscribers receive it. */
export interface PresenceChange<M extends PresenceMeta = PresenceMeta> {
  topic: string;
  /** Entries that appeared, by key (Phoenix's `presence_diff` joins). */
  joins: PresenceList<M>;
  /** Entries that went away, by key (Phoenix's `presence_diff` leaves). */
  leaves: PresenceList<M>;
  /** Keys that were absent and are now present (a user's first tab). */
  joined: string[];
  /** Keys that were present and are now absent (a user's last tab). */
  left: string[];
}

export type Entries = Map<string, Map<string, Map<string, PresenceMeta>>>; // topic → key → ref → meta
export type Op = ['add' | 'remove', string, string, string, PresenceMeta | null];
export type Row = [string, string, string, PresenceMeta];

export interface Peer { channel: string; version: number; lastSeen: number; entries: Entries; syncAskedAt: number }

/** A change being assembled: presence of each touched key before, and the entry diffs. */
export class ChangeSet {
  readonly before = new Map<string, Map<string, boolean>>();
  readonly joins = new Map<string, PresenceList>();
  readonly leaves = new Map<string, PresenceList>();
}

export function addMeta(list: Map<string, PresenceList>, topic: string, key: string, ref: string, meta: PresenceMeta): void {
  let byKey = list.get(topic);
  if (byKey === undefined) list.set(topic, (byKey = {}));
  (byKey[key] ??= { metas: [] }).metas.push({ ...meta, ref });
}

export const isMeta = (v: unknown): v is PresenceMeta => typeof v === 'object' && v !== null && !Array.isArray(v);
export const isOp = (v: unknown): v is Op => Array.isArray(v) && (v[0] === 'add' || v[0] === 'remove') &&
  typeof v[1] === 'string' && typeof v[2] === 'string' && typeof v[3] === 'string' && (v[0] === 'remove' || isMeta(v[4]));
export const isRow = (v: unknown): v is Row => Array.isArray(v) && typeof v[0] === 'string' && typeof v[1] === 'string' &&
  typeof v[2] === 'string' && isMeta(v[3]);


/** Applies one operation to `entries`, recording in `change` what it did (and, first, whether the key was present before). */
export function applyOp(entries: Entries, [kind, topic, key, ref, meta]: Op, change: ChangeSet, present: (topic: string, key: string) => boolean): void {
  let before = change.before.get(topic);
  if (before === undefined) change.before.set(topic, (before = new Map()));
  if (!before.has(key)) before.set(key, present(topic, key));
  let keys = entries.get(topic);
  if (kind === 'add') {
    if (keys === undefined) entries.set(topic, (keys = new Map()));
    let refs = keys.get(key);
    if (refs === undefined) keys.set(key, (refs = new Map()));
    refs.set(ref, meta ?? {});
    addMeta(change.joins, topic, key, ref, meta ?? {});
  } else {
    const old = keys?.get(key)?.get(ref);
    if (old === undefined) return;
    keys!.get(key)!.delete(ref);
    if (keys!.get(key)!.size === 0) keys!.delete(key);
    if (keys!.size === 0) entries.delete(topic);
    addMeta(change.leaves, topic, key, ref, old);
  }
}

/**
 * The subscribers' view of a change, per topic touched that someone `watches`:
 * entry diffs, and the keys that came or went.
 */
export function changesOf<M extends PresenceMeta>(
  change: ChangeSet, present: (topic: string, key: string) => boolean, watched: (topic: string) => boolean,
): Array<PresenceChange<M>> {
  const events: Array<PresenceChange<M>> = [];
  for (const [topic, before] of change.before) {
    if (!watched(topic)) continue; // nobody listens: no diff to compute
    const joined: string[] = [];
    const left: string[] = [];
    for (const [key, was] of before) {
      const is = present(topic, key);
      if (!was && is) joined.push(key);
      if (was && !is) left.push(key);
    }
    events.push({
      topic,
      joins: (change.joins.get(topic) ?? {}) as PresenceList<M>,
      leaves: (change.leaves.get(topic) ?? {}) as PresenceList<M>,
      joined,
      left,
    });
  }
  return events;
}
