/**
 * `DelegatingLayer`: the base of every layer wrapper (metrics, limits,
 * membership tracking). It forwards the whole {@link ChannelLayer} contract,
 * optional capabilities included, so that wrapping a layer never silently
 * loses one: a wrapped in-memory layer still offers taps (the fast consumer
 * lane) and leases (`runOnce`). A subclass overrides only what it changes.
 *
 * The optional members (`tap`, `lease`, `readHistory`, `localGroups`) are defined on the instance only when
 * the inner layer has them, so `isTappable()` and `isLeasable()` stay truthful.
 */
import type { LayerMessage } from '../asgi.js';
import type { ChannelLayer, ChannelTap, GroupSendOptions, LayerExtension, LocalGroups } from './base.js';
import type { Lease } from './lease.js';

type TapMember = NonNullable<ChannelLayer['tap']>;
type LeaseMember = NonNullable<ChannelLayer['lease']>;
type ReadHistoryMember = NonNullable<ChannelLayer['readHistory']>;

// Shared functions rather than per-instance closures: a wrapper is made per
// consumer, and a bound function would add an object to every connection.
function forwardTap(this: DelegatingLayer, ...args: Parameters<TapMember>): ChannelTap {
  return this.inner.tap!(...args);
}
function forwardLease(this: DelegatingLayer, name: string, ttlMs: number): Promise<Lease | null> {
  return this.inner.lease!(name, ttlMs);
}
function forwardReadHistory(this: DelegatingLayer, ...args: Parameters<ReadHistoryMember>): ReturnType<ReadHistoryMember> {
  return this.inner.readHistory!(...args);
}
function forwardLocalGroups(this: DelegatingLayer): LocalGroups {
  return this.inner.localGroups!();
}

/**
 * Forwards every member of a {@link ChannelLayer} to an inner layer.
 *
 * @example A layer that counts group sends
 * ```ts
 * import { DelegatingLayer, InMemoryChannelLayer, type LayerMessage } from 'switchyard';
 *
 * class CountingLayer extends DelegatingLayer {
 *   groupSends = 0;
 *   override groupSend(group: string, message: LayerMessage): Promise<void> {
 *     this.groupSends++;
 *     return super.groupSend(group, message);
 *   }
 * }
 * const layer = new CountingLayer(new InMemoryChannelLayer());
 * console.log(typeof layer.tap); // "function": the inner layer's taps are kept
 * ```
 */
export class DelegatingLayer implements ChannelLayer {
  /** The wrapped layer. */
  readonly inner: ChannelLayer;
  declare tap?: TapMember;
  declare lease?: LeaseMember;
  declare readHistory?: ReadHistoryMember;
  declare localGroups?: () => LocalGroups;

  constructor(inner: ChannelLayer) {
    this.inner = inner;
    if (typeof inner.tap === 'function') this.tap = forwardTap;
    if (typeof inner.lease === 'function') this.lease = forwardLease;
    if (typeof inner.readHistory === 'function') this.readHistory = forwardReadHistory;
    if (typeof inner.localGroups === 'function') this.localGroups = forwardLocalGroups;
  }

  get extensions(): readonly LayerExtension[] { return this.inner.extensions; }
  get expiry(): number { return this.inner.expiry; }
  send(channel: string, message: LayerMessage): Promise<void> { return this.inner.send(channel, message); }
  receive(channel: string, signal?: AbortSignal): Promise<LayerMessage> { return this.inner.receive(channel, signal); }
  newChannel(prefix?: string): Promise<string> { return this.inner.newChannel(prefix); }
  groupAdd(group: string, channel: string): Promise<void> { return this.inner.groupAdd(group, channel); }
  groupDiscard(group: string, channel: string): Promise<void> { return this.inner.groupDiscard(group, channel); }
  groupSend(group: string, message: LayerMessage, options?: GroupSendOptions): Promise<void> { return this.inner.groupSend(group, message, options); }
  flush(): Promise<void> { return this.inner.flush(); }
  close(): Promise<void> { return this.inner.close(); }
}
