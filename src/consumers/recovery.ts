/**
 * Recovery, the consumer's half: for a WebSocket client that asked for it,
 * each group event reaches the client once, marked with its position, and
 * what the client missed while away is replayed when it comes back
 * (protocol and guarantees: `docs/recovery.md`).
 *
 * How it works. A {@link RecoverySession} lives with a consumer whose client
 * put `switchyard.recover=1` on the URL, on a layer that keeps history.
 * - **Join.** When the consumer's channel joins a group that keeps history,
 *   the session reads what came after the client's position and injects an
 *   outcome frame (`r`) and the replay ahead of the channel's live messages.
 * - **Once, in order.** Per group it keeps `floor`, the offset up to which
 *   everything was handled (or is known lost). A stamped message at or under
 *   the floor is dropped: a live copy of a replayed message.
 * - **Gaps.** A message past a gap is held, and the gap waits
 *   {@link GAP_WAIT_MS} for the missing ones (another process's send may be
 *   a moment behind); then the history is read for them, and the missing and
 *   held messages go on in order. What the history no longer has is
 *   declared lost with an `r` frame, `recovered:false`.
 * - **Epochs.** A message of another epoch (Redis lost the history) starts
 *   the group over: `r` with `recovered:false`, and the gap below it read
 *   from the new epoch's history.
 * - **Marks.** Text frames the handler sends before its first `await` are
 *   wrapped in an `m` frame with the event's position (the same wrapped
 *   string for every member of a broadcast: the server still frames it
 *   once); a handler that wrapped none is followed by a `p` frame.
 */
import type { LayerMessage, Scope, WebsocketScope, WebsocketSendEvent } from '../asgi.js';
import { LayerUnavailableError } from '../errors.js';
import { type ChannelLayer, exceptOf } from '../layers/base.js';
import { type HistoryRead, type MessagePosition, type StreamPosition, onGroupResync, positionOf } from '../layers/history.js';
import { logger } from '../log.js';

/** How long a gap may wait for a racing sender's message before the history is read. */
export const GAP_WAIT_MS = 250;
/** The most messages one history read replays. */
const READ_LIMIT = 1000;
/** Messages past a gap held per group before the history is read at once. */
const MAX_HELD = 1000;

/** What recovery did in this process since it started (the server exports them as metrics). */
export const recoveryCounts = {
  /** Joins with a position: every missed message replayed. */
  recovered: 0,
  /** Joins, gaps or epochs where messages were lost (the client told `recovered: false`). */
  notRecovered: 0,
  /** Messages replayed from the history (at joins and for gaps). */
  replayed: 0,
};

/** What the session needs of its consumer. */
export interface RecoveryHost {
  /** The consumer's channel (a group send may leave it out: see `GroupSendOptions.except`). */
  readonly channelName: string;
  readonly accepted: boolean;
  readonly closed: boolean;
  baseSend(event: WebsocketSendEvent): Promise<void>;
}

/** One group's delivery state. */
interface GroupState {
  epoch: string;
  /** Everything up to here was handled or is known lost. */
  floor: number;
  /** Messages past a gap, by offset: handed on once the gap is filled. */
  held: Map<number, LayerMessage>;
  gapTimer: ReturnType<typeof setTimeout> | null;
  /** Stops listening for the layer's resyncs of the group. */
  unwatch: () => void;
}

/** An outcome frame waiting in the layer lane for its turn (after accept, before the replay). */
class OutcomeFrame {
  readonly type = 'switchyard.recovery.outcome';
  constructor(readonly text: string) {}
}

const SKIP = Symbol('skip');

/** A position no history has: asking with it answers `recovered: false`. */
const UNKNOWN_POSITION: StreamPosition = Object.freeze({ epoch: '', offset: 0 });

