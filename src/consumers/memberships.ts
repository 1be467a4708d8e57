/**
 * The layer a consumer sees as `this.channelLayer`: the configured layer,
 * remembering which groups the consumer's own channel joined, so that the
 * consumer leaves them when it ends, however it ends (django/channels#1466).
 * Every other member (taps and leases included) is the inner layer's.
 */
import { DelegatingLayer } from '../layers/delegating.js';
import type { ChannelLayer } from '../layers/base.js';

/** What {@link MembershipTrackingLayer.observer} is told. */
export interface MembershipObserver {
  joined(group: string): Promise<void>;
  left(group: string): void;
}

/** Delegates to a layer, remembering the groups one channel joins. */
export class MembershipTrackingLayer extends DelegatingLayer {
  readonly #own: string;
  /** The groups joined, in order (null until the first: most connections join one or two). */
  #joined: string[] | null = null;

  constructor(layer: ChannelLayer, own: string) {
    super(layer);
    this.#own = own;
  }

  /** The groups the own channel is in, in the order it joined them. */
  get joined(): readonly string[] {
    return this.#joined ?? [];
  }

  /** Leaves every group the own channel joined (when the consumer ends); never rejects. */
  async leaveAll(): Promise<void> {
    const groups = this.#joined;
    if (groups === null || groups.length === 0) return;
    this.#joined = null;
    await Promise.allSettled(groups.map((group) => this.inner.groupDiscard(group, this.#own)));
  }

  /** Told when the own channel joins or leaves a group (recovery reads the group's history on a join). */
  observer: MembershipObserver | null = null;

  override async groupAdd(group: string, channel: string): Promise<void> {
    await this.inner.groupAdd(group, channel);
    if (channel !== this.#own) return;
    if (this.#joined === null) this.#joined = [group];
    else if (!this.#joined.includes(group)) this.#joined.push(group);
    if (this.observer !== null) await this.observer.joined(group);
  }

  override async groupDiscard(group: string, channel: string): Promise<void> {
    if (channel === this.#own) {
      const index = this.#joined?.indexOf(group) ?? -1;
      if (index !== -1) this.#joined!.splice(index, 1);
      this.observer?.left(group);
    }
    await this.inner.groupDiscard(group, channel);
  }
}
