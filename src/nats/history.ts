/**
 * Group history on NATS JetStream: the `groupHistory` of
 * `layers/history.ts`, so that every process sharing the NATS server agrees
 * on each group's epoch and offsets.
 *
 * How it works:
 * - One stream per layer prefix, `SY_HISTORY_<prefix>`, subjects
 *   `<prefix>.h.<group>`, file storage, `max_msgs_per_subject` the largest
 *   `size` of the configured patterns (+1, for the marker below) and
 *   `max_age` the largest `ttl` but at least a day. One stream rather than
 *   one per group: a stream is a server object with its own files and
 *   limits, and chat rooms come and go by the thousand; per-subject limits
 *   give each group its own window in the one stream. A group with a
 *   smaller `size` or `ttl` than the stream's is trimmed when read.
 * - Offsets are dense per group (1, 2, 3...) and every message carries its
 *   group's epoch and offset in headers (`Sy-Epoch`, `Sy-Offset`). An append
 *   publishes offset `last + 1` in the last message's epoch, with
 *   `expect.lastSubjectSequence` = the stream sequence of that last message:
 *   the server refuses it if another process appended in between, and the
 *   append reads the last message again and retries. A process's appends
 *   to one group go one after another (so they never race each other, and
 *   offsets follow the order of the calls); with its last message cached,
 *   that is one round trip per append while one process sends to a group
 *   (the cache is dropped when the connection comes back).
 * - A group with no message in the stream (never written, idle past
 *   `max_age`, the stream deleted by `flush()`, or a NATS server restarted
 *   without its storage) starts a new random epoch at offset 1: a reader
 *   with an old position learns `recovered: false`. A read of such a group
 *   writes a marker (offset 0, no payload) carrying the new epoch, so the
 *   epoch a reader sees before the first message is the one it gets.
 * - A read takes the last message (the epoch and `top`), then, when
 *   something may be after the position, the window: an ephemeral consumer
 *   on the group's subject from `now - ttl` (the server's message time),
 *   fetched at once and deleted. The answer follows `MemoryHistory.read`.
 * - The stored payload is the message without its stamp, framed by the
 *   layer's codec (msgpack, Fernet-encrypted with the layer's keys).
 */
import { AckPolicy, DeliverPolicy, DiscardPolicy, type JetStreamManager, type MsgHdrs, NatsError, RetentionPolicy, StorageType, headers, nanos } from 'nats';
import type { LayerMessage } from '../asgi.js';
import { freezeMessage } from '../layers/base.js';
import {
  DEFAULT_HISTORY, type GroupHistoryConfig, type HistoryOptions, type HistoryRead, POSITION_KEY, type StreamPosition,
  compileGroupHistory, newEpoch, stamp,
} from '../layers/history.js';
import type { LayerLogger } from '../redis/log.js';
import type { MessageCodec } from '../redis/wire.js';
import { type NatsLink, unavailable } from './connection.js';
import { historyStreamName, historySubject } from './subjects.js';

const EPOCH = 'Sy-Epoch';
const OFFSET = 'Sy-Offset';
/** An idle group keeps its epoch and top at least this long (channels_redis's group expiry). */
const MIN_AGE_SECONDS = 86400;

/** JetStream API error codes this module answers. */
const WRONG_LAST_SEQUENCE = 10071;
const NO_MESSAGE = 10037;
const STREAM_NOT_FOUND = 10059;

/** A group's newest message in the stream: its sequence there, epoch and offset. */
interface Last { seq: number; epoch: string; offset: number }

function apiCode(error: unknown): number | undefined {
  return error instanceof NatsError ? error.api_error?.err_code : undefined;
}

/** A publish to a subject no stream holds: the stream is gone (deleted, or the server lost its storage). */
function streamGone(error: unknown): boolean {
  return apiCode(error) === STREAM_NOT_FOUND || (error instanceof NatsError && error.code === '503');
}

