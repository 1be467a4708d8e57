/**
 * Abuse limits: one client must not be able to degrade a room or a server.
 *
 * - {@link LimitsMiddleware}: per-connection inbound message rate (a token
 *   bucket) and per-client-address concurrent connections.
 * - {@link withGroupLimit}: a channel layer wrapper capping how many groups
 *   one connection (one channel) may join.
 * - Message size is the server's limit (`wsMaxSize`, default 1 MiB: a bigger
 *   frame closes the connection with 1009) and needs nothing here.
 *
 * How the rate limit works. Each connection has a bucket of `burst` tokens,
 * refilled at `messagesPerSecond`; each `websocket.receive` takes one. With
 * the bucket empty the message is dropped before the application sees it,
 * and the client gets an error event (`{"type":"error","code":"rate_limited",
 * "message":...}`, at most one per `noticeInterval`). Dropped messages take
 * from a second bucket of `maxDropped` "strikes", refilled at
 * `forgivePerSecond`: a client that keeps flooding empties it and is closed
 * with 1008 (policy violation), while a user who briefly types too fast
 * only loses a few messages. The application then sees a
 * `websocket.disconnect` with code 1008, so its cleanup runs as usual.
 * Buckets refill by arithmetic on timestamps: no timers per connection.
 * A message's token is taken when the app asks for the next event, if the
 * bucket has one then (a bucket only fills while it waits, so that message
 * will pass): the app waits on the server's own promise, and an idle
 * connection holds no promise and no bucket of this middleware. Only a read
 * that finds the bucket empty looks at its event when it comes. Every event
 * after `websocket.connect` counts as a message (the only other one is the
 * final `websocket.disconnect`).
 *
 * Defaults, chosen for a public chat: 10 messages/s with bursts of 20,
 * closed after 50 drops (forgiving 1 per second), error notices at most once
 * a second, no per-address connection limit (set one, such as 20, when
 * clients do not share addresses behind NAT or a proxy; behind a reverse
 * proxy, enable the server's `proxyHeaders` so `scope.client` is the real
 * client). Groups per connection: 100 with `withGroupLimit`.
 */
import type { Application, LayerMessage, ReceiveEvent, SendEvent } from '../asgi.js';
import { TooManyGroups } from '../errors.js';
import type { ChannelLayer } from '../layers/base.js';
import { DelegatingLayer } from '../layers/delegating.js';
import { logger } from '../log.js';
import { SETTLED } from '../settled.js';
import { deny, passThroughMiddleware } from './base.js';

/** Options of {@link LimitsMiddleware}; see the module doc for the defaults. */
export interface LimitsOptions {
  /** Sustained inbound messages per second per connection. Default 10. */
  messagesPerSecond?: number;
  /** Messages a connection may send at once before the rate applies. Default 20. */
  burst?: number;
  /** Dropped messages tolerated (as a bucket) before closing with 1008. Default 50. */
  maxDropped?: number;
  /** Strikes given back per second. Default 1. */
  forgivePerSecond?: number;
  /** Seconds between two error notices to one client. Default 1. */
  noticeInterval?: number;
  /** Concurrent WebSocket connections per client address (`scope.client`); `0` for no limit. Default 0. Connections without an address are not counted. */
  maxConnectionsPerAddress?: number;
}

/** The defaults of {@link LimitsMiddleware}. */
export const DEFAULT_LIMITS: Required<LimitsOptions> = {
  messagesPerSecond: 10,
  burst: 20,
  maxDropped: 50,
  forgivePerSecond: 1,
  noticeInterval: 1,
  maxConnectionsPerAddress: 0,
};

/**
 * A token bucket refilled by elapsed time.
 *
 * @example
 * ```ts
 * import { TokenBucket } from 'switchyard/middleware';
 *
 * const bucket = new TokenBucket(20, 10); // 20 at once, 10 per second
 * if (!bucket.take()) console.warn('over the rate: message dropped');
 * ```
 */
