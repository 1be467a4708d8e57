/**
 * The other replicas, as one replica knows them: for each peer its channel,
 * the number of its latest change applied here, when it was last heard from,
 * and a read-only copy of its entries. This module keeps those copies in
 * step with what the peer broadcasts: a *delta* numbered right after the
 * last one is applied; a gap (a lost message, a full channel), or a
 * heartbeat whose number does not match, makes the replica ask the peer for
 * its full *state*, which then replaces the copy. Whether a change joins or
 * leaves a key depends on the merged view, so `Presence` (which also holds
 * the local entries) applies ops and reports changes through the hooks.
 *
 * @internal
 */
import type { LayerMessage } from '../asgi.js';
import { ChangeSet, isOp, isRow, type Entries, type Op, type Peer, type Row } from './state.js';

/** What the peers need of their `Presence`. */
export interface PeerHooks {
  /** Applies `op` to a peer's entries, noting the change in `change`. */
  apply(entries: Entries, op: Op, change: ChangeSet): void;
  /** Reports a change of the merged view to the local subscribers. */
  emit(change: ChangeSet): void;
  /** Asks `peer` for its full state (sent straight to this replica's channel). */
  askState(peer: Peer): void;
}

export class Peers {
  readonly #byReplica = new Map<string, Peer>();
  readonly #hooks: PeerHooks;

  constructor(hooks: PeerHooks) {
    this.#hooks = hooks;
  }

  /** The replica ids of the peers currently known. */
  get ids(): string[] {
    return [...this.#byReplica.keys()];
  }

  /** Each peer's copy of entries, for the merged view. */
  *entries(): IterableIterator<Entries> {
    for (const peer of this.#byReplica.values()) yield peer.entries;
  }

  /** True when some peer holds an entry of `key` on `topic`. */
  holds(topic: string, key: string): boolean {
    for (const peer of this.#byReplica.values()) if ((peer.entries.get(topic)?.get(key)?.size ?? 0) > 0) return true;
    return false;
  }

  /**
   * A `presence.delta`, `presence.heartbeat` or `presence.state` from
   * `replica` (a peer first heard of is added). Messages without a channel or
   * a version are ignored.
   */
  receive(replica: string, message: LayerMessage): void {
    const channel = typeof message.channel === 'string' ? message.channel : null;
    const version = typeof message.version === 'number' ? message.version : null;
    if (channel === null || version === null) return;
    let peer = this.#byReplica.get(replica);
    if (peer === undefined) {
      peer = { channel, version: -1, lastSeen: Date.now(), entries: new Map(), syncAskedAt: 0 };
      this.#byReplica.set(replica, peer);
    }
    peer.lastSeen = Date.now();
    peer.channel = channel;
    switch (message.type) {
      case 'presence.delta':
        if (version === peer.version + 1 && Array.isArray(message.ops)) {
          const change = new ChangeSet();
          for (const op of message.ops) if (isOp(op)) this.#hooks.apply(peer.entries, op, change);
          peer.version = version;
          this.#hooks.emit(change);
        } else if (version > peer.version) {
          this.#hooks.askState(peer);
        }
        break;
      case 'presence.heartbeat':
        if (version !== peer.version) this.#hooks.askState(peer);
        break;
      case 'presence.state':
        if (version >= peer.version && Array.isArray(message.rows)) this.#replaceState(peer, message.rows.filter(isRow), version);
        break;
    }
  }

  /** Forgets `replica` (it said goodbye, or fell silent), reporting its entries as gone. */
  drop(replica: string): void {
    const peer = this.#byReplica.get(replica);
    if (peer === undefined) return;
    const change = new ChangeSet();
    for (const [topic, keys] of [...peer.entries]) {
      for (const [key, refs] of [...keys]) for (const ref of [...refs.keys()]) this.#hooks.apply(peer.entries, ['remove', topic, key, ref, null], change);
    }
    this.#byReplica.delete(replica);
    this.#hooks.emit(change);
  }

  /** The peers not heard from for more than `timeout` ms, with their replica ids (still known: the caller drops them). */
  silent(now: number, timeout: number): Array<[string, Peer]> {
    return [...this.#byReplica].filter(([, peer]) => now - peer.lastSeen > timeout);
  }

  #replaceState(peer: Peer, rows: Row[], version: number): void {
    const change = new ChangeSet();
    const incoming = new Set(rows.map(([topic, key, ref]) => `${topic}\0${key}\0${ref}`));
    for (const [topic, keys] of [...peer.entries]) {
      for (const [key, refs] of [...keys]) {
        for (const ref of [...refs.keys()]) {
          if (!incoming.has(`${topic}\0${key}\0${ref}`)) this.#hooks.apply(peer.entries, ['remove', topic, key, ref, null], change);
        }
      }
    }
    for (const [topic, key, ref, meta] of rows) {
      if (!peer.entries.get(topic)?.get(key)?.has(ref)) this.#hooks.apply(peer.entries, ['add', topic, key, ref, meta], change);
    }
    peer.version = version;
    this.#hooks.emit(change);
  }
}