/** The largest size and ttl of a `groupHistory` (already checked by `compileGroupHistory`). */
function largest(config: GroupHistoryConfig): HistoryOptions {
  const entries: Array<Partial<HistoryOptions>> = Array.isArray(config)
    ? (config as ReadonlyArray<string | readonly [unknown, Partial<HistoryOptions>]>).map((entry) => (typeof entry === 'string' ? {} : entry[1]))
    : Object.values(config as Record<string, Partial<HistoryOptions>>);
  let { size, ttl } = DEFAULT_HISTORY;
  if (entries.length > 0) [size, ttl] = [0, 0];
  for (const entry of entries) {
    size = Math.max(size, entry.size ?? DEFAULT_HISTORY.size);
    ttl = Math.max(ttl, entry.ttl ?? DEFAULT_HISTORY.ttl);
  }
  return { size, ttl };
}

/** Options of {@link NatsHistory}. */
export interface NatsHistoryOptions {
  config: GroupHistoryConfig | undefined;
  prefix: string;
  link: NatsLink;
  codec: MessageCodec;
  logger: LayerLogger;
  /** `file` (default: kept across a server restart) or `memory`. */
  storage: 'file' | 'memory';
}

/** The group histories of a NATS layer. */
export class NatsHistory {
  readonly #optionsFor: (group: string) => HistoryOptions | null;
  readonly #options: NatsHistoryOptions;
  readonly #stream: string;
  readonly #limits: HistoryOptions | null;
  #ready: Promise<JetStreamManager> | null = null;
  readonly #last = new Map<string, Last>();
  /** Each group's appends of this process, one after another: they would only race each other for the next offset. */
  readonly #appending = new Map<string, Promise<unknown>>();

  constructor(options: NatsHistoryOptions) {
    this.#optionsFor = compileGroupHistory(options.config);
    this.#options = options;
    this.#stream = historyStreamName(options.prefix);
    this.#limits = options.config === undefined ? null : largest(options.config);
  }

  /** Whether any group keeps history. */
  get enabled(): boolean {
    return this.#limits !== null;
  }

  /** The history options of a group, or null when it keeps none. */
  optionsFor(group: string): HistoryOptions | null {
    return this.#optionsFor(group);
  }

  /** Forgets the cached last messages (the server may have lost them: the connection came back). */
  forgetCache(): void {
    this.#last.clear();
    this.#ready = null;
  }

