/**
 * Presence: who is connected to a topic, across every process sharing a
 * channel layer (Phoenix Presence is the model).
 *
 * How it works. Each process runs one {@link Presence} per layer (a
 * *replica*). A replica owns the entries its own connections `track()`, and
 * keeps a read-only copy of every other replica's entries. Changes travel
 * through one layer group (`presence.<name>`) that every replica joins with
 * its own channel:
 *
 * - every local change is broadcast as a numbered *delta*; a replica that
 *   sees a gap in a peer's numbers (a message lost, a channel full) asks
 *   that peer for its full *state*, sent straight to the asker's channel;
 * - every `heartbeatInterval` each replica broadcasts a heartbeat carrying
 *   its latest number (an unknown peer, or a number that does not match,
 *   triggers the same state request), and refreshes its group membership;
 * - a replica not heard from for `replicaTimeout` is considered dead (a
 *   crashed or killed process): its entries are dropped and their leaves
 *   reported, so a killed process's users vanish within that bound;
 * - a replica that closes cleanly says goodbye, and peers drop it at once;
 * - a new replica asks everybody for their state when it starts (on its
 *   first `subscribe()` or `track()`, or an explicit `start()`).
 *
 * The merged view is the same on every replica once messages settle. Each
 * replica reports changes of that view to its local subscribers only, so a
 * connection hears each change exactly once whichever process it is on.
 * A key (a user) may have several entries (tabs, devices, processes): it
 * *joins* when its first entry appears and *leaves* when its last one goes.
 * Metas must be JSON/msgpack-able plain objects.
 *
 * This file holds the replica and its local entries; the copies of the
 * peers' entries, and how deltas and states keep them in step, are in
 * `peers.ts`.
 */
import { randomBytes } from 'node:crypto';
import type { LayerMessage } from '../asgi.js';
import type { ChannelLayer } from '../layers/base.js';
import { PresenceClosed, PresenceNotFound } from '../errors.js';
import { RepeatedErrorLog, retryDelay } from '../backoff.js';
import { logger } from '../log.js';
import { requireValidChannelName, requireValidGroupName } from '../layers/base.js';
import {
  type DirectoryAnswer, type DirectoryOptions, type DirectoryQuestion, DirectoryQuestions, answerQuestion, directoryOptions, localAnswer,
} from './directory.js';
import { Peers } from './peers.js';
import { Subscribers } from './subscribers.js';
import {
  ChangeSet, applyOp, changesOf,
  type Entries, type Op, type Peer, type PresenceChange, type PresenceList, type PresenceMeta, type Row,
} from './state.js';

export type { ListedMeta, PresenceChange, PresenceList, PresenceMeta } from './state.js';

/** Options of a {@link Presence}. */
export interface PresenceOptions {
  /** The layer every replica shares. */
  layer: ChannelLayer;
  /** Replicas with the same name share state. Default `default`. */
  name?: string;
  /** Milliseconds between heartbeats. Default 1500 (Phoenix's broadcast period). */
  heartbeatInterval?: number;
  /** Milliseconds of silence after which a peer is dropped. Default 5 × heartbeatInterval. */
  replicaTimeout?: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/**
 * Tracks who is present on which topic, over any channel layer.
 *
 * @example
 * ```ts
 * import { getChannelLayer } from 'switchyard';
 * import { Presence } from 'switchyard/presence';
 *
 * declare const socket: WebSocket;
 * const presence = Presence.forLayer(getChannelLayer()!);
 * const unsubscribe = presence.subscribe('room:lobby', (change) => {
 *   for (const name of change.joined) socket.send(JSON.stringify({ type: 'user_join', username: name }));
 * });
 * const ref = await presence.track('room:lobby', 'alice', { since: Date.now() });
 * presence.list('room:lobby'); // { alice: { metas: [{ since: …, ref }] } }
 * await presence.untrack('room:lobby', 'alice', ref);
 * ```
 */
export class Presence<M extends PresenceMeta = PresenceMeta> {
  static readonly #byLayer = new WeakMap<ChannelLayer, Map<string, Presence>>();

