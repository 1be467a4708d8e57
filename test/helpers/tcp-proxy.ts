/**
 * A TCP proxy for fault tests: it listens on a port of its own and pipes
 * each connection to a target, so that a test can drop the network between
 * a client and a server without touching either.
 *
 * `cut({ forMs })` resets every open connection at once, on both sides (each
 * peer gets an RST, as when a link dies and a middlebox reports it, not a
 * polite FIN), then resets every new connection for `forMs` ms: a client
 * that retries sees its attempts fail until the window ends, and the proxy
 * then accepts again on the same port.
 *
 * `trap(match, 'request' | 'reply')` resets the connection at one exact
 * command: instead of forwarding the next client chunk containing `match`,
 * or just after it, instead of forwarding the server's answer.
 *
 * @example
 * ```ts
 * const proxy = await TcpProxy.start({ target: { port: serverPort } });
 * const client = connectTo(`ws://127.0.0.1:${proxy.port}/`);
 * await proxy.cut({ forMs: 500 }); // resolves when the proxy accepts again
 * await proxy.close();
 * ```
 */
import { type AddressInfo, type Server, type Socket, createServer, connect } from 'node:net';
import { Transform } from 'node:stream';

export interface TcpProxyOptions {
  /** Where connections go; host defaults to 127.0.0.1. */
  target: { port: number; host?: string };
  /** The proxy's own port; default 0 (the OS picks one). */
  port?: number;
}

/** A client socket and the socket to the target that carries its bytes. */
interface Pair { client: Socket; upstream: Socket }

/** A one-shot fault armed by {@link TcpProxy.trap}. */
interface Trap { match: Buffer; drop: 'request' | 'reply'; struck: () => void }

export class TcpProxy {
  readonly #server: Server;
  readonly #pairs = new Set<Pair>();
  /** New connections are reset until this time (ms since the epoch). */
  #refuseUntil = 0;
  #trap: Trap | null = null;
  /** The pair whose server bytes are reset instead of forwarded (a trap's `'reply'`). */
  #dropReplyOf: { pair: Pair; struck: () => void } | null = null;

  private constructor(server: Server) {
    this.#server = server;
  }

  /** Starts a proxy on 127.0.0.1 in front of `target`; resolves once it listens. */
  static async start({ target, port = 0 }: TcpProxyOptions): Promise<TcpProxy> {
    const server = createServer();
    const proxy = new TcpProxy(server);
    server.on('connection', (client) => proxy.#accept(client, target));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    return proxy;
  }

  /** The port the proxy listens on. */
  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  /** How many connections are open through the proxy right now. */
  get connections(): number {
    return this.#pairs.size;
  }

  /**
   * Resets every open connection (both sides) and every new one for `forMs`
   * ms. Resolves when the proxy accepts connections again (at once with no
   * `forMs`); a later cut with a longer window extends it.
   */
  cut({ forMs = 0 }: { forMs?: number } = {}): Promise<void> {
    this.#refuseUntil = Math.max(this.#refuseUntil, Date.now() + forMs);
    for (const pair of [...this.#pairs]) this.#drop(pair);
    return new Promise((resolve) => setTimeout(resolve, Math.max(0, this.#refuseUntil - Date.now())));
  }

  /**
   * Arms a one-shot fault on the next chunk a client sends that contains
   * `match`: with `'request'` its connection is reset instead (the server
   * never sees it); with `'reply'` the chunk goes through and the connection
   * is reset when the server answers, before the answer is forwarded (the
   * command ran, its reply is lost). Resolves when it struck.
   */
  trap(match: string | Buffer, drop: 'request' | 'reply'): Promise<void> {
    return new Promise((struck) => {
      this.#trap = { match: Buffer.from(match), drop, struck };
    });
  }

  /** Stops listening and resets every open connection. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const pair of [...this.#pairs]) this.#drop(pair);
    await closed;
  }

  #accept(client: Socket, target: { port: number; host?: string }): void {
    // Errors are expected here (resets are the point): a socket without an
    // 'error' listener would crash the test process instead.
    client.on('error', () => {});
    if (Date.now() < this.#refuseUntil) {
      client.resetAndDestroy();
      return;
    }
    const upstream = connect({ port: target.port, host: target.host ?? '127.0.0.1' });
    upstream.on('error', () => {});
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const pair: Pair = { client, upstream };
    this.#pairs.add(pair);
    // Each direction through a Transform, where an armed trap can hold a chunk back and reset the pair.
    const requests = new Transform({
      transform: (chunk: Buffer, _encoding, done) => {
        const trap = this.#trap;
        if (trap === null || !chunk.includes(trap.match)) return done(null, chunk);
        this.#trap = null;
        if (trap.drop === 'request') {
          this.#drop(pair);
          trap.struck();
          return done();
        }
        this.#dropReplyOf = { pair, struck: trap.struck };
        return done(null, chunk);
      },
    });
    const replies = new Transform({
      transform: (chunk: Buffer, _encoding, done) => {
        const dropping = this.#dropReplyOf;
        if (dropping === null || dropping.pair !== pair) return done(null, chunk);
        this.#dropReplyOf = null;
        this.#drop(pair);
        dropping.struck();
        return done();
      },
    });
    client.pipe(requests).pipe(upstream);
    upstream.pipe(replies).pipe(client);
    // Whichever side goes first takes the other with it, the way it went: an
    // error (a reset) resets the other side, an orderly end ends it (pipe
    // already forwards the FIN).
    const onClose = (other: Socket) => (hadError: boolean) => {
      this.#pairs.delete(pair);
      if (hadError) other.resetAndDestroy();
      else other.end();
    };
    client.on('close', onClose(upstream));
    upstream.on('close', onClose(client));
  }

  #drop(pair: Pair): void {
    this.#pairs.delete(pair);
    pair.client.resetAndDestroy();
    pair.upstream.resetAndDestroy();
  }
}
