/**
 * The client side of scenario (r), run as a process of its own (forked by
 * bench/scenarios/r.ts with the library from source, so `switchyard/client`
 * is the working tree's): N clients in one room, each cut off now and then,
 * and one sender numbering its messages at a fixed rate. Its configuration
 * comes in `BENCH_R_CONFIG` (JSON, {@link LoadConfig}); its result goes back
 * over IPC ({@link LoadResult}).
 *
 * How a client is cut off: every client's WebSocket goes through a `Link`.
 * A cut terminates the link's current socket (the TCP connection is
 * destroyed without a closing handshake, as when a network dies) and, for
 * `offlineMs`, points every new socket at a closed port, so connection
 * attempts fail at once and the client's own reconnect logic (backoff,
 * retries, recovery) runs as it would. Switchyard's client gets the link
 * through its `WebSocket` option (a subclass of `ws`'s WebSocket), Socket.IO's
 * through its `transports` option (a subclass of its Node WebSocket
 * transport); neither client is touched otherwise.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createServer } from 'node:net';
import { type Socket as SioSocket, NodeWebSocket, io } from 'socket.io-client';
import { ReconnectingWebsocket, type WebsocketConstructor } from 'switchyard/client';
import WebSocket from 'ws';
import { type LatencySummary, newHistogram, summarize } from './hist.js';
import { Tally } from './reliability-tally.js';

/** Which client speaks to which server. */
export type LoadKind = 'chat-recover' | 'chat-plain' | 'socketio';

export interface LoadConfig {
  kind: LoadKind;
  port: number;
  room: string;
  clients: number;
  /** Messages per second from the sender. */
  rate: number;
  /** How long the sender sends, ms. */
  durationMs: number;
  /** Mean ms between two cuts of one client (each jittered ±25%). */
  periodMs: number;
  /** Ms a cut client's connection attempts keep failing. */
  offlineMs: number;
  /** Ms to wait after the last message for replays to arrive. */
  drainMs: number;
  /** Both clients' reconnection delays, ms: the first retry waits about `minDelay`, later ones at most `maxDelay`. */
  minDelay: number;
  maxDelay: number;
}

export interface LoadResult {
  kind: LoadKind;
  clients: number;
  sent: number;
  /** (message, client) pairs that should have arrived, and those that did. */
  expected: number;
  delivered: number;
  duplicates: number;
  outOfOrder: number;
  /** Latency from reconnection to each message sent while away (ms). */
  replay: LatencySummary;
  cuts: number;
  reconnects: number;
  /** Ms from a cut to the reconnection that followed. */
  offline: { p50: number; max: number };
  recovered: number;
  notRecovered: number;
  announcedReplays: number;
  /** Clients not connected when the drain ended. */
  stillOffline: number;
  /** CPU the load process used, in cores, and its event loop's delay p99 (ms): high values mean latencies are the load's. */
  loadCores: number;
  loopDelayP99: number;
}

const now = () => performance.now();
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A port nothing listens on: bound by the OS, then released. */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().once('error', reject).listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** One client's network: its current socket, and whether it is cut off. */
class Link {
  socket: WebSocket | null = null;
  #offlineUntil = 0;

  constructor(readonly deadPort: number) {}

  /** Where a new socket should connect: the URL asked for, or a closed port while cut off. */
  route(url: string): string {
    if (now() >= this.#offlineUntil) return url;
    const dead = new URL(url);
    dead.port = String(this.deadPort);
    return dead.toString();
  }

  cut(forMs: number): void {
    this.#offlineUntil = now() + forMs;
    this.socket?.terminate();
  }
}

/** `ws`'s WebSocket, going through `link`: what Switchyard's client gets as its `WebSocket` option. */
function linkedWebSocket(link: Link): WebsocketConstructor {
  return class LinkedWebSocket extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(link.route(url), protocols);
      link.socket = this;
    }
  };
}

/** Socket.IO's Node WebSocket transport, going through `link`. */
function linkedTransport(link: Link): typeof NodeWebSocket {
  return class LinkedTransport extends NodeWebSocket {
    override createSocket(uri: string, protocols: string | string[] | undefined, opts: Record<string, unknown>): WebSocket {
      const socket = super.createSocket(link.route(uri), protocols, opts) as WebSocket;
      link.socket = socket;
      return socket;
    }
  };
}

