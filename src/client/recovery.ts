/**
 * The client's half of recovery (`docs/recovery.md`): where the client
 * stands in each group, the URL that tells the server on reconnect, and the
 * server's `$sy` frames turned back into the app's frames, each once.
 *
 * Per group it keeps the epoch, `floor` (everything up to it was delivered
 * or is known lost) and the offsets delivered above the floor (a repaired
 * gap arrives after the messages past it). What was delivered on earlier
 * connections is remembered when a connection opens: a replayed frame at or
 * under that floor, or among those offsets, is a duplicate. Frames within
 * one connection are never duplicates (the server sends each event once),
 * so an event that sent several frames delivers them all.
 */

/** What a `recovery` event carries: the outcome of joining a group, or a loss found later. */
export interface RecoveryDetail {
  /** The group (the server's name for the stream). */
  group: string;
  /** False when messages were lost between where the client stood and now; the app should say so. */
  recovered: boolean;
  /** How many missed messages follow as replay. */
  replayed: number;
  /** The group's epoch and the offset the client now stands at. */
  epoch: string;
  offset: number;
}

interface GroupPosition {
  epoch: string;
  floor: number;
  above: Set<number>;
  /** At the start of the current connection: the floor and the offsets above it already delivered. */
  connectionFloor: number;
  connectionAbove: Set<number>;
}

/** What a frame turned out to be: the app's frame, a recovery outcome, or nothing for the app. */
export type Unwrapped = { kind: 'frame'; text: string } | { kind: 'outcome'; detail: RecoveryDetail } | { kind: 'none' };

interface ServerFrame { $sy?: unknown; g?: unknown; e?: unknown; o?: unknown; d?: unknown; recovered?: unknown; replayed?: unknown }

/** Recovery state for one client across its connections. */
export class RecoveryTracker {
  readonly #groups = new Map<string, GroupPosition>();

  /** The URL of the next connection: asks for recovery and names where the client stands in each group. */
  url(base: string): string {
    let query = 'switchyard.recover=1';
    for (const [group, position] of this.#groups) query += `&switchyard.position=${group}:${position.epoch}:${position.floor}`;
    return base + (base.includes('?') ? '&' : '?') + query;
  }

  /** A connection opened: what was delivered so far is what a replay must not repeat. */
  connected(): void {
    for (const position of this.#groups.values()) {
      position.connectionFloor = position.floor;
      position.connectionAbove = new Set(position.above);
    }
  }

  /** Where the client stands, by group (for display or persistence). */
  positions(): Record<string, { epoch: string; offset: number }> {
    const out: Record<string, { epoch: string; offset: number }> = {};
    for (const [group, { epoch, floor }] of this.#groups) out[group] = { epoch, offset: floor };
    return out;
  }

  /** A text frame from the server: a `$sy` frame is unwrapped; any other frame is the app's, as it is. */
  unwrap(text: string): Unwrapped {
    if (!text.startsWith('{"$sy":')) return { kind: 'frame', text };
    let frame: ServerFrame;
    try {
      frame = JSON.parse(text) as ServerFrame;
    } catch {
      return { kind: 'frame', text };
    }
    const { $sy: kind, g: group, e: epoch, o: offset } = frame;
    if (typeof group !== 'string' || typeof epoch !== 'string' || typeof offset !== 'number') return { kind: 'frame', text };
    if (kind === 'r') return { kind: 'outcome', detail: this.#outcome(group, epoch, offset, frame) };
    if (kind !== 'm' && kind !== 'p') return { kind: 'frame', text };
    const position = this.#position(group, epoch, offset);
    const duplicate = offset <= position.connectionFloor || position.connectionAbove.has(offset);
    if (!duplicate && offset > position.floor) {
      position.above.add(offset);
      while (position.above.delete(position.floor + 1)) position.floor++;
    }
    if (kind === 'p' || duplicate || typeof frame.d !== 'string') return { kind: 'none' };
    return { kind: 'frame', text: frame.d };
  }

  #outcome(group: string, epoch: string, offset: number, frame: ServerFrame): RecoveryDetail {
    const position = this.#groups.get(group);
    if (position === undefined || position.epoch !== epoch) {
      this.#groups.set(group, { epoch, floor: offset, above: new Set(), connectionFloor: offset, connectionAbove: new Set() });
    } else {
      position.floor = offset;
      for (const o of position.above) if (o <= offset) position.above.delete(o);
      while (position.above.delete(position.floor + 1)) position.floor++;
      position.connectionFloor = Math.max(position.connectionFloor, offset);
    }
    return { group, recovered: frame.recovered === true, replayed: typeof frame.replayed === 'number' ? frame.replayed : 0, epoch, offset };
  }

  /** The group's position; a message of an unknown group or a new epoch starts it just under that message. */
  #position(group: string, epoch: string, offset: number): GroupPosition {
    let position = this.#groups.get(group);
    if (position === undefined || position.epoch !== epoch) {
      position = { epoch, floor: offset - 1, above: new Set(), connectionFloor: offset - 1, connectionAbove: new Set() };
      this.#groups.set(group, position);
    }
    return position;
  }
}