export class TokenBucket {
  readonly capacity: number;
  readonly perSecond: number;
  #tokens: number;
  #at: number;
  /** 1 while a token taken by {@link takeAhead} waits for its event, else 0. */
  #ahead = 0;

  constructor(capacity: number, perSecond: number, now = performance.now()) {
    this.capacity = capacity;
    this.perSecond = perSecond;
    this.#tokens = capacity;
    this.#at = now;
  }

  /** Takes one token if there is one. */
  take(now = performance.now()): boolean {
    this.#refill(now);
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /**
   * Takes one token now for an event still to come, as `take()` at the
   * event's time would (a bucket only fills while it waits, so a token now is
   * a token then). Until {@link settle}, the bucket fills to one token less
   * than its capacity: what it would hold had the token been taken when the
   * event came.
   */
  takeAhead(now = performance.now()): boolean {
    if (!this.take(now)) return false;
    this.#ahead = 1;
    return true;
  }

  /** The event of the last {@link takeAhead} has come: the bucket fills to its capacity again. */
  settle(now = performance.now()): void {
    this.#refill(now);
    this.#ahead = 0;
  }

  #refill(now: number): void {
    this.#tokens = Math.min(this.capacity - this.#ahead, this.#tokens + ((now - this.#at) / 1000) * this.perSecond);
    this.#at = now;
  }
}

const RATE_NOTICE = JSON.stringify({ type: 'error', code: 'rate_limited', message: 'Too many messages: slow down. Some were not delivered.' });

/**
 * Rate and connection limits for WebSocket connections (HTTP passes through).
 *
 * @example
 * ```ts
 * import type { Application } from 'switchyard';
 * import { AuthMiddlewareStack, type AuthStackOptions, LimitsMiddleware } from 'switchyard/middleware';
 *
 * declare const router: Application;
 * declare const auth: AuthStackOptions;
 * const app = LimitsMiddleware(AuthMiddlewareStack(router, auth), { messagesPerSecond: 5, maxConnectionsPerAddress: 20 });
 * ```
 */
export function LimitsMiddleware(inner: Application, options: LimitsOptions = {}): Application {
  const defined = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  const limits: Required<LimitsOptions> = { ...DEFAULT_LIMITS, ...defined };
  for (const [name, value] of Object.entries(limits)) {
    if (typeof value !== 'number' || !(value >= 0)) throw new TypeError(`The "${name}" limit must be a non-negative number (got ${String(value)})`);
  }
  // Shared by every connection on purpose: counts per client address.
  const perAddress = new Map<string, number>();
  const release = (address: string): void => {
    const left = (perAddress.get(address) ?? 1) - 1;
    if (left <= 0) perAddress.delete(address);
    else perAddress.set(address, left);
  };

  // Not async, and the inner app's promise is returned as it is: an idle connection holds no
  // suspended frame and no promise of this middleware (see RateLimitedConnection). The scope is
  // only read: the inner app gets it as it came (no copy).
  return passThroughMiddleware(inner, function limitsMiddleware(scope, receive, send, app) {
    if (scope.type !== 'websocket') return app(scope, receive, send);
    // Without a client address (a Unix socket, a server that does not say), there is nothing to count by.
    const address = scope.client?.[0] ?? null;
    const max = limits.maxConnectionsPerAddress;
    const counted = max > 0 && address !== null;
    if (counted && (perAddress.get(address) ?? 0) >= max) {
      logger.warn({ client: address, limit: max, path: scope.path }, 'WebSocket refused: too many connections from this address');
      return deny(scope, receive, send);
    }
    const limited = new RateLimitedConnection(receive, send, limits, address, scope.path);
    const limitedReceive = limited.boundReceive();
    const limitedSend = limited.boundSend();
    if (!counted) return app(scope, limitedReceive, limitedSend);
    perAddress.set(address, (perAddress.get(address) ?? 0) + 1);
    let running: Promise<void>;
    try {
      running = Promise.resolve(app(scope, limitedReceive, limitedSend));
    } catch (error) {
      release(address);
      throw error;
    }
    return running.finally(() => release(address));
  });
}

