/**
 * The HTTP fallback's relay: how a POST (or a long poll) that lands on a
 * process other than the one holding its connection still reaches it, with
 * no sticky sessions.
 *
 * How it works. Each process that serves the fallback mints one channel of
 * its own on the default channel layer (`switchyard-fallback…`, at first
 * use) and reads it in one loop. A session id names that channel
 * (fallback-wire.ts), so a process that does not hold the session sends the
 * request there as a layer message (`switchyard.fallback.frames` or
 * `.poll`, carrying the token, the frames or poll position, and the origin
 * of the request) with its own channel to reply to; the owner handles it as
 * it handles its own requests and answers `switchyard.fallback.reply` with
 * the HTTP status and body, which the first process answers its client
 * with. These messages go to the fallback's channels only, never to a
 * consumer's: consumers never see them. Without a channel layer there is no
 * relay: every session is local.
 */
import type { Logger } from 'pino';
import type { LayerMessage } from '../asgi.js';
import type { ChannelLayer } from '../layers/base.js';
import { getChannelLayer } from '../layers/registry.js';
import { MalformedBody, checkFrame, errorBody, type WireFrame } from './fallback-wire.js';

const FRAMES = 'switchyard.fallback.frames';
const POLL = 'switchyard.fallback.poll';
const REPLY = 'switchyard.fallback.reply';
/** The mark of a fallback relay channel: a session naming any other channel is refused, so no request reaches a consumer's channel. */
const MARK = 'switchyard-fallback';

/** A relayed POST. */
export interface RelayedFrames { kind: 'frames'; token: string; origin: string | null; seq: number; frames: WireFrame[] }
/** A relayed long poll. */
export interface RelayedPoll { kind: 'poll'; token: string; origin: string | null; ack: number }
export type RelayedRequest = RelayedFrames | RelayedPoll;

/** An HTTP answer, as the owner gives it. */
export interface RelayAnswer { status: number; body: string }

/** What the owner does with a relayed request: answers it (once) when it can. */
export type RelayHandler = (request: RelayedRequest, answer: (result: RelayAnswer) => void) => void;

/** Whether a session's channel can be a relay channel. */
export function isRelayChannel(channel: string): boolean {
  return channel.includes(MARK);
}

export class FallbackRelay {
  readonly #logger: Logger;
  readonly #handle: RelayHandler;
  readonly #timeoutMs: number;
  readonly #alias: string;
  readonly #abort = new AbortController();
  #layer: ChannelLayer | null | undefined;
  #channel: Promise<string | null> | null = null;
  #own: string | null = null;
  readonly #pending = new Map<string, { resolve: (answer: RelayAnswer) => void; timer: NodeJS.Timeout }>();
  #nextId = 0;

  /** `alias`: the channel layer the relay uses (`configureChannelLayers`). */
  constructor(logger: Logger, handle: RelayHandler, timeoutSeconds: number, alias: string) {
    this.#alias = alias;
    this.#logger = logger;
    this.#handle = handle;
    this.#timeoutMs = timeoutSeconds * 1000;
  }