/** The positions a client sent on its URL, by group; null when it did not ask for recovery. */
export function requestedPositions(scope: Scope): Map<string, StreamPosition> | null {
  const raw = (scope as Partial<WebsocketScope>).query_string;
  if (raw === undefined || raw.length === 0) return null;
  const query = new URLSearchParams(Buffer.from(raw).toString('latin1'));
  if (query.get('switchyard.recover') !== '1') return null;
  const positions = new Map<string, StreamPosition>();
  for (const value of query.getAll('switchyard.position')) {
    const match = /^([a-zA-Z\d\-_.]{1,99}):([a-zA-Z\d]{1,64}):(\d{1,15})$/.exec(value);
    if (match !== null) {
      positions.set(match[1]!, { epoch: match[2]!, offset: Number(match[3]) });
      continue;
    }
    // A group with a position that cannot be read: where the client stands is unknown, so
    // its join answers recovered:false (and what is kept) rather than pretending all is there.
    const group = /^([a-zA-Z\d\-_.]{1,99}):/.exec(value)?.[1];
    if (group !== undefined) positions.set(group, UNKNOWN_POSITION);
    logger.debug({ position: value.slice(0, 120) }, 'recovery: a switchyard.position that cannot be read');
  }
  return positions;
}

// Marked frames of the last broadcast: every member of a broadcast sends the same text for the same position.
let lastText: string | null = null;
let lastPosition: MessagePosition | null = null;
let lastMarked: WebsocketSendEvent | null = null;

/** The text frame wrapped in an `m` frame with its position (one object per broadcast). */
function markedFrame(text: string, position: MessagePosition): WebsocketSendEvent {
  if (text === lastText && position === lastPosition) return lastMarked!;
  lastText = text;
  lastPosition = position;
  lastMarked = Object.freeze({
    type: 'websocket.send',
    text: `{"$sy":"m","g":${JSON.stringify(position.group)},"e":${JSON.stringify(position.epoch)},"o":${position.offset},"d":${JSON.stringify(text)}}`,
  });
  return lastMarked;
}

// The position mark of the last broadcast: every member that sent no frame of its own sends the same one.
let lastMarkedPosition: MessagePosition | null = null;
let lastMark: WebsocketSendEvent | null = null;

/** A `p` frame: the client's position moves with no app frame (one object per broadcast). */
function positionMark(position: MessagePosition): WebsocketSendEvent {
  if (position === lastMarkedPosition) return lastMark!;
  lastMarkedPosition = position;
  lastMark = Object.freeze({ type: 'websocket.send', text: JSON.stringify({ $sy: 'p', g: position.group, e: position.epoch, o: position.offset }) });
  return lastMark;
}

function outcome(group: string, epoch: string, offset: number, recovered: boolean, replayed: number): OutcomeFrame {
  return new OutcomeFrame(JSON.stringify({ $sy: 'r', g: group, e: epoch, o: offset, recovered, replayed }));
}

/** Recovery for one connection (see the module doc). */
export class RecoverySession {
  readonly #host: RecoveryHost;
  readonly #layer: ChannelLayer;
  readonly #requested: Map<string, StreamPosition>;
  readonly #inject: (messages: readonly object[]) => void;
  readonly #handle: (message: LayerMessage) => unknown;
  readonly #groups = new Map<string, GroupState>();
  /** The position of the stamped message whose handler is running its synchronous part. */
  #current: MessagePosition | null = null;
  #marked = false;
  #ended = false;

  /**
   * `inject` queues messages ahead of the channel's in the consumer's layer
   * lane; `handle` runs a layer message's handler.
   */
  constructor(
    host: RecoveryHost,
    layer: ChannelLayer,
    requested: Map<string, StreamPosition>,
    inject: (messages: readonly object[]) => void,
    handle: (message: LayerMessage) => unknown,
  ) {
    this.#host = host;
    this.#layer = layer;
    this.#requested = requested;
    this.#inject = inject;
    this.#handle = handle;
  }