/** What a connection needs only once it sends messages: its buckets, its last notice, its drop count. */
class FloodState {
  readonly rate: TokenBucket;
  strikes: TokenBucket | null = null;
  /** No error notice before this time (performance.now() milliseconds). */
  quietUntil = 0;
  dropped = 0;

  constructor(limits: Required<LimitsOptions>) {
    this.rate = new TokenBucket(limits.burst, limits.messagesPerSecond);
  }
}

/** Bits of {@link RateLimitedConnection}'s `#flags`. */
const ACCEPTED = 1;
const CLOSED_BY_US = 2;
/** The first event (`websocket.connect`, not a message) was asked for. */
const CONNECT_READ = 4;
/** The pending read took its token ahead from the bucket not made yet (a full one). */
const AHEAD_OF_FULL_BUCKET = 8;

/**
 * One connection's rate limit. Its state lives on this one object and its
 * `receive` and `send` are its methods, bound once and handed to the app
 * (not kept here): an idle connection holds no closures, no scope and no
 * buckets. The buckets are made at first need (the second message, the
 * first drop): a bucket starts full and never holds more than its
 * capacity, so one made then holds what one made at connect time would.
 */
class RateLimitedConnection {
  readonly #receive: () => Promise<ReceiveEvent | LayerMessage>;
  readonly #send: (event: SendEvent) => Promise<void>;
  readonly #limits: Required<LimitsOptions>;
  readonly #address: string | null;
  readonly #path: string;
  /** Made when the first message's token leaves the bucket. */
  #flood: FloodState | null = null;
  /** {@link ACCEPTED}, {@link CLOSED_BY_US}...: one small integer rather than a field each. */
  #flags = 0;

  constructor(
    receive: () => Promise<ReceiveEvent | LayerMessage>, send: (event: SendEvent) => Promise<void>,
    limits: Required<LimitsOptions>, address: string | null, path: string,
  ) {
    this.#receive = receive;
    this.#send = send;
    this.#limits = limits;
    this.#address = address;
    this.#path = path;
  }

  /** The `receive` to give the app. */
  boundReceive(): () => Promise<ReceiveEvent | LayerMessage> {
    return this.#limitedReceive.bind(this);
  }

  /** The `send` to give the app. */
  boundSend(): (event: SendEvent) => Promise<void> {
    return this.#limitedSend.bind(this);
  }

