/**
 * The layer a consumer sees as `this.channelLayer`: the configured layer,
 * remembering which groups the consumer's own channel joined, so that the
 * consumer leaves them when it ends, however it ends (django/channels#1466).
 */
import type { LayerMessage } from '../asgi.js';
import type { ChannelLayer } from '../layers/base.js';

/** Delegates to a layer, remembering the groups one channel joins. */
export class MembershipTrackingLayer implements ChannelLayer {
  readonly #layer: ChannelLayer;
  readonly #own: string;
  readonly #joined: string[];
  constructor(layer: ChannelLayer, own: string, joined: string[]) {
    this.#layer = layer;
    this.#own = own;
    this.#joined = joined;
  }
  get extensions() { return this.#layer.extensions; }
  get expiry() { return this.#layer.expiry; }
  send(channel: string, message: LayerMessage) { return this.#layer.send(channel, message); }
  receive(channel: string, signal?: AbortSignal) { return this.#layer.receive(channel, signal); }
  newChannel(prefix?: string) { return this.#layer.newChannel(prefix); }
  groupSend(group: string, message: LayerMessage) { return this.#layer.groupSend(group, message); }
  flush() { return this.#layer.flush(); }
  close() { return this.#layer.close(); }
  async groupAdd(group: string, channel: string) {
    await this.#layer.groupAdd(group, channel);
    if (channel === this.#own && !this.#joined.includes(group)) this.#joined.push(group);
  }
  async groupDiscard(group: string, channel: string) {
    if (channel === this.#own) {
      const index = this.#joined.indexOf(group);
      if (index !== -1) this.#joined.splice(index, 1);
    }
    await this.#layer.groupDiscard(group, channel);
  }
}
