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

export interface MessageDetail {
  /** The parsed JSON value when the frame was JSON text, else the frame itself. */
  data: unknown;
  /** The frame as received: text, or binary as `ArrayBuffer`/`Blob`. */
  raw: string | ArrayBuffer | Blob;
  /** Whether `data` is parsed JSON. */
  json: boolean;
}

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

export interface ClientEvents {
  open: OpenDetail;
  close: CloseDetail;
  reconnecting: ReconnectingDetail;
  message: MessageDetail;
  error: ErrorDetail;
  state: StateDetail;
  drop: DropDetail;
  /** With `recover: true`: the outcome of catching up with a group (see {@link RecoveryDetail}). */
  recovery: RecoveryDetail;
}

/** Close codes the client uses when it drops a link itself (the private-use range 4000–4999). */
export const CLOSE_HEARTBEAT_TIMEOUT = 4000;
export const CLOSE_CONNECT_TIMEOUT = 4001;
