/**
 * The NATS layer's one connection: opened on first use, watched, and the
 * only place that turns NATS's failures into `LayerUnavailableError`.
 *
 * How it works: building a layer connects to nothing (as the Redis layers,
 * so a bad URL is found at startup and a NATS that is away is not). The
 * first call connects; if NATS does not answer, that call fails with
 * `LayerUnavailableError` naming the server, and the next call tries again.
 * Once connected, the nats client reconnects by itself; while it is away the
 * link is *down* and every call fails at once, loudly, instead of letting the
 * client buffer what its reconnection would throw away (it resets its
 * outgoing buffer on each reconnect). When it is back, the client has
 * already resubscribed; the link then tells the layer (`onUp`), which tells
 * the recovering consumers of its groups (`groupsResynced`).
 *
 * A publish is confirmed by {@link NatsLink.confirm}: one PING after it, whose
 * PONG says the server has read everything before it; every publish of one
 * synchronous stretch shares one PING.
 */
import { type ConnectionOptions, type JetStreamClient, type JetStreamManager, type NatsConnection, NatsError, connect } from 'nats';
import { sleep } from '../backoff.js';
import { LayerUnavailableError } from '../errors.js';
import type { LayerLogger } from '../redis/log.js';

/** Waits before trying again to make what JetStream refused (see {@link NatsLink.makeShared}). */
const RACE_RETRY_MS = [50, 200, 500];

/** What a {@link NatsLink} needs. */
export interface NatsLinkOptions {
  /** `host:port` or `nats://host:port` entries. */
  servers: readonly string[];
  user?: string;
  pass?: string;
  token?: string;
  tls?: boolean;
  /** Ms a connection attempt (and a confirmation) may take. */
  connectTimeout: number;
  /** Ms a request (a send, a JetStream call) may wait for its answer. */
  requestTimeout: number;
  logger: LayerLogger;
  /** The connection was lost (the client is reconnecting). */
  onDown: () => void;
  /** The connection is back, subscriptions restored. */
  onUp: () => void;
}

/** Wraps an error of the nats client as `LayerUnavailableError` (a Switchyard error passes through). */
export function unavailable(what: string, error: unknown): Error {
  if (error instanceof LayerUnavailableError) return error;
  const reason = error instanceof Error ? (error.message || (error as { code?: string }).code || error.name) : String(error);
  return new LayerUnavailableError(`${what}: ${reason}`, { cause: error });
}

/** Rejects with `LayerUnavailableError` when `promise` takes longer than `ms`. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new LayerUnavailableError(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** One lazily opened, watched connection to NATS. */
export class NatsLink {
  readonly #options: NatsLinkOptions;
  /** The servers, for messages. */
  readonly label: string;
  #connection: NatsConnection | null = null;
  #connecting: Promise<NatsConnection> | null = null;
  #up = false;
  #closed = false;
  #pendingConfirm: Promise<void> | null = null;
  #jsm: Promise<JetStreamManager> | null = null;

  constructor(options: NatsLinkOptions) {
    this.#options = options;
    this.label = options.servers.join(',');
  }

  /** Connected now (not reconnecting, not closed). */
  get up(): boolean {
    return this.#up;
  }

