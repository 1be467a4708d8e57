/**
 * The layer a consumer sees as `this.channelLayer`: the configured layer,
 * remembering which groups the consumer's own channel joined, so that the
 * consumer leaves them when it ends, however it ends (django/channels#1466).
 * Every other member (taps and leases included) is the inner layer's.
 */
import { DelegatingLayer } from '../layers/delegating.js';
import type { ChannelLayer } from '../layers/base.js';

/** Delegates to a layer, remembering the groups one channel joins. */
export class MembershipTrackingLayer extends DelegatingLayer {
  readonly #own: string;
  readonly #joined: string[];

  constructor(layer: ChannelLayer, own: string, joined: string[]) {
    super(layer);
    this.#own = own;
    this.#joined = joined;
  }

  override async groupAdd(group: string, channel: string): Promise<void> {
    await this.inner.groupAdd(group, channel);
    if (channel === this.#own && !this.#joined.includes(group)) this.#joined.push(group);
  }

  override async groupDiscard(group: string, channel: string): Promise<void> {
    if (channel === this.#own) {
      const index = this.#joined.indexOf(group);
      if (index !== -1) this.#joined.splice(index, 1);
    }
    await this.inner.groupDiscard(group, channel);
  }
}