  // Not async: the server's own answer goes back as it is (a settled send stays the shared SETTLED, see settled.ts).
  #limitedSend(event: SendEvent): Promise<void> {
    if ((this.#flags & CLOSED_BY_US) !== 0) return SETTLED; // the app may still try to talk while it cleans up
    if (event.type === 'websocket.accept') this.#flags |= ACCEPTED;
    try {
      return this.#send(event);
    } catch (error) {
      return Promise.reject(error); // as an async function would: a throw becomes a rejection
    }
  }

  // The server's promise itself when the next message surely passes (see the module doc); a
  // promise chain rather than an async loop otherwise: no suspended frame here.
  #limitedReceive(): Promise<ReceiveEvent | LayerMessage> {
    if ((this.#flags & CONNECT_READ) === 0) {
      this.#flags |= CONNECT_READ;
      return this.#receive();
    }
    if (this.#tookAhead()) return this.#receive();
    return this.#receive().then((event) => this.#admitEvent(event));
  }

  /** Settles the previous read's token, then takes the next message's now if the bucket has one. */
  #tookAhead(): boolean {
    let flood = this.#flood;
    if (flood === null) {
      if ((this.#flags & AHEAD_OF_FULL_BUCKET) === 0) {
        if (this.#limits.burst < 1) return false;
        this.#flags |= AHEAD_OF_FULL_BUCKET;
        return true;
      }
      // The previous read's message came: its token leaves the (until now full) bucket.
      this.#flags &= ~AHEAD_OF_FULL_BUCKET;
      flood = this.#flood = new FloodState(this.#limits);
      flood.rate.take();
    } else {
      flood.rate.settle();
    }
    return flood.rate.takeAhead();
  }

  #admitEvent(event: ReceiveEvent | LayerMessage): ReceiveEvent | LayerMessage | Promise<ReceiveEvent | LayerMessage> {
    if (event.type !== 'websocket.receive') return event;
    const limits = this.#limits;
    const flood = (this.#flood ??= new FloodState(limits));
    if (flood.rate.take()) return event;
    flood.dropped += 1;
    if (!(flood.strikes ??= new TokenBucket(limits.maxDropped, limits.forgivePerSecond)).take()) {
      logger.warn({ client: this.#address, path: this.#path, dropped: flood.dropped }, 'WebSocket closed: message flood (1008)');
      return this.#send({ type: 'websocket.close', code: 1008, reason: 'Rate limit exceeded' }).then(() => {
        this.#flags |= CLOSED_BY_US;
        // Keep reading (and discarding) what the flooder already sent, so that a server that
        // pauses the socket while events are unread sees the peer's close frame promptly.
        void (async () => {
          for (;;) if ((await this.#receive()).type === 'websocket.disconnect') return;
        })().catch(() => {});
        return { type: 'websocket.disconnect', code: 1008, reason: 'Rate limit exceeded' } as const;
      });
    }
    const now = performance.now();
    if ((this.#flags & ACCEPTED) !== 0 && now >= flood.quietUntil) {
      flood.quietUntil = now + limits.noticeInterval * 1000;
      return this.#send({ type: 'websocket.send', text: RATE_NOTICE }).then(() => this.#limitedReceive());
    }
    return this.#limitedReceive(); // dropped: read the next one
  }
}

/**
 * Wraps a channel layer so that no channel is in more than `maxGroups`
 * groups at once; one more `groupAdd` throws {@link TooManyGroups}.
 * Consumers leave their groups when they end, which gives the count back.
 *
 * @example
 * ```ts
 * import { configureChannelLayers, InMemoryChannelLayer } from 'switchyard';
 * import { withGroupLimit } from 'switchyard/middleware';
 *
 * configureChannelLayers({ default: withGroupLimit(new InMemoryChannelLayer(), 100) });
 * ```
 */
export function withGroupLimit(layer: ChannelLayer, maxGroups = 100): ChannelLayer {
  return new GroupLimitLayer(layer, maxGroups);
}

/** The layer {@link withGroupLimit} makes: every member is the inner layer's (taps, leases), bar the group count. */
class GroupLimitLayer extends DelegatingLayer {
  readonly #maxGroups: number;
  /** channel → the groups it is in. */
  readonly #memberships = new Map<string, Set<string>>();

  constructor(inner: ChannelLayer, maxGroups: number) {
    super(inner);
    this.#maxGroups = maxGroups;
  }

  override async groupAdd(group: string, channel: string): Promise<void> {
    const groups = this.#memberships.get(channel) ?? new Set<string>();
    if (!groups.has(group) && groups.size >= this.#maxGroups) throw new TooManyGroups(channel, this.#maxGroups);
    groups.add(group);
    this.#memberships.set(channel, groups);
    await this.inner.groupAdd(group, channel);
  }

  override async groupDiscard(group: string, channel: string): Promise<void> {
    const groups = this.#memberships.get(channel);
    if (groups !== undefined) {
      groups.delete(group);
      if (groups.size === 0) this.#memberships.delete(channel);
    }
    await this.inner.groupDiscard(group, channel);
  }

  override async flush(): Promise<void> {
    this.#memberships.clear();
    await this.inner.flush();
  }
}
