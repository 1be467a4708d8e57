/**
 * `NatsChannelLayer`: a channel layer on core NATS, with group history on
 * JetStream and leases on JetStream KV. Not compatible with Django Channels
 * (channels_redis speaks Redis only); between Switchyard processes it keeps
 * the contract of the other layers (`layers/base.ts`, the conformance suite).
 *
 * How it works (subjects in `subjects.ts`):
 * - Each process mints its channels under one random id
 *   (`specific.<id>!<local>`) and subscribes ONCE to its process subject
 *   (`<prefix>.p.specific:<id>!`); a send to one of its channels is a NATS
 *   request to that subject carrying the message and its target
 *   (`__asgi_channel__`, as channels_redis frames it). The owning process
 *   queues the message in the channel's mailbox (`mailboxes.ts`) and answers:
 *   delivered, or full, which the sender raises as `ChannelFull`. A send to a
 *   process that is gone (no subscriber) is dropped, as a message to a dead
 *   channel expires unread in Django.
 * - A general channel (no `!`, e.g. a worker's `thumbnails`) is received
 *   through a NATS queue group, so one receiving process gets each message
 *   (`general-channels.ts`: subscribed while something receives it).
 * - A group is a subject every process with a local member subscribes to:
 *   `groupSend` is ONE publish whatever the group's size, each process
 *   decodes it once and hands the same frozen object to each of its
 *   members. Memberships are local and expire after `groupExpiry`.
 * - Messages are msgpack (msgpackr, as channels_redis frames them; optional
 *   Fernet encryption), checked by the rules every layer shares.
 * - While NATS is away every call fails with `LayerUnavailableError`; the
 *   client reconnects and resubscribes by itself, then the layer calls
 *   `groupsResynced()` for its groups so recovering consumers read what they
 *   missed from the history (`history.ts`). Core NATS keeps nothing for a
 *   subscriber that is away.
 */
import { randomInt } from 'node:crypto';
import { type Msg, type NatsConnection, NatsError } from 'nats';
import type { LayerMessage } from '../asgi.js';
import { ChannelFull, InvalidChannelLayerError, LayerUnavailableError, MessageTooLarge } from '../errors.js';
import {
  type ChannelLayer, type ChannelTap, type GroupSendOptions, type LayerExtension, type TapListener,
  type TappableLayer, compileCapacities, exceptOf, freezeMessage, nonLocalName, requireValidChannelName,
  requireValidGroupName, requireValidMessage, withExcept,
} from '../layers/base.js';
import { type HistoryRead, type StreamPosition, groupsResynced, positionOf } from '../layers/history.js';
import type { LocalGroups as LocalGroupsView } from '../layers/base.js';
import type { Lease, LeasableLayer } from '../layers/lease.js';
import type { SlowConsumer } from '../layers/slow-consumers.js';
import { type LayerLogger, LogThrottle } from '../redis/log.js';
import { ASGI_CHANNEL, type MessageCodec } from '../redis/wire.js';
import * as shared from '../log.js';
import { NatsLink, unavailable, within } from './connection.js';
import { GeneralChannels } from './general-channels.js';
import { NatsHistory } from './history.js';
import { NatsLeases } from './lease.js';
import type { NatsChannelLayerOptions, NatsLayerStats } from './config.js';
import { LocalGroups } from './groups.js';
import { LocalChannels } from './mailboxes.js';
import { NatsSubscriptions } from './subscriptions.js';
import { natsSettings } from './settings.js';
import { channelSubject, groupSubject } from './subjects.js';

const natsLogger: LayerLogger = {
  debug: (fields, message) => shared.logger.debug({ module: 'switchyard/nats', ...fields }, message),
  info: (fields, message) => shared.logger.info({ module: 'switchyard/nats', ...fields }, message),
  warn: (fields, message) => shared.logger.warn({ module: 'switchyard/nats', ...fields }, message),
  error: (fields, message) => shared.logger.error({ module: 'switchyard/nats', ...fields }, message),
};

const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
function randomLetters(count: number): string {
  let out = '';
  for (let i = 0; i < count; i++) out += LETTERS[randomInt(LETTERS.length)];
  return out;
}

/** The receiving process's answers to a send. */
const DELIVERED = new Uint8Array(0);
const FULL = new Uint8Array([0x46]); // "F"