  /** The consumer's channel joined `group`: queue the outcome and the replay of what the client missed. */
  async joined(group: string): Promise<void> {
    if (this.#groups.has(group) || this.#layer.readHistory === undefined) return;
    const since = this.#requested.get(group) ?? null;
    const read = await sharedRead(this.#layer, group, since);
    if (read === null) return;
    const floor = since !== null && read.recovered ? since.offset : read.messages.length > 0 ? offsetOf(read.messages[0]!) - 1 : read.top;
    if (since !== null) {
      if (read.recovered) recoveryCounts.recovered++;
      else recoveryCounts.notRecovered++;
    }
    recoveryCounts.replayed += read.messages.length;
    const unwatch = onGroupResync(group, this.#resynced);
    this.#groups.set(group, { epoch: read.epoch, floor, held: new Map(), gapTimer: null, unwatch });
    this.#inject([outcome(group, read.epoch, floor, since === null || read.recovered, read.messages.length), ...read.messages]);
  }

  /** The consumer's channel left `group`. */
  left(group: string): void {
    const state = this.#groups.get(group);
    if (state === undefined) return;
    if (state.gapTimer) clearTimeout(state.gapTimer);
    state.unwatch();
    this.#groups.delete(group);
  }

  /** The layer may have missed live messages of the group for this process: read what came after the floor. */
  readonly #resynced = (group: string): void => {
    const state = this.#groups.get(group);
    if (state === undefined || state.gapTimer !== null) return;
    state.gapTimer = setTimeout(() => void this.#repair(group, true), 0);
  };

  /**
   * Runs the message's handler if it is due (not a duplicate), with its
   * frames marked; returns what the handler returns.
   */
  deliver(message: LayerMessage | OutcomeFrame): unknown {
    const handle = this.#handle;
    if (message instanceof OutcomeFrame) return this.#send({ type: 'websocket.send', text: message.text });
    const position = this.#admit(message);
    if (position === SKIP) return undefined;
    if (position === null) return handle(message);
    // A send that left this member out (in a group with history it still arrives): only the client's position moves.
    if (exceptOf(message) === this.#host.channelName) return this.#send(positionMark(position));
    this.#current = position;
    this.#marked = false;
    let result: unknown;
    try {
      result = handle(message);
    } finally {
      this.#current = null;
    }
    if (this.#marked) return result;
    // Nothing carried the position: a mark follows whatever the handler sends.
    if (result instanceof Promise) return result.then(() => this.#send(positionMark(position)));
    return this.#send(positionMark(position));
  }

  /** A frame the consumer sends: wrapped with the position of the event being handled, if any. */
  mark(event: WebsocketSendEvent): WebsocketSendEvent {
    const position = this.#current;
    if (position === null || typeof event.text !== 'string') return event;
    this.#marked = true;
    return markedFrame(event.text, position);
  }

  /** Stops the gap timers (the instance ended). */
  end(): void {
    this.#ended = true;
    for (const group of [...this.#groups.keys()]) this.left(group);
  }

  /**
   * The message's position if it is due now; SKIP for a duplicate, or for a
   * message past a gap (held until the gap is filled); null when it is not a
   * tracked group's.
   */
  #admit(message: LayerMessage): MessagePosition | typeof SKIP | null {
    const position = positionOf(message);
    if (position === null) return null;
    const state = this.#groups.get(position.group);
    if (state === undefined) return null;
    const offset = position.offset;
    if (position.epoch !== state.epoch) {
      // The history was lost (Redis restarted empty): start over in the new epoch.
      this.#startOver(state, position.epoch);
      recoveryCounts.notRecovered++;
      this.#send({ type: 'websocket.send', text: outcome(position.group, state.epoch, 0, false, 0).text });
    } else if (offset <= state.floor || state.held.has(offset)) return SKIP;
    if (offset !== state.floor + 1) {
      // Past a gap: held, so that the client gets its group in order, until the missing
      // message arrives (a racing sender's) or the history is read for it.
      state.held.set(offset, message);
      if (state.held.size >= MAX_HELD) this.#repairSoon(position.group, state, 0);
      else this.#repairSoon(position.group, state, GAP_WAIT_MS);
      return SKIP;
    }
    state.floor = offset;
    if (state.held.size > 0) this.#release(state);
    return position;
  }

  /** Queues the held messages that follow the floor, in order. */
  #release(state: GroupState): void {
    const next: LayerMessage[] = [];
    for (let offset = state.floor + 1; state.held.has(offset); offset++) {
      next.push(state.held.get(offset)!);
      state.held.delete(offset);
    }
    this.#inject(next);
    if (state.held.size === 0 && state.gapTimer !== null) {
      clearTimeout(state.gapTimer);
      state.gapTimer = null;
    }
  }

  #startOver(state: GroupState, epoch: string): void {
    state.epoch = epoch;
    state.floor = 0;
    state.held.clear();
  }

  #repairSoon(group: string, state: GroupState, ms: number): void {
    if (state.gapTimer !== null) {
      if (ms > 0) return;
      clearTimeout(state.gapTimer);
    }
    state.gapTimer = setTimeout(() => void this.#repair(group), ms);
  }

  /**
   * Reads what follows the floor from the history: a gap's missing messages,
   * or after a resync whatever went by; what it no longer has is declared lost.
   * Then everything after the floor (read or held) is queued in order.
   */
  async #repair(group: string, resync = false): Promise<void> {
    const state = this.#groups.get(group);
    if (state === undefined || this.#ended) return;
    state.gapTimer = null;
    if (state.held.size === 0 && !resync) return;
    const epoch = state.epoch;
    let read: HistoryRead | null;
    try {
      read = await sharedRead(this.#layer, group, { epoch, offset: state.floor });
    } catch (error) {
      if (!(error instanceof LayerUnavailableError)) throw error;
      logger.warn({ group, err: error.message }, 'recovery: the history cannot be read now; will retry');
      if (!this.#ended && this.#groups.get(group) === state) this.#repairSoon(group, state, GAP_WAIT_MS * 4);
      return;
    }
    if (read === null || this.#ended || this.#groups.get(group) !== state || state.epoch !== epoch) return;
    const queued: object[] = [];
    if (!read.recovered) {
      // Lost for good (out of the window, or the history itself was lost): the floor moves
      // to just under what the history still holds, and the client is told.
      if (read.epoch !== epoch) this.#startOver(state, read.epoch);
      const first = read.messages.length > 0 ? offsetOf(read.messages[0]!) : read.top + 1;
      logger.warn({ group, lost: Math.max(0, first - 1 - state.floor) }, 'recovery: messages were lost before they reached this connection; the client is told (recovered: false)');
      state.floor = Math.max(state.floor, first - 1);
      recoveryCounts.notRecovered++;
      queued.push(outcome(group, state.epoch, state.floor, false, read.messages.length));
    }
    const after = new Map<number, LayerMessage>(state.held);
    for (const message of read.messages) after.set(offsetOf(message), message);
    state.held.clear();
    for (const offset of [...after.keys()].sort((a, b) => a - b)) if (offset > state.floor) queued.push(after.get(offset)!);
    recoveryCounts.replayed += read.messages.length;
    this.#inject(queued);
  }

  #send(event: WebsocketSendEvent): Promise<void> | undefined {
    if (!this.#host.accepted || this.#host.closed) return undefined;
    return this.#host.baseSend(event);
  }
}

/** History reads in flight, by layer, group and position: the members of a group in one process catching up share one read. */
const reads = new WeakMap<ChannelLayer, Map<string, Promise<HistoryRead | null>>>();

function sharedRead(layer: ChannelLayer, group: string, since: StreamPosition | null): Promise<HistoryRead | null> {
  let inFlight = reads.get(layer);
  if (inFlight === undefined) reads.set(layer, (inFlight = new Map()));
  const key = since === null ? group : `${group}:${since.epoch}:${since.offset}`;
  let read = inFlight.get(key);
  if (read === undefined) {
    read = layer.readHistory!(group, since, READ_LIMIT);
    inFlight.set(key, read);
    const forget = () => inFlight.delete(key);
    read.then(forget, forget);
  }
  return read;
}

function offsetOf(message: LayerMessage): number {
  return positionOf(message)!.offset;
}
