/**
 * The events a {@link ReconnectingWebsocket} emits and what each carries.
 *
 * One connection attempt that opens produces `open`, then `message`s, then one
 * `close`. After a `close` with `willReconnect`, a `reconnecting` event says
 * when the next attempt starts. `state` accompanies every change of
 * {@link ClientState}.
 */
import type { Outgoing } from './options.js';
import type { RecoveryDetail } from './recovery.js';

/**
 * - `connecting`: the first connection is being made;
 * - `open`: connected, sends go straight out;
 * - `reconnecting`: the link was lost (or an attempt failed); waiting for or making the next attempt, sends are queued;
 * - `closed`: `close()` was called or retries ran out; nothing happens until `connect()`.
 */
export type ClientState = 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface OpenDetail {
  /** `false` for the first connection, `true` for every later one. */
  reconnected: boolean;
}

export interface CloseDetail {
  /** The WebSocket close code; the client's own: 4000 heartbeat timeout, 4001 connect timeout. */
  code: number;
  reason: string;
  wasClean: boolean;
  /** Whether the client will try again. */
  willReconnect: boolean;
}

export interface ReconnectingDetail {
  /** 1 for the first retry after a loss, growing while attempts fail. */
  attempt: number;
  /** Ms until that attempt starts. */
  delay: number;
}

/**
 * A frame from the server. `json` tells which: parsed JSON text (`data` is
 * the value, of type `D`: the server's declared frames for a typed client),
 * or a frame that is not JSON (`data` is the frame itself).
 */
export type MessageDetail<D = unknown> =
  | {
    /** The parsed JSON value. */
    data: D;
    /** The frame as received. */
    raw: string;
    json: true;
  }
  | {
    /** The frame itself: text that is not JSON, or binary as `ArrayBuffer`/`Blob`. */
    data: string | ArrayBuffer | Blob;
    raw: string | ArrayBuffer | Blob;
    json: false;
  };

export interface ErrorDetail {
  /** The implementation's error when it gives one (`ws` does; browsers do not). */
  error: unknown;
}

export interface StateDetail {
  state: ClientState;
  previous: ClientState;
}

export interface DropDetail {
  /** The queued item evicted to make room (policy `'drop-oldest'`). */
  data: Outgoing;
}

export interface ClientEvents<D = unknown> {
  open: OpenDetail;
  close: CloseDetail;
  reconnecting: ReconnectingDetail;
  message: MessageDetail<D>;
  error: ErrorDetail;
  state: StateDetail;
  drop: DropDetail;
  /** With `recover: true`: the outcome of catching up with a group (see {@link RecoveryDetail}). */
  recovery: RecoveryDetail;
}

/** Close codes the client uses when it drops a link itself (the private-use range 4000–4999). */
export const CLOSE_HEARTBEAT_TIMEOUT = 4000;
export const CLOSE_CONNECT_TIMEOUT = 4001;