/**
 * A channel layer on NATS.
 *
 * @example
 * ```ts
 * import { NatsChannelLayer } from 'switchyard/nats';
 *
 * const layer = new NatsChannelLayer({ servers: ['127.0.0.1:4222'], groupHistory: ['chat_*'] });
 * const me = await layer.newChannel();
 * await layer.groupAdd('chat_lobby', me);
 * await layer.groupSend('chat_lobby', { type: 'chat.message', text: 'hi' });
 * // or: CHANNEL_LAYER_URL=nats://127.0.0.1:4222?groupHistory=chat_*
 * ```
 */
export class NatsChannelLayer implements ChannelLayer, TappableLayer, LeasableLayer {
  readonly extensions: readonly LayerExtension[] = ['groups', 'flush'];
  readonly expiry: number;
  readonly groupExpiry: number;
  readonly capacity: number;
  readonly prefix: string;
  readonly #options: NatsChannelLayerOptions;
  readonly #link: NatsLink;
  readonly #codec: MessageCodec;
  readonly #channels: LocalChannels;
  readonly #history: NatsHistory;
  readonly #leases: NatsLeases;
  readonly #logger: LayerLogger;
  readonly #throttle = new LogThrottle(5000);
  readonly #requestTimeout: number;
  readonly #processId = randomLetters(12);
  readonly #subscriptions: NatsSubscriptions;
  /** The process names (`specific.<id>!`) received here. */
  readonly #processes = new Set<string>();
  /** General channels received here (`general-channels.ts`). */
  readonly #general: GeneralChannels;
  readonly #groups: LocalGroups;
  readonly #stats: NatsLayerStats = { malformed: 0, unclaimed: 0 };
  readonly #sweepEvery: number;
  #nextSweepAt = 0;
  #closed = false;