  /** The replica of this process for `layer` (and `name`), created on first use. */
  static forLayer<M extends PresenceMeta = PresenceMeta>(layer: ChannelLayer, options: Omit<PresenceOptions, 'layer'> = {}): Presence<M> {
    const name = options.name ?? 'default';
    let byName = Presence.#byLayer.get(layer);
    if (byName === undefined) Presence.#byLayer.set(layer, (byName = new Map()));
    let presence = byName.get(name);
    if (presence === undefined) byName.set(name, (presence = new Presence({ ...options, layer, name })));
    return presence as unknown as Presence<M>;
  }

  /** This replica's id. */
  readonly replica = randomBytes(8).toString('hex');
  readonly #layer: ChannelLayer;
  readonly #group: string;
  readonly #heartbeat: number;
  /** The receive loop's failures: the first logged, then a summary a minute, and the recovery. */
  readonly #receiveErrors = new RepeatedErrorLog(() => logger, 'presence: receive failed', 60_000, 'warn');
  readonly #timeout: number;
  readonly #local: Entries = new Map();
  readonly #peers = new Peers({
    apply: (entries, op, change) => this.#apply(entries, op, change),
    emit: (change) => this.#emit(change),
    askState: (peer) => this.#askState(peer),
  });
  readonly #subscribers = new Subscribers<M>();
  readonly #questions = new DirectoryQuestions();
  #version = 0;
  #channel = '';
  #starting: Promise<void> | null = null;
  #timer: NodeJS.Timeout | null = null;
  readonly #abort = new AbortController();

  constructor(options: PresenceOptions) {
    this.#layer = options.layer;
    this.#group = `presence.${options.name ?? 'default'}`;
    this.#heartbeat = options.heartbeatInterval ?? 1500;
    this.#timeout = options.replicaTimeout ?? 5 * this.#heartbeat;
  }

  /** Joins the replicas' group and asks peers for their state; `track()` calls it. Idempotent; after `close()` it rejects with `PresenceClosed`. */
  start(): Promise<void> {
    if (this.#abort.signal.aborted) return Promise.reject(new PresenceClosed());
    this.#starting ??= (async () => {
      this.#channel = await this.#layer.newChannel('presence');
      await this.#layer.groupAdd(this.#group, this.#channel);
      if (this.#abort.signal.aborted) return; // closed while starting
      void this.#receiveLoop();
      this.#timer = setInterval(() => void this.#tick(), this.#heartbeat);
      this.#timer.unref();
      await this.#broadcast({ type: 'presence.sync', replica: this.replica, reply_to: this.#channel });
    })();
    // A failed start (the layer unreachable) is retried by the next call.
    this.#starting.catch(() => (this.#starting = null));
    return this.#starting;
  }

  /** Adds an entry for `key` on `topic` and returns its ref (for `untrack`/`update`). */
  async track(topic: string, key: string, meta: M): Promise<string> {
    await this.start();
    const ref = randomBytes(9).toString('base64url');
    await this.#localOps([['add', topic, key, ref, { ...meta }]]);
    return ref;
  }

  /** Removes one entry (by ref), or every local entry of `key` on `topic`. */
  async untrack(topic: string, key: string, ref?: string): Promise<void> {
    const refs = this.#local.get(topic)?.get(key);
    if (refs === undefined) return;
    const gone = ref === undefined ? [...refs.keys()] : refs.has(ref) ? [ref] : [];
    if (gone.length > 0) await this.#localOps(gone.map((r): Op => ['remove', topic, key, r, null]));
  }

  /**
   * Replaces an entry's meta (reported as a leave of the old meta and a join of the new, as Phoenix does).
   * Throws `PresenceNotFound` when this replica holds no entry `ref`.
   */
  async update(topic: string, key: string, ref: string, meta: M): Promise<void> {
    if (!this.#local.get(topic)?.get(key)?.has(ref)) throw new PresenceNotFound(topic, key, ref);
    await this.#localOps([['remove', topic, key, ref, null], ['add', topic, key, ref, { ...meta }]]);
  }

  /** The merged presences of a topic, every replica included. */
  list(topic: string): PresenceList<M> {
    const out: PresenceList<M> = {};
    for (const entries of [this.#local, ...this.#peers.entries()]) {
      for (const [key, refs] of entries.get(topic) ?? []) {
        for (const [ref, meta] of refs) (out[key] ??= { metas: [] }).metas.push({ ...(meta as M), ref });
      }
    }
    return out;
  }

  /** The topics with at least one entry in the merged view, every replica included (for diagnostics: the admin dashboard). */
  topics(): string[] {
    const topics = new Set(this.#local.keys());
    for (const entries of this.#peers.entries()) for (const [topic, keys] of entries) if (keys.size > 0) topics.add(topic);
    return [...topics];
  }

  /**
   * Calls `listener` with every change of `topic`'s merged view; returns the
   * unsubscribe function. Listeners hear a change in the order they
   * subscribed; one that throws is logged and the others still hear. Starts
   * the replica (without waiting; a start that failed is tried again): a
   * process that only watches, tracking nobody itself, must still hear the
   * others. A subscription costs a slot in its topic's set and the returned
   * function, nothing more (`subscribers.ts`), so one per connection is cheap.
   */
  subscribe(topic: string, listener: (change: PresenceChange<M>) => void): () => void {
    // Not started, or a start that failed (it resets #starting): start, without waiting.
    if (this.#starting === null && !this.#abort.signal.aborted) {
      this.start().catch((error: unknown) => logger.warn({ err: error }, 'presence: start failed; the next subscribe or track retries'));
    }
    return this.#subscribers.subscribe(topic, listener);
  }

  /**
   * The channels in `group`, on every process that runs a replica: this
   * process's at once, the others' asked through the replicas' group (one
   * message out, one back per replica), waiting at most `timeoutMs`
   * (`complete: false` when a replica did not answer in time). See
   * `directory.ts` for the cost.
   *
   * @example
   * ```ts
   * import { getChannelLayer } from 'switchyard';
   * import { Presence } from 'switchyard/presence';
   *
   * const { names, total, complete } = await Presence.forLayer(getChannelLayer()!).groupMembers('chat_lobby', { timeoutMs: 300 });
   * ```
   */
  async groupMembers(group: string, options: DirectoryOptions = {}): Promise<DirectoryAnswer> {
    requireValidGroupName(group);
    return this.#askDirectory({ group }, options);
  }

  /** The groups `channel` is in, wherever it lives (asked as {@link groupMembers} asks). */
  async groupsOf(channel: string, options: DirectoryOptions = {}): Promise<DirectoryAnswer> {
    requireValidChannelName(channel);
    return this.#askDirectory({ channel }, options);
  }

  async #askDirectory(question: DirectoryQuestion, options: DirectoryOptions): Promise<DirectoryAnswer> {
    const resolved = directoryOptions(options);
    const own = localAnswer(this.#layer, question, resolved.limit);
    await this.start();
    const asked = 'group' in question ? { group: question.group } : { channel_of: question.channel };
    return this.#questions.ask(own, this.peers, resolved, (id) =>
      this.#layer.groupSend(this.#group, { type: 'presence.query', replica: this.replica, reply_to: this.#channel, id, limit: resolved.limit, ...asked }));
  }

  /** Peers currently known (for diagnostics and tests). */
  get peers(): string[] {
    return this.#peers.ids;
  }

  /**
   * Stops. Gracefully (default) the peers are told and drop this replica's
   * entries at once; `{ graceful: false }` just goes silent, as a crashed
   * process would (peers drop it after `replicaTimeout`).
   */
  async close(options: { graceful?: boolean } = {}): Promise<void> {
    this.#abort.abort();
    if (this.#starting === null) return;
    await this.#starting.catch(() => {});
    if (this.#timer !== null) clearInterval(this.#timer);
    if (options.graceful ?? true) {
      await this.#broadcast({ type: 'presence.bye', replica: this.replica });
      await this.#layer.groupDiscard(this.#group, this.#channel).catch(() => {});
    }
  }

  // ---- local changes ---------------------------------------------------------------------

  async #localOps(ops: Op[]): Promise<void> {
    const change = new ChangeSet();
    for (const op of ops) this.#apply(this.#local, op, change);
    this.#version += 1;
    this.#emit(change);
    await this.#broadcast({ type: 'presence.delta', replica: this.replica, channel: this.#channel, version: this.#version, ops });
  }

  // ---- the merged view -------------------------------------------------------------------

  readonly #isPresent = (topic: string, key: string): boolean => this.#present(topic, key);
  readonly #isWatched = (topic: string): boolean => this.#subscribers.watched(topic);

  #present(topic: string, key: string): boolean {
    return (this.#local.get(topic)?.get(key)?.size ?? 0) > 0 || this.#peers.holds(topic, key);
  }

  #apply(entries: Entries, op: Op, change: ChangeSet): void {
    applyOp(entries, op, change, this.#isPresent);
  }

  #emit(change: ChangeSet): void {
    // A listener of an earlier topic may have unsubscribed this topic's last one: emit() finds none then.
    for (const event of changesOf<M>(change, this.#isPresent, this.#isWatched)) this.#subscribers.emit(event);
  }

  // ---- replication -----------------------------------------------------------------------

  async #broadcast(message: LayerMessage): Promise<void> {
    try {
      await this.#layer.groupSend(this.#group, message);
    } catch (error) {
      logger.warn({ err: error, type: message.type }, 'presence: broadcast failed (peers will resync)');
    }
  }

  async #receiveLoop(): Promise<void> {
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      let message: LayerMessage;
      try {
        message = await this.#layer.receive(this.#channel, signal);
      } catch (error) {
        if (signal.aborted) return;
        const wait = retryDelay(this.#receiveErrors.failures + 1, { minMs: 100, maxMs: Math.max(1000, this.#heartbeat) });
        this.#receiveErrors.failed(error, { channel: this.#channel }, `retrying in ${wait} ms`);
        await sleep(wait);
        continue;
      }
      this.#receiveErrors.recovered({ channel: this.#channel });
      try {
        this.#handle(message);
      } catch (error) {
        logger.warn({ err: error, type: message.type }, 'presence: bad message ignored');
      }
    }
  }

  #handle(message: LayerMessage): void {
    const replica = message.replica;
    if (typeof replica !== 'string' || replica === this.replica) return;
    if (message.type === 'presence.sync') {
      if (typeof message.reply_to === 'string') void this.#sendState(message.reply_to);
      return;
    }
    if (message.type === 'presence.query') {
      void answerQuestion(this.#layer, message, this.replica);
      return;
    }
    if (message.type === 'presence.answer') {
      this.#questions.take(message, replica);
      return;
    }
    if (message.type === 'presence.bye') {
      this.#peers.drop(replica);
      return;
    }
    this.#peers.receive(replica, message);
  }

  #askState(peer: Peer): void {
    const now = Date.now();
    if (now - peer.syncAskedAt < this.#heartbeat) return;
    peer.syncAskedAt = now;
    this.#layer.send(peer.channel, { type: 'presence.sync', replica: this.replica, reply_to: this.#channel }).catch((error: unknown) => {
      logger.warn({ err: error }, 'presence: state request failed');
    });
  }

  async #sendState(to: string): Promise<void> {
    const rows: Row[] = [];
    for (const [topic, keys] of this.#local) for (const [key, refs] of keys) for (const [ref, meta] of refs) rows.push([topic, key, ref, meta]);
    try {
      await this.#layer.send(to, { type: 'presence.state', replica: this.replica, channel: this.#channel, version: this.#version, rows });
    } catch (error) {
      logger.warn({ err: error }, 'presence: state reply failed');
    }
  }

  async #tick(): Promise<void> {
    const now = Date.now();
    for (const [replica, peer] of this.#peers.silent(now, this.#timeout)) {
      logger.warn({ replica, silentFor: now - peer.lastSeen }, 'presence: replica timed out; dropping its entries');
      this.#peers.drop(replica);
      // Its channel would otherwise stay a group member (and be written to) until the group expiry.
      this.#layer.groupDiscard(this.#group, peer.channel).catch(() => {});
    }
    try {
      await this.#layer.groupAdd(this.#group, this.#channel);
    } catch (error) {
      logger.warn({ err: error }, 'presence: group refresh failed');
    }
    await this.#broadcast({ type: 'presence.heartbeat', replica: this.replica, channel: this.#channel, version: this.#version });
  }
}
