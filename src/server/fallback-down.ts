/**
 * The HTTP fallback's two ways down, behind one small interface: an event
 * stream (one long response) and long polling (a queue of elements a
 * client fetches and acknowledges).
 *
 * How it works. The connection (fallback-connection.ts) hands every frame
 * to its {@link Down}. `SseDown` writes it to the open response at once, so
 * backpressure is the response's own buffer. `PollDown` keeps a numbered
 * list of elements: the first is the `open` element, then one per frame.
 * A poll names how many it has received (`ack`); those are dropped and the
 * rest answered, or, if there are none, the poll is held until one comes
 * or `pollTimeout` passes. Elements are dropped only once a later poll
 * acknowledges them, so a poll answer lost on the way is answered again.
 * While no poll is held, the session expires after `sessionTimeout`.
 */
import type { ServerResponse } from 'node:http';
import { corkForTurn, writeTurn } from './write-turns.js';
import {
  SSE_HEARTBEAT, SSE_PREAMBLE, errorBody, sseBinary, sseClose, sseOpen, sseText, type WireOpen,
} from './fallback-wire.js';

/** A frame going down: a text, bytes, or the closing element. */
export type DownFrame = { text: string } | { bytes: Uint8Array } | { close: { code: number; reason: string } };

/** Answers an HTTP request (a local poll) or a relayed one. */
export type Respond = (status: number, body: string) => void;

/** Made when the app accepts: answers the opening request with the `open` element, then carries frames. */
export interface Down {
  /** A frame, or the last element (`close`), after which nothing more is written. */
  push(frame: DownFrame): void;
  /** Bytes written or queued that the client has not taken yet. */
  readonly buffered: number;
  /** Settles once `buffered` is back under `below` (or the way down is gone). */
  drained(below: number): Promise<void>;
  /** Drops the way down now (no close element). */
  end(): void;
}

const JSON_HEADERS = { 'content-type': 'application/json', 'cache-control': 'no-store' };