  constructor(options: NatsChannelLayerOptions = {}) {
    const settings = natsSettings(options);
    this.expiry = settings.expiry;
    this.groupExpiry = settings.groupExpiry;
    this.capacity = settings.capacity;
    this.prefix = settings.prefix;
    this.#options = options;
    this.#logger = options.logger ?? natsLogger;
    this.#requestTimeout = settings.requestTimeout;
    this.#codec = settings.codec;
    this.#link = new NatsLink({
      servers: settings.servers, user: options.user, pass: options.pass, token: options.token, tls: options.tls,
      connectTimeout: settings.connectTimeout, requestTimeout: this.#requestTimeout, logger: this.#logger,
      onDown: () => this.#options.onDisconnect?.(this.#link.label),
      onUp: () => {
        this.#history.forgetCache();
        // Core NATS kept nothing for us while we were away: recovery sessions read their groups' history.
        groupsResynced(this.#groups.names());
        this.#options.onReconnect?.(this.#link.label);
      },
    });
    this.#groups = new LocalGroups(this.groupExpiry, (group) => this.#subscriptions.unsubscribe(groupSubject(this.prefix, group)));
    // A channel that let a message expire leaves its groups (Django's rule, as the in-memory layer).
    this.#channels = new LocalChannels(compileCapacities(this.capacity, options.channelCapacity), this.expiry, (channel) => this.#groups.leave(channel));
    this.#history = new NatsHistory({
      config: options.groupHistory, prefix: this.prefix, link: this.#link, codec: this.#codec, logger: this.#logger,
      storage: settings.historyStorage,
    });
    this.#leases = new NatsLeases(this.#link, this.prefix, this.#requestTimeout);
    this.#subscriptions = new NatsSubscriptions(this.#link, this.#logger);
    this.#general = new GeneralChannels({
      prefix: this.prefix, subscriptions: this.#subscriptions, channels: this.#channels, groups: this.#groups,
      onMessage: (message) => this.#onDirect(message), unsubscribeDelay: settings.unsubscribeDelay,
    });
    this.#sweepEvery = Math.min(1000, (this.expiry * 1000) / 4);
  }

  /**
   * Puts a message on a channel: a request to the process that receives it,
   * which answers delivered or full (`ChannelFull`).
   */
  async send(channel: string, message: LayerMessage): Promise<void> {
    requireValidChannelName(channel);
    requireValidMessage(message);
    const body = this.#codec.encode({ ...message, [ASGI_CHANNEL]: channel });
    const connection = await this.#connection();
    this.#requireSize(connection, body.length);
    let reply: Msg;
    try {
      reply = await this.#link.guard(connection.request(channelSubject(this.prefix, channel), body, { timeout: this.#requestTimeout }), 'a send');
    } catch (error) {
      if (error instanceof NatsError && error.code === '503') return this.#unclaimed(channel);
      throw unavailable(`NATS at ${this.#link.label}: no answer for a send to ${channel}`, error);
    }
    if (reply.data.length > 0 && reply.data[0] === FULL[0]) throw new ChannelFull(channel);
  }

  async receive(channel: string, signal?: AbortSignal): Promise<LayerMessage> {
    requireValidChannelName(channel);
    signal?.throwIfAborted();
    if (this.#closed) throw new LayerUnavailableError('The NATS channel layer is closed');
    this.#maybeSweep();
    await this.#receiveHere(channel);
    try {
      return await this.#channels.receive(channel, signal);
    } catch (error) {
      if (signal?.aborted) this.#general.scheduleUnsubscribe(channel);
      throw error;
    }
  }

  /** Push delivery of a channel received here (minted by newChannel, or a general channel being received). */
  tap(channel: string, listener: TapListener, slow?: SlowConsumer): ChannelTap {
    requireValidChannelName(channel);
    if (!this.#isLocal(channel)) throw new InvalidChannelLayerError(`Channel ${channel} is not received by this process`);
    this.#general.keep(channel);
    const tap = this.#channels.tap(channel, listener, slow);
    if (channel.includes('!')) return tap;
    return { take: () => tap.take(), arm: () => tap.arm(), close: () => { tap.close(); this.#general.scheduleUnsubscribe(channel); } };
  }

  async newChannel(prefix = 'specific'): Promise<string> {
    const name = `${prefix}.${this.#processId}!${randomLetters(12)}`;
    requireValidChannelName(name);
    await this.#receiveHere(name);
    return name;
  }

  /** The groups this process's channels are in, each with those channels (see `ChannelLayer.localGroups`). */
  localGroups(): LocalGroupsView {
    return this.#groups.all;
  }

  /** Adds a channel of this process to a group (as with the pub/sub Redis layer, memberships are local). */
  async groupAdd(group: string, channel: string): Promise<void> {
    requireValidGroupName(group);
    requireValidChannelName(channel);
    if (!this.#isLocal(channel)) {
      throw new InvalidChannelLayerError(
        `You can only call groupAdd() on channels that exist in this process (${channel} does not): use the consumer's own channelName with the NATS layer`,
      );
    }
    if (!this.#groups.has(group)) await this.#subscriptions.subscribe(groupSubject(this.prefix, group), (message) => this.#onGroup(group, message));
    this.#groups.add(group, channel);
  }

  async groupDiscard(group: string, channel: string): Promise<void> {
    requireValidGroupName(group);
    requireValidChannelName(channel);
    this.#groups.discard(group, channel);
  }

  /**
   * One publish to the group's subject. A group that keeps history first gets
   * the message appended to its JetStream history, then published stamped.
   */
  async groupSend(group: string, message: LayerMessage, options?: GroupSendOptions): Promise<void> {
    requireValidGroupName(group);
    message = withExcept(message, options);
    requireValidMessage(message);
    const connection = await this.#connection();
    const keeps = this.#history.optionsFor(group) !== null;
    let body = this.#codec.encode(message);
    // Checked before the history keeps it; the stamp (and the history's headers) add well under 200 bytes.
    this.#requireSize(connection, body.length + (keeps ? 200 : 0));
    if (keeps) body = this.#codec.encode(await this.#history.append(group, message));
    // NATS may have gone while the history answered: then this fails rather than publishing into a buffer the reconnection drops.
    const live = this.#link.current() ?? connection;
    try {
      live.publish(groupSubject(this.prefix, group), body);
    } catch (error) {
      throw unavailable(`NATS at ${this.#link.label} could not publish to ${group}`, error);
    }
    await this.#link.confirm(live);
  }

  /** What the group's history holds after `since` (see `ChannelLayer.readHistory`); null when it keeps none. */
  async readHistory(group: string, since: StreamPosition | null, limit = 1000): Promise<HistoryRead | null> {
    requireValidGroupName(group);
    if (this.#history.optionsFor(group) === null) return null;
    if (this.#closed) throw new LayerUnavailableError('The NATS channel layer is closed');
    return this.#history.read(group, since, limit);
  }

  /** Leases `name` across every process sharing this NATS (JetStream KV, see `lease.ts`); null while another holder has it. */
  lease(name: string, ttlMs: number): Promise<Lease | null> {
    if (this.#closed) return Promise.reject(new LayerUnavailableError('The NATS channel layer is closed'));
    return this.#leases.lease(name, ttlMs);
  }

  /** Resolves once NATS answers a round trip (the server's readiness probe asks this). */
  async ping(): Promise<void> {
    const connection = await this.#connection();
    await within(connection.flush(), this.#options.connectTimeout ?? 2000, `NATS at ${this.#link.label} did not answer`);
  }

  /** Counters: undecodable messages skipped, sends nobody received. */
  stats(): Readonly<NatsLayerStats> {
    return { ...this.#stats };
  }

  /**
   * Forgets this process's queued messages and groups (waiting receives
   * stay), and deletes the prefix's history stream and lease bucket (every
   * group's history starts a new epoch).
   */
  async flush(): Promise<void> {
    this.#groups.clear();
    this.#general.flush();
    this.#channels.clear();
    // On a server without JetStream there is no history or lease to delete.
    const unlessNoJetStream = (error: unknown) => { if (!this.#link.jetstreamMissing) throw error; };
    await Promise.all([this.#history.destroy().catch(unlessNoJetStream), this.#leases.destroy().catch(unlessNoJetStream)]);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#general.close();
    this.#channels.close(new LayerUnavailableError('The NATS channel layer was closed'));
    await this.#link.close();
  }

  /** The connection, up; `LayerUnavailableError` while NATS is away or after close. */
  async #connection(): Promise<NatsConnection> {
    if (this.#closed) throw new LayerUnavailableError('The NATS channel layer is closed');
    return this.#link.get();
  }

  #requireSize(connection: NatsConnection, bytes: number): void {
    const max = connection.info?.max_payload;
    if (max !== undefined && bytes > max) {
      throw new MessageTooLarge(`A message of ${bytes} bytes is over the NATS server's max_payload (${max} bytes): send a reference to the data instead, or raise max_payload`);
    }
  }

  #unclaimed(channel: string): void {
    this.#stats.unclaimed++;
    if (this.#throttle.allow(`unclaimed:${nonLocalName(channel)}`)) {
      this.#logger.debug({ channel }, 'No process receives this channel any more: the message is dropped (as it would expire unread)');
    }
  }

  #isLocal(channel: string): boolean {
    return channel.includes('!') ? this.#processes.has(nonLocalName(channel)) : this.#general.has(channel);
  }

  /** Subscribes what a receive on `channel` needs: its process's subject, or its general channel's queue. */
  async #receiveHere(channel: string): Promise<void> {
    if (channel.includes('!')) {
      const process = nonLocalName(channel);
      if (this.#processes.has(process)) return;
      await this.#subscriptions.subscribe(channelSubject(this.prefix, channel), (message) => this.#onDirect(message));
      this.#processes.add(process);
      return;
    }
    await this.#general.receiveHere(channel);
  }

  /** Decodes a received message; null (counted, logged) when it is not one. */
  #decode(message: Msg): Record<string, unknown> | null {
    try {
      return this.#codec.decode(message.data);
    } catch (error) {
      this.#stats.malformed++;
      if (this.#throttle.allow(`malformed:${message.subject}`)) {
        this.#logger.warn({ err: error, subject: message.subject, bytes: message.data.length }, 'Skipped a NATS message that cannot be decoded');
      }
      return null;
    }
  }

  /** A message for one channel of this process (or a general channel received here): queued, and the sender answered. */
  #onDirect(raw: Msg): void {
    const message = this.#decode(raw);
    if (message === null) return;
    const channel = message[ASGI_CHANNEL];
    if (typeof channel !== 'string') {
      this.#stats.malformed++;
      if (this.#throttle.allow(`untargeted:${raw.subject}`)) this.#logger.warn({ subject: raw.subject }, `Skipped a NATS message without ${ASGI_CHANNEL}`);
      return;
    }
    delete message[ASGI_CHANNEL];
    this.#maybeSweep();
    const delivered = this.#channels.deliver(channel, freezeMessage(message) as LayerMessage);
    if (raw.reply !== undefined && raw.reply !== '') raw.respond(delivered ? DELIVERED : FULL);
  }

  /** A group message: decoded once, the same frozen object handed to each local member. */
  #onGroup(group: string, raw: Msg): void {
    if (!this.#groups.has(group)) return;
    const message = this.#decode(raw);
    if (message === null) return;
    const frozen = freezeMessage(message) as LayerMessage;
    // In a group with history the member left out still gets the message, marked, so that its position moves.
    const except = positionOf(frozen) === null ? exceptOf(frozen) : undefined;
    this.#groups.forEachMember(group, (channel) => { if (channel !== except) this.#channels.deliver(channel, frozen, group); });
  }

  #maybeSweep(): void {
    const now = Date.now();
    if (now < this.#nextSweepAt) return;
    this.#nextSweepAt = now + this.#sweepEvery;
    this.#channels.sweep();
    this.#groups.sweep();
  }
}