  /** The open connection; connects on first use. Rejects with `LayerUnavailableError` while NATS is away. */
  async get(): Promise<NatsConnection> {
    if (this.#closed) throw new LayerUnavailableError('The NATS channel layer is closed');
    if (this.#connection !== null) {
      if (!this.#up) throw new LayerUnavailableError(`NATS at ${this.label} is unavailable (the client is reconnecting)`);
      return this.#connection;
    }
    this.#connecting ??= this.#connect().finally(() => { this.#connecting = null; });
    return this.#connecting;
  }

  /** The connection when it is up (synchronous callers); null before the first connection. */
  current(): NatsConnection | null {
    if (this.#connection !== null && !this.#up) throw new LayerUnavailableError(`NATS at ${this.label} is unavailable (the client is reconnecting)`);
    return this.#connection;
  }

  /** Resolves once the server has read everything written before this call (one PING for a whole stretch). */
  confirm(connection: NatsConnection): Promise<void> {
    this.#pendingConfirm ??= new Promise<void>((resolve, reject) => {
      queueMicrotask(() => {
        this.#pendingConfirm = null;
        this.guard(within(connection.flush(), this.#options.connectTimeout, `NATS at ${this.label} did not confirm`), 'a confirmation')
          .then(resolve, (error: unknown) => reject(unavailable(`NATS at ${this.label} is unavailable`, error)));
      });
    });
    return this.#pendingConfirm;
  }

  /** Rejects everything {@link guard}ed when the connection drops. */
  readonly #onDrop = new Set<() => void>();

  /**
   * Rejects with `LayerUnavailableError` as soon as the connection drops
   * while `promise` waits: the nats client does not fail a pending request
   * when it loses its connection, it lets it time out.
   */
  guard<T>(promise: Promise<T>, what: string): Promise<T> {
    if (this.#closed || (this.#connection !== null && !this.#up)) {
      promise.catch(() => {});
      return Promise.reject(new LayerUnavailableError(`NATS at ${this.label} is unavailable (the client is reconnecting)`));
    }
    let drop: (() => void) | undefined;
    const dropped = new Promise<never>((_, reject) => {
      drop = () => reject(new LayerUnavailableError(`NATS at ${this.label} went away during ${what}`));
      this.#onDrop.add(drop);
    });
    return Promise.race([promise, dropped]).finally(() => this.#onDrop.delete(drop!));
  }

  /**
   * Makes a JetStream object other processes may be making at the same time
   * (the history stream, the lease bucket): `make` adds it or finds it made.
   * JetStream 2.9 may refuse the loser of that race ("subjects overlap", not
   * "name in use") while the winner's is being made, so a JetStream refusal
   * is tried again a moment later ({@link RACE_RETRY_MS}). A refusal that
   * lasts (another stream holds the subjects), or an error that is not
   * JetStream's (a timeout, a lost connection), rejects with
   * `LayerUnavailableError`: "JetStream at <servers> could not <what>: <reason>".
   */
  async makeShared<T>(make: () => Promise<T>, what: string): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await make();
      } catch (error) {
        const refused = error instanceof NatsError && error.api_error !== undefined;
        if (!refused || attempt === RACE_RETRY_MS.length) throw unavailable(`JetStream at ${this.label} could not ${what}`, error);
        this.#options.logger.debug({ err: error }, `JetStream refused to ${what}, which another process may be doing: trying again`);
      }
      await sleep(RACE_RETRY_MS[attempt]!);
    }
  }

  /** The server answered that it has no JetStream (started without `-js`). */
  jetstreamMissing = false;

  /** The JetStream manager (its creation asks the server whether JetStream is on). */
  async jetstreamManager(): Promise<JetStreamManager> {
    const connection = await this.get();
    this.#jsm ??= connection.jetstreamManager({ timeout: this.#options.requestTimeout }).then((jsm) => {
      this.jetstreamMissing = false;
      return jsm;
    }, (error: unknown) => {
      this.#jsm = null;
      // Nobody answers the JetStream API: the server runs without it.
      this.jetstreamMissing = error instanceof NatsError && error.code === '503';
      throw unavailable(`JetStream at ${this.label} is unavailable${this.jetstreamMissing ? ' (is the server started with -js?)' : ''}`, error);
    });
    return this.#jsm;
  }

  /** The JetStream client. */
  async jetstream(): Promise<JetStreamClient> {
    return (await this.get()).jetstream({ timeout: this.#options.requestTimeout });
  }

  /** Closes the connection (idempotent). */
  async close(): Promise<void> {
    this.#closed = true;
    this.#up = false;
    const connection = this.#connection ?? await this.#connecting?.catch(() => null) ?? null;
    this.#connection = null;
    await connection?.close().catch(() => {});
  }

  async #connect(): Promise<NatsConnection> {
    const { servers, user, pass, token, tls, connectTimeout } = this.#options;
    const options: ConnectionOptions = {
      servers: [...servers], name: 'switchyard', timeout: connectTimeout,
      // Reconnect for ever, quickly: while the client is away every call fails, so a long wait is a long outage.
      reconnect: true, maxReconnectAttempts: -1, reconnectTimeWait: 250, reconnectJitter: 100,
      waitOnFirstConnect: false, pingInterval: 10_000, maxPingOut: 2,
      ...(user !== undefined ? { user, pass } : {}), ...(token !== undefined ? { token } : {}), ...(tls ? { tls: {} } : {}),
    };
    let connection: NatsConnection;
    try {
      connection = await connect(options);
    } catch (error) {
      throw unavailable(`NATS at ${this.label} is unreachable`, error);
    }
    if (this.#closed) {
      await connection.close();
      throw new LayerUnavailableError('The NATS channel layer is closed');
    }
    this.#connection = connection;
    this.#up = true;
    void this.#watch(connection);
    return connection;
  }

  async #watch(connection: NatsConnection): Promise<void> {
    for await (const status of connection.status()) {
      try {
        if (status.type === 'disconnect') {
          this.#up = false;
          for (const drop of this.#onDrop) drop();
          this.#onDrop.clear();
          this.#options.logger.warn({ server: String(status.data) }, 'NATS connection lost: sends fail with LayerUnavailableError until it is back');
          this.#options.onDown();
        } else if (status.type === 'reconnect') {
          this.#up = true;
          this.#jsm = null;
          this.#options.logger.warn({ server: String(status.data) }, 'NATS connection back: subscriptions restored (messages published meanwhile are lost, except those a group history kept)');
          this.#options.onUp();
        }
      } catch (error) {
        // A hook's failure must not stop the watch (the next disconnect would go unnoticed).
        this.#options.logger.error({ err: error }, 'A NATS connection hook failed');
      }
    }
    // The status iterator ends when the connection closes for good.
    if (this.#connection === connection) {
      this.#connection = null;
      this.#up = false;
    }
  }
}