/** The number of a chat line `"<seq>:<ms>"`, or 0. */
const seqOf = (message: unknown): number => (typeof message === 'string' ? Number.parseInt(message, 10) || 0 : 0);

interface Client { link: Link; tally: Tally; opened: Promise<void>; close(): void }

interface Shared { config: LoadConfig; deadPort: number; sentAt: Float64Array; replays: ReturnType<typeof newHistogram>; messages: number }

function switchyardClient({ config, deadPort, sentAt, replays, messages }: Shared): Client {
  const link = new Link(deadPort);
  const tally = new Tally(messages);
  const client = new ReconnectingWebsocket(`ws://127.0.0.1:${config.port}/ws/chat/${config.room}/`, {
    WebSocket: linkedWebSocket(link),
    recover: config.kind === 'chat-recover',
    minDelay: config.minDelay,
    maxDelay: config.maxDelay,
    connectTimeout: 10_000,
  });
  const opened = new Promise<void>((resolve) => client.once('open', () => resolve()));
  client.on('open', () => tally.opened(now()));
  client.on('message', ({ data }) => {
    const seq = seqOf((data as { message?: unknown } | null)?.message);
    if (seq > 0) tally.receive(seq, now(), sentAt[seq]!, replays);
  });
  client.on('recovery', ({ recovered, replayed }) => {
    if (tally.reconnects === 0) return; // the first join: nothing to recover yet
    if (recovered) tally.recovered += 1;
    else tally.notRecovered += 1;
    tally.announcedReplays += replayed;
  });
  client.on('error', () => {}); // failed attempts while cut off are the point
  return { link, tally, opened, close: () => client.close() };
}

function socketIoClient({ config, deadPort, sentAt, replays, messages }: Shared): Client {
  const link = new Link(deadPort);
  const tally = new Tally(messages);
  const socket: SioSocket = io(`http://127.0.0.1:${config.port}`, {
    transports: [linkedTransport(link)],
    forceNew: true, // one connection per client, not one shared by all of them
    query: { room: config.room },
    reconnectionDelay: config.minDelay,
    reconnectionDelayMax: config.maxDelay,
    timeout: 10_000,
  });
  const opened = new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  // The engine's open is the WebSocket's, as the `open` of Switchyard's client: a recovered
  // session's missed packets come before its `connect` event (they are emitted on connect, first).
  socket.io.on('open', () => tally.opened(now()));
  socket.on('connect', () => {
    if (tally.reconnects === 0) return; // the first connection: nothing to recover yet
    if (socket.recovered) tally.recovered += 1;
    else tally.notRecovered += 1;
  });
  socket.on('chat', (content: { message?: unknown }) => {
    const seq = seqOf(content?.message);
    if (seq > 0) tally.receive(seq, now(), sentAt[seq]!, replays);
  });
  return { link, tally, opened, close: () => socket.disconnect() };
}

/** The sender: one connection that is never cut; `send(text)` sends one chat line. */
async function sender(config: LoadConfig): Promise<{ send(text: string): void; close(): void }> {
  if (config.kind === 'socketio') {
    // In the room, as the server broadcasts to the sender's room (it hears its own lines: 20 a second, nothing).
    const socket = io(`http://127.0.0.1:${config.port}`, { transports: ['websocket'], forceNew: true, query: { room: config.room } });
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    return { send: (text) => socket.emit('chat', { message: text, username: 'bench' }), close: () => socket.disconnect() };
  }
  const ws = new WebSocket(`ws://127.0.0.1:${config.port}/ws/chat/${config.room}/`);
  await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject); });
  return { send: (text) => ws.send(JSON.stringify({ message: text, username: 'bench' })), close: () => ws.close() };
}