  /** Appends a message (already checked) to its group's history; resolves with it stamped, to deliver. */
  append(group: string, message: LayerMessage): Promise<LayerMessage> {
    const previous = this.#appending.get(group) ?? Promise.resolve();
    const appended = previous.then(() => this.#append(group, message), () => this.#append(group, message));
    const settled = appended.catch(() => {});
    this.#appending.set(group, settled);
    void settled.then(() => { if (this.#appending.get(group) === settled) this.#appending.delete(group); });
    return appended;
  }

  async #append(group: string, message: LayerMessage): Promise<LayerMessage> {
    let stored: LayerMessage = message;
    if (POSITION_KEY in message) {
      // A forwarded message: its old stamp is not kept (a read stamps afresh).
      const { [POSITION_KEY]: _old, ...rest } = message as Record<string, unknown>;
      stored = rest as LayerMessage;
    }
    const payload = this.#options.codec.encode(stored);
    for (let attempt = 0; ; attempt++) {
      const last = this.#last.get(group) ?? await this.#readLast(group) ?? { seq: 0, epoch: newEpoch(), offset: 0 };
      const written = await this.#write(group, last, last.offset + 1, payload, attempt);
      if (written !== null) return stamp(message, { group, epoch: written.epoch, offset: written.offset });
    }
  }

  /** What came after `since` (see `HistoryRead`); null when the group keeps none. */
  async read(group: string, since: StreamPosition | null, limit: number): Promise<HistoryRead | null> {
    const options = this.#optionsFor(group);
    if (options === null) return null;
    let last = await this.#readLast(group);
    for (let attempt = 0; last === null; attempt++) {
      // No message yet: a marker fixes the epoch the first message will get.
      last = await this.#write(group, { seq: 0, epoch: newEpoch(), offset: 0 }, 0, new Uint8Array(0), attempt) ?? await this.#readLast(group);
    }
    const { epoch, offset: top } = last;
    if (since === null) return { epoch, top, recovered: true, messages: [] };
    const sameEpoch = since.epoch === epoch;
    // A position that is not an offset (NaN, negative) is before everything: not recovered.
    const after = !sameEpoch ? 0 : Number.isSafeInteger(since.offset) && since.offset >= 0 ? since.offset : -1;
    if (sameEpoch && after === top) return { epoch, top, recovered: true, messages: [] };
    const window = (await this.#window(group, options, epoch, top)).filter((entry) => entry.offset > top - options.size);
    const oldest = window[0]?.offset ?? top + 1;
    const recovered = sameEpoch && after <= top && after >= oldest - 1;
    const from = Math.max(0, Math.min(after, top), oldest - 1);
    const messages: LayerMessage[] = [];
    let lost = false;
    for (const entry of window) {
      if (entry.offset <= from || messages.length >= limit) continue;
      try {
        const message = freezeMessage(this.#options.codec.decode(entry.data)) as LayerMessage;
        messages.push(Object.freeze(stamp(message, Object.freeze({ group, epoch, offset: entry.offset }))));
      } catch (error) {
        // Undecodable (a retired encryption key?): skipped, and the read says something is lost.
        lost = true;
        this.#options.logger.warn({ err: error, group, offset: entry.offset }, 'Skipped a group history message that cannot be decoded');
      }
    }
    return { epoch, top, recovered: recovered && !lost, messages };
  }

  /** Deletes the stream: every group's history is lost, each starts a new epoch. */
  async destroy(): Promise<void> {
    this.#last.clear();
    this.#ready = null;
    if (!this.enabled) return;
    const jsm = await this.#options.link.jetstreamManager();
    try {
      await jsm.streams.delete(this.#stream);
    } catch (error) {
      if (apiCode(error) !== STREAM_NOT_FOUND) throw unavailable(`JetStream at ${this.#options.link.label} could not delete ${this.#stream}`, error);
    }
  }

  /** Publishes `offset` after `last`; null when another writer came first or the stream was gone (the caller reads again). */
  async #write(group: string, last: Last, offset: number, payload: Uint8Array, attempt: number): Promise<Last | null> {
    if (attempt >= 50) throw unavailable(`JetStream at ${this.#options.link.label}`, new Error(`could not append to the history of ${group} (50 concurrent writers won)`));
    await this.#ensureStream();
    const js = await this.#options.link.jetstream();
    const meta: MsgHdrs = headers();
    meta.set(EPOCH, last.epoch);
    meta.set(OFFSET, String(offset));
    try {
      const ack = await this.#options.link.guard(js.publish(historySubject(this.#options.prefix, group), payload, { headers: meta, expect: { lastSubjectSequence: last.seq } }), 'a history append');
      const written = { seq: ack.seq, epoch: last.epoch, offset };
      this.#last.set(group, written);
      return written;
    } catch (error) {
      this.#last.delete(group);
      if (apiCode(error) === WRONG_LAST_SEQUENCE) return null;
      if (streamGone(error)) {
        this.#ready = null;
        return null;
      }
      throw unavailable(`JetStream at ${this.#options.link.label} could not append to the history of ${group}`, error);
    }
  }

  /** The group's newest message in the stream, or null when it has none. */
  async #readLast(group: string): Promise<Last | null> {
    for (let attempt = 0; ; attempt++) {
      const jsm = await this.#ensureStream();
      try {
        const stored = await this.#options.link.guard(jsm.streams.getMessage(this.#stream, { last_by_subj: historySubject(this.#options.prefix, group) }), 'a history read');
        const offset = Number(stored.header?.get(OFFSET));
        const epoch = stored.header?.get(EPOCH) ?? '';
        // A message without our headers (published by something else): the chain is unknown, a new epoch starts.
        if (!Number.isSafeInteger(offset) || epoch === '') return null;
        return { seq: stored.seq, epoch, offset };
      } catch (error) {
        if (apiCode(error) === NO_MESSAGE) return null;
        // The stream was deleted under us (another process's flush()): made again, once.
        if (apiCode(error) === STREAM_NOT_FOUND && attempt === 0) {
          this.#ready = null;
          continue;
        }
        throw unavailable(`JetStream at ${this.#options.link.label} could not read the history of ${group}`, error);
      }
    }
  }

  /** The group's messages of this epoch younger than `ttl`, up to `top`, oldest first. */
  async #window(group: string, options: HistoryOptions, epoch: string, top: number): Promise<Array<{ offset: number; data: Uint8Array }>> {
    const jsm = await this.#ensureStream();
    const label = this.#options.link.label;
    let consumer: string;
    let pending: number;
    try {
      const info = await this.#options.link.guard(jsm.consumers.add(this.#stream, {
        filter_subject: historySubject(this.#options.prefix, group),
        deliver_policy: DeliverPolicy.StartTime,
        opt_start_time: new Date(Date.now() - options.ttl * 1000).toISOString(),
        ack_policy: AckPolicy.None, mem_storage: true, inactive_threshold: nanos(30_000),
      }), 'a history read');
      [consumer, pending] = [info.name, info.num_pending];
    } catch (error) {
      throw unavailable(`JetStream at ${label} could not read the history of ${group}`, error);
    }
    const entries: Array<{ offset: number; data: Uint8Array }> = [];
    try {
      if (pending > 0) {
        const js = await this.#options.link.jetstream();
        await this.#options.link.guard((async () => {
          const fetched = await (await js.consumers.get(this.#stream, consumer)).fetch({ max_messages: pending, expires: 5000 });
          for await (const message of fetched) {
            const offset = Number(message.headers?.get(OFFSET));
            if (message.headers?.get(EPOCH) === epoch && offset >= 1 && offset <= top) entries.push({ offset, data: message.data });
            if (message.info.pending === 0) break;
          }
        })(), 'a history read');
      }
    } catch (error) {
      throw unavailable(`JetStream at ${label} could not read the history of ${group}`, error);
    } finally {
      jsm.consumers.delete(this.#stream, consumer).catch(() => {});
    }
    return entries;
  }

  /** Creates the stream on first use (and again after it was lost). */
  #ensureStream(): Promise<JetStreamManager> {
    this.#ready ??= this.#createStream().catch((error: unknown) => {
      this.#ready = null;
      throw error;
    });
    return this.#ready;
  }

  /** Adds the stream, or finds it made by another process (see `NatsLink.makeShared`). */
  async #createStream(): Promise<JetStreamManager> {
    const jsm = await this.#options.link.jetstreamManager();
    const { size, ttl } = this.#limits ?? DEFAULT_HISTORY;
    const config = {
      name: this.#stream, subjects: [historySubject(this.#options.prefix, '*')],
      retention: RetentionPolicy.Limits, discard: DiscardPolicy.Old,
      storage: this.#options.storage === 'memory' ? StorageType.Memory : StorageType.File,
      max_msgs_per_subject: size + 1, max_age: nanos(Math.max(ttl, MIN_AGE_SECONDS) * 1000), num_replicas: 1,
    };
    return this.#options.link.makeShared(async () => {
      try {
        await this.#options.link.guard(jsm.streams.add(config), 'a history stream creation');
      } catch (refusal) {
        const made = apiCode(refusal) === undefined ? null : await this.#options.link.guard(jsm.streams.info(this.#stream), 'a history stream lookup').catch(() => null);
        if (made === null) throw refusal;
        if (made.config.max_msgs_per_subject !== config.max_msgs_per_subject || made.config.max_age !== config.max_age) {
          this.#options.logger.warn({ stream: this.#stream }, 'The history stream exists with other limits (another process has another groupHistory): using it as it is');
        }
      }
      return jsm;
    }, `create ${this.#stream}`);
  }
}
