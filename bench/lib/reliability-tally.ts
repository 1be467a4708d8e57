/**
 * What one client of scenario (r) received, against what it should have.
 *
 * The sender numbers its messages 1..M and notes when it sent each
 * (`sentAt`, the same process's clock). A client should receive every
 * message sent since its first connection, exactly once, in order. Each
 * receipt is classed as it arrives:
 *
 * - a *duplicate*: that number was received before;
 * - *out of order*: a number below the highest received so far;
 * - a *replay*: the first receipt, after a reconnection, of a message sent
 *   before that reconnection opened (while the client was away, or in flight
 *   when its link died); its latency counts from the reconnection's open.
 */
import type { Histogram } from './hist.js';

export class Tally {
  /** Receipts per message number (saturating at 255). */
  readonly #counts: Uint8Array;
  #highest = 0;
  /** When the first connection opened (ms, performance.now()); -1 before. */
  firstOpenAt = -1;
  /** When the latest reconnection opened; -1 before the first reconnection. */
  reopenAt = -1;
  /** When the link was last cut; -1 when it is up. */
  cutAt = -1;
  distinct = 0;
  duplicates = 0;
  outOfOrder = 0;
  cuts = 0;
  reconnects = 0;
  /** Ms from each cut to the reconnection that followed it. */
  readonly offline: number[] = [];
  /** Outcomes of reconnections: recovered, or told (or found) not to be. */
  recovered = 0;
  notRecovered = 0;
  /** Messages the server announced it would replay (Switchyard's `replayed`). */
  announcedReplays = 0;

  constructor(messages: number) {
    this.#counts = new Uint8Array(messages + 1);
  }

  opened(now: number): void {
    if (this.firstOpenAt < 0) {
      this.firstOpenAt = now;
      return;
    }
    this.reconnects += 1;
    this.reopenAt = now;
    if (this.cutAt >= 0) this.offline.push(now - this.cutAt);
    this.cutAt = -1;
  }

  cut(now: number): void {
    this.cuts += 1;
    this.cutAt = now;
  }

  /** Message `seq` arrived `now`; `sentAt` is when it was sent; replay latencies (µs) go to `replays`. */
  receive(seq: number, now: number, sentAt: number, replays: Histogram): void {
    if (seq <= 0 || seq >= this.#counts.length) return;
    const count = this.#counts[seq]!;
    if (count < 255) this.#counts[seq] = count + 1;
    if (count > 0) {
      this.duplicates += 1;
      return;
    }
    this.distinct += 1;
    if (seq < this.#highest) this.outOfOrder += 1;
    else this.#highest = seq;
    if (this.reopenAt >= 0 && sentAt < this.reopenAt) replays.recordValue(Math.max(1, Math.round((now - this.reopenAt) * 1000)));
  }

  /** Messages this client should have received: those sent since its first connection. */
  expected(sentAt: Float64Array, sent: number): number {
    if (this.firstOpenAt < 0) return 0;
    let n = 0;
    for (let seq = 1; seq <= sent; seq++) if (sentAt[seq]! >= this.firstOpenAt) n += 1;
    return n;
  }

  /** Of those, how many arrived (at least once). */
  deliveredOf(sentAt: Float64Array, sent: number): number {
    let n = 0;
    for (let seq = 1; seq <= sent; seq++) if (sentAt[seq]! >= this.firstOpenAt && this.#counts[seq]! > 0) n += 1;
    return n;
  }
}