export async function runLoad(config: LoadConfig): Promise<LoadResult> {
  const messages = Math.ceil((config.durationMs / 1000) * config.rate);
  const shared: Shared = { config, deadPort: await closedPort(), sentAt: new Float64Array(messages + 1), replays: newHistogram(), messages };
  const make = config.kind === 'socketio' ? socketIoClient : switchyardClient;

  // Connect in batches, so that the handshakes do not all land in one burst.
  const clients: Client[] = [];
  for (let i = 0; i < config.clients; i += 50) {
    const batch = Array.from({ length: Math.min(50, config.clients - i) }, () => make(shared));
    clients.push(...batch);
    await Promise.race([Promise.all(batch.map((c) => c.opened)), sleep(30_000).then(() => { throw new Error(`clients ${i}..${i + batch.length} did not connect in 30 s`); })]);
  }
  const send = await sender(config);
  await sleep(500);

  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const cpu0 = process.cpuUsage();
  const t0 = now();
  const sendEnd = t0 + config.durationMs;

  // Each client is cut at a random moment of its first period, then about every period.
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const schedule = (client: Client, at: number) => {
    if (at >= sendEnd) return;
    const timer = setTimeout(() => {
      timers.delete(timer);
      // Still away from the last cut (a slow reconnection): this cut is skipped, not stacked.
      if (client.tally.cutAt < 0) {
        client.tally.cut(now());
        client.link.cut(config.offlineMs);
      }
      schedule(client, at + config.periodMs * (0.75 + Math.random() * 0.5));
    }, at - now());
    timers.add(timer);
  };
  for (const client of clients) schedule(client, t0 + Math.random() * config.periodMs);

  // Message i leaves at t0 + i / rate, whatever the timers' drift.
  let sent = 0;
  while (sent < messages) {
    const due = Math.min(messages, Math.floor(((now() - t0) / 1000) * config.rate) + 1);
    while (sent < due) {
      sent += 1;
      shared.sentAt[sent] = now();
      send.send(`${sent}:${Date.now()}`);
    }
    await sleep(Math.max(1, t0 + (sent * 1000) / config.rate - now()));
  }
  for (const timer of timers) clearTimeout(timer);
  await sleep(config.drainMs);
  const elapsed = now() - t0;
  const cpu = process.cpuUsage(cpu0);
  loop.disable();

  let expected = 0;
  let delivered = 0;
  const offline: number[] = [];
  const result: LoadResult = {
    kind: config.kind, clients: clients.length, sent, expected: 0, delivered: 0, duplicates: 0, outOfOrder: 0,
    replay: summarize(shared.replays), cuts: 0, reconnects: 0, offline: { p50: 0, max: 0 },
    recovered: 0, notRecovered: 0, announcedReplays: 0, stillOffline: 0,
    loadCores: Math.round(((cpu.user + cpu.system) / 1000 / elapsed) * 100) / 100,
    loopDelayP99: Math.round(loop.percentile(99) / 1e4) / 100,
  };
  for (const { tally } of clients) {
    expected += tally.expected(shared.sentAt, sent);
    delivered += tally.deliveredOf(shared.sentAt, sent);
    result.duplicates += tally.duplicates;
    result.outOfOrder += tally.outOfOrder;
    result.cuts += tally.cuts;
    result.reconnects += tally.reconnects;
    result.recovered += tally.recovered;
    result.notRecovered += tally.notRecovered;
    result.announcedReplays += tally.announcedReplays;
    if (tally.cutAt >= 0) result.stillOffline += 1;
    offline.push(...tally.offline);
  }
  offline.sort((a, b) => a - b);
  result.expected = expected;
  result.delivered = delivered;
  result.offline = { p50: Math.round(offline[offline.length >> 1] ?? 0), max: Math.round(offline[offline.length - 1] ?? 0) };
  send.close();
  for (const client of clients) client.close();
  return result;
}

// Run as a child of the scenario: configuration in, result out.
if (process.env.BENCH_R_CONFIG !== undefined && process.send !== undefined) {
  const config = JSON.parse(process.env.BENCH_R_CONFIG) as LoadConfig;
  runLoad(config).then(
    (result) => process.send!({ result }, () => process.exit(0)),
    (error: unknown) => process.send!({ error: error instanceof Error ? error.message : String(error) }, () => process.exit(1)),
  );
}