  /** The relay's channel layer, looked up once (null: none configured, so sessions are local only). */
  get layer(): ChannelLayer | null {
    if (this.#layer === undefined) this.#layer = getChannelLayer(this.#alias);
    return this.#layer;
  }

  /** This process's relay channel, minted (and read) from the first call on; null without a layer. */
  channel(): Promise<string | null> {
    // A failed mint (the layer away) is tried again by the next call, not kept.
    this.#channel ??= this.#mint().catch((err: unknown) => {
      this.#channel = null;
      throw err;
    });
    return this.#channel;
  }

  /** Whether `channel` is this process's own (a session naming it that is not here is unknown). */
  isOwn(channel: string): boolean {
    return channel === this.#own;
  }

  async #mint(): Promise<string | null> {
    const layer = this.layer;
    if (layer === null) return null;
    const channel = await layer.newChannel(MARK);
    this.#own = channel;
    void this.#read(layer, channel);
    return channel;
  }

  async #read(layer: ChannelLayer, channel: string): Promise<void> {
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      let message: LayerMessage;
      try {
        message = await layer.receive(channel, signal);
      } catch (err) {
        if (signal.aborted) return;
        this.#logger.warn({ err, channel }, 'HTTP fallback: reading the relay channel failed; retrying in 1 s');
        await new Promise((resolve) => setTimeout(resolve, 1000).unref());
        continue;
      }
      try {
        this.#dispatch(layer, message);
      } catch (err) {
        this.#logger.warn({ err, type: message.type }, 'HTTP fallback: a relayed message could not be handled');
      }
    }
  }

  #dispatch(layer: ChannelLayer, message: LayerMessage): void {
    const m = message as Record<string, unknown>;
    if (message.type === REPLY) {
      const pending = this.#pending.get(String(m.id));
      if (pending === undefined) return; // answered after our timeout: the client was told 504 and retries
      this.#pending.delete(String(m.id));
      clearTimeout(pending.timer);
      pending.resolve({ status: Number(m.status), body: String(m.body) });
      return;
    }
    if (message.type !== FRAMES && message.type !== POLL) {
      this.#logger.warn({ type: message.type }, 'HTTP fallback: unexpected message on the relay channel, dropped');
      return;
    }
    const reply = m.reply;
    const id = m.id;
    if (typeof reply !== 'string' || !isRelayChannel(reply) || typeof id !== 'string') return;
    const answer = (result: RelayAnswer): void => {
      layer.send(reply, { type: REPLY, id, status: result.status, body: result.body }).catch((err: unknown) => {
        this.#logger.warn({ err }, 'HTTP fallback: a relay answer could not be sent');
      });
    };
    const origin = typeof m.origin === 'string' ? m.origin : null;
    const token = String(m.token);
    if (message.type === FRAMES) {
      // Checked where the POST landed; checked again here, since the layer is a boundary too.
      const { seq, frames } = m;
      try {
        if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0 || !Array.isArray(frames) || frames.length === 0) throw new MalformedBody('a relayed POST needs "seq" and "frames"');
        frames.forEach(checkFrame);
      } catch (err) {
        if (!(err instanceof MalformedBody)) throw err;
        return answer({ status: 400, body: errorBody('malformed_body', err.message) });
      }
      this.#handle({ kind: 'frames', token, origin, seq, frames: frames as WireFrame[] }, answer);
    }
    else this.#handle({ kind: 'poll', token, origin, ack: Number(m.ack) }, answer);
  }

  /**
   * Sends a request to the process reading `channel` and waits for its answer
   * (504 after `relayTimeout`; 503 when the layer refuses the message).
   */
  async forward(channel: string, request: RelayedRequest, extraWaitMs = 0): Promise<RelayAnswer> {
    const layer = this.layer;
    let own: string | null;
    try {
      own = await this.channel();
    } catch (err) {
      this.#logger.warn({ err }, 'HTTP fallback: no relay channel (channel layer unavailable)');
      return { status: 503, body: errorBody('relay_unavailable', `The request could not be relayed to its session's process: ${(err as Error).message}`) };
    }
    if (layer === null || own === null) return { status: 404, body: errorBody('unknown_session', 'No such session') };
    const id = String(++this.#nextId);
    const { kind, ...fields } = request;
    const message: LayerMessage = { ...fields, type: kind === 'frames' ? FRAMES : POLL, reply: own, id };
    const answered = new Promise<RelayAnswer>((resolve) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        resolve({ status: 504, body: errorBody('relay_timeout', 'The process holding this session did not answer in time; retry (frames already delivered are not delivered twice)') });
      }, this.#timeoutMs + extraWaitMs);
      this.#pending.set(id, { resolve, timer });
    });
    try {
      await layer.send(channel, message);
    } catch (err) {
      const pending = this.#pending.get(id);
      this.#pending.delete(id);
      if (pending !== undefined) clearTimeout(pending.timer);
      this.#logger.warn({ err, channel }, 'HTTP fallback: relaying a request failed');
      return { status: 503, body: errorBody('relay_unavailable', `The request could not be relayed to its session's process: ${(err as Error).message}`) };
    }
    return answered;
  }

  /** Stops reading and answers the requests still waiting with 503. */
  stop(): void {
    this.#abort.abort(new Error('server closing'));
    for (const { resolve, timer } of this.#pending.values()) {
      clearTimeout(timer);
      resolve({ status: 503, body: errorBody('server_closing', 'The server is shutting down') });
    }
    this.#pending.clear();
  }
}