/** Answers a local request with a JSON body (unless it has gone). */
export function respondJson(res: ServerResponse, status: number, body: string): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { ...JSON_HEADERS, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** Down as server-sent events on one response. */
export class SseDown implements Down {
  readonly #res: ServerResponse;
  readonly #heartbeatMs: number;
  #heartbeat: NodeJS.Timeout | null = null;
  #ended = false;
  /** The last write turn the socket was corked for: a broadcast's events for this stream go out in one write (write-turns.ts). */
  #corkedTurn = -1;

  /** `gone` is called once if the response closes before the server ended it (the client left). */
  constructor(res: ServerResponse, open: WireOpen, heartbeatSeconds: number, gone: () => void) {
    this.#res = res;
    this.#heartbeatMs = heartbeatSeconds * 1000;
    res.once('close', () => {
      this.#stopHeartbeat();
      if (!this.#ended) {
        this.#ended = true;
        gone();
      }
    });
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-store, no-transform',
      // nginx and some proxies buffer responses unless told not to.
      'x-accel-buffering': 'no',
    });
    res.write(SSE_PREAMBLE + sseOpen(open));
    this.#heartbeat = setInterval(() => { if (!this.#ended) res.write(SSE_HEARTBEAT); }, this.#heartbeatMs);
    this.#heartbeat.unref();
  }

  push(frame: DownFrame): void {
    if (this.#ended) return;
    const now = writeTurn();
    const socket = this.#res.socket;
    if (this.#corkedTurn !== now && socket !== null) {
      this.#corkedTurn = now;
      corkForTurn(socket);
    }
    if ('text' in frame) this.#res.write(sseText(frame.text));
    else if ('bytes' in frame) this.#res.write(sseBinary(frame.bytes));
    else {
      this.#ended = true;
      this.#stopHeartbeat();
      this.#res.end(sseClose(frame.close.code, frame.close.reason));
    }
  }

  get buffered(): number { return this.#res.writableLength; }

  drained(below: number): Promise<void> {
    const res = this.#res;
    return new Promise((resolve) => {
      const check = (): void => {
        if (res.writableLength > below && !res.destroyed && !this.#ended) return;
        res.off('drain', check);
        res.off('close', check);
        resolve();
      };
      res.on('drain', check);
      res.on('close', check);
      check();
    });
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#stopHeartbeat();
    this.#res.destroy();
  }

  #stopHeartbeat(): void {
    if (this.#heartbeat !== null) clearInterval(this.#heartbeat);
    this.#heartbeat = null;
  }
}

interface Held { respond: Respond; timer: NodeJS.Timeout }

/** Down as long polls: numbered elements, kept until acknowledged. */
export class PollDown implements Down {
  /** Serialized elements not yet acknowledged; `#base` is the number of the first. */
  #elements: string[] = [];
  #base = 0;
  #bytes = 0;
  #held: Held | null = null;
  #flushScheduled = false;
  #closed = false;
  #expiry: NodeJS.Timeout | null = null;
  #drainWaiters: Array<{ below: number; resolve: () => void }> = [];
  readonly #pollMs: number;
  readonly #sessionMs: number;
  readonly #expired: () => void;
  readonly #finished: () => void;

  /**
   * Answers the opening request (`opener`) with the `open` element at once.
   * `expired` is called when no poll came for `sessionTimeout`; `finished`
   * once the close element went out.
   */
  constructor(opener: Respond, open: WireOpen, pollSeconds: number, sessionSeconds: number, expired: () => void, finished: () => void) {
    this.#pollMs = pollSeconds * 1000;
    this.#sessionMs = sessionSeconds * 1000;
    this.#expired = expired;
    this.#finished = finished;
    this.#add(JSON.stringify({ open }));
    this.#answerNow(opener);
  }

  push(frame: DownFrame): void {
    if (this.#closed) return;
    if ('text' in frame) this.#add(JSON.stringify({ text: frame.text }));
    else if ('bytes' in frame) this.#add(JSON.stringify({ bytes: Buffer.from(frame.bytes.buffer, frame.bytes.byteOffset, frame.bytes.byteLength).toString('base64') }));
    else {
      this.#closed = true;
      this.#add(JSON.stringify(frame));
    }
  }

  /** A poll that has received the first `ack` elements. */
  poll(ack: number, respond: Respond): void {
    const top = this.#base + this.#elements.length;
    if (!Number.isSafeInteger(ack) || ack < this.#base || ack > top) {
      respond(400, errorBody('bad_ack', `"switchyard.ack" must be between ${this.#base} and ${top} (the elements received so far)`));
      return;
    }
    this.#drop(ack - this.#base);
    if (this.#held !== null) this.#answer(this.#held, []); // a newer poll replaces it
    if (this.#elements.length > 0) this.#answerNow(respond);
    else this.#hold(respond);
  }

  /** The held poll's client went away: nothing goes to it any more. */
  abandon(respond: Respond): void {
    if (this.#held?.respond !== respond) return;
    clearTimeout(this.#held.timer);
    this.#held = null;
    this.#armExpiry();
  }

  get buffered(): number { return this.#bytes; }

  drained(below: number): Promise<void> {
    if (this.#bytes <= below) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push({ below, resolve }));
  }

  end(): void {
    this.#closed = true;
    if (this.#expiry !== null) clearTimeout(this.#expiry);
    if (this.#held !== null) this.#answer(this.#held, []);
    this.#elements = [];
    this.#bytes = 0;
    this.#wakeDrained();
  }

  #add(element: string): void {
    this.#elements.push(element);
    this.#bytes += element.length;
    // Frames sent in one turn go out in one answer.
    if (this.#held !== null && !this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => {
        this.#flushScheduled = false;
        if (this.#held !== null && this.#elements.length > 0) this.#answerNow(this.#held.respond);
      });
    }
  }

  #drop(count: number): void {
    if (count === 0) return;
    for (let i = 0; i < count; i++) this.#bytes -= this.#elements[i]!.length;
    this.#elements = this.#elements.slice(count);
    this.#base += count;
    this.#wakeDrained();
  }

  #hold(respond: Respond): void {
    if (this.#expiry !== null) clearTimeout(this.#expiry);
    this.#expiry = null;
    const held: Held = { respond, timer: setTimeout(() => this.#answer(held, []), this.#pollMs) };
    this.#held = held;
  }

  #answerNow(respond: Respond): void {
    const held = this.#held;
    if (held !== null && held.respond === respond) this.#answer(held, this.#elements);
    else {
      respond(200, `[${this.#elements.join(',')}]`);
      this.#afterAnswer(this.#elements);
    }
  }

  #answer(held: Held, elements: string[]): void {
    clearTimeout(held.timer);
    if (this.#held === held) this.#held = null;
    held.respond(200, `[${elements.join(',')}]`);
    this.#afterAnswer(elements);
  }

  #afterAnswer(elements: string[]): void {
    if (this.#closed && elements.length > 0 && elements[elements.length - 1]!.startsWith('{"close"')) {
      // The close element is out: the session is over (a lost answer leaves the client to find it gone).
      if (this.#expiry !== null) clearTimeout(this.#expiry);
      this.#finished();
      return;
    }
    if (this.#held === null) this.#armExpiry();
  }

  #armExpiry(): void {
    if (this.#expiry !== null) clearTimeout(this.#expiry);
    this.#expiry = setTimeout(() => {
      this.#expiry = null;
      if (this.#held === null) this.#expired();
    }, this.#sessionMs);
    this.#expiry.unref();
  }

  #wakeDrained(): void {
    const waiting = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const waiter of waiting) {
      if (this.#bytes <= waiter.below || this.#closed) waiter.resolve();
      else this.#drainWaiters.push(waiter);
    }
  }
}
