/**
 * The fault harness (issue 13): real chat servers as child processes, a real
 * Redis owned by the test, clients behind TCP proxies, a sender at a fixed
 * rate, and a tally of what every receiver got.
 *
 * The sender is a chat client (the seeds' protocol) sending numbered lines
 * to one room; every receiver (and the sender itself) asks for recovery. A
 * line counts as *accepted* when it reached the room: the sender, a member
 * that recovers, gets it back. A line the room refused (Redis away) is
 * answered with the room's error frame, and one the client could not queue
 * while the server was away (its queue of 100 full) is refused by `send`
 * returning false: the tally checks that every line not accepted was
 * refused out loud.
 */
import { WebSocket } from 'ws';
import { MESSAGE_KEPT } from '../../examples/chat/consumers.js';
import { ReconnectingWebsocket, type RecoveryDetail } from 'switchyard/client';
import { type Running, runCommand } from '../helpers/processes.js';
import { freePort } from '../helpers/ports.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { delay, until } from '../helpers/time.js';

/** What a server says at warn when messages were lost (pub/sub reconnect, a lost pop or delivery, memberships re-asserted). */
const LOSS_WARNING = /are lost|missed it|Re-asserted .* group membership/;

/** A chat server process (examples/chat/server.ts) with a proxy in front. */
export class ChatProcess {
  running: Running | null = null;
  proxy!: TcpProxy;

  private constructor(readonly port: number, readonly layerUrl: string) {}

  static async start(layerUrl: string): Promise<ChatProcess> {
    const server = new ChatProcess(await freePort(), layerUrl);
    await server.startAgain();
    server.proxy = await TcpProxy.start({ target: { port: server.port } });
    return server;
  }

  async startAgain(): Promise<void> {
    this.running = runCommand(process.execPath, ['--import', 'tsx', 'examples/chat/server.ts'], {
      env: { ...process.env, PORT: String(this.port), CHANNEL_LAYER_URL: this.layerUrl, NODE_ENV: 'test', LOG_LEVEL: 'warn', CHAT_RATE: '1000', CHAT_BURST: '1000' },
    });
    await until(async () => await fetch(`http://127.0.0.1:${this.port}/`).then(() => true, () => false), 20_000, () => `the chat on ${this.port}: ${this.running?.output()}`);
  }

  /** Whether the process said at warn that messages were lost ({@link LOSS_WARNING}). */
  warnedOfLoss(): boolean {
    return LOSS_WARNING.test(this.running?.output() ?? '') || this.lostOutput;
  }
  /** A killed process's output stays readable here. */
  lostOutput = false;

  /** SIGKILL, as a crash. */
  async kill(): Promise<void> {
    const running = this.running;
    this.running = null;
    if (running === null) return;
    running.stop();
    await running.exited;
    this.lostOutput ||= LOSS_WARNING.test(running.output());
  }

  async close(): Promise<void> {
    await this.kill();
    await this.proxy.close();
  }
}

/** One recovering client in the room, and what it received. */
export class Member {
  readonly received: number[] = [];
  readonly outcomes: RecoveryDetail[] = [];
  readonly errors: string[] = [];
  /** Lines the client refused itself (`send` returned false: its offline queue was full), out loud to the caller. */
  refusedByClient = 0;
  closes = 0;
  readonly socket: ReconnectingWebsocket;

  constructor(urls: () => string, readonly name: string, recover = true) {
    this.socket = new ReconnectingWebsocket(urls, { WebSocket, recover, minDelay: 100, maxDelay: 400 });
    this.socket.on('message', ({ data }) => {
      const frame = data as { message?: string; type?: string };
      if (typeof frame.message === 'string' && frame.type === undefined && /^\d+$/.test(frame.message)) this.received.push(Number(frame.message));
      if (frame.type === 'error') this.errors.push(String(frame.message));
    });
    this.socket.on('recovery', (detail) => this.outcomes.push(detail));
    this.socket.on('close', () => this.closes++);
  }

  get lost(): number {
    return this.outcomes.filter((o) => !o.recovered).length;
  }
}

/** What one scenario measured, for the fault table. */
export interface FaultRow {
  layer: string;
  scenario: string;
  sent: number;
  accepted: number;
  refused: number;
  /** Lines the sender was told were saved but not delivered live to everyone (the room's history kept them). */
  kept: number;
  /** Receivers × accepted lines delivered, and expected. */
  delivered: number;
  expected: number;
  duplicates: number;
  outOfOrder: number;
  /** Ms from the fault's end until every receiver had a line sent after it. */
  recoverMs: number;
  recoveredFalse: number;
  /** Receivers without recovery: lines they missed, and whether each loss was reported (a close they saw, or a warn line of the server). */
  plainMissed: number;
  plainReported: boolean;
}

/** Sends numbered lines at a fixed rate through `sender` until stopped; numbers sent so far. */
export function startSending(sender: Member, everyMs: number): { stop: () => Promise<number>; next: () => number } {
  let n = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      n += 1;
      if (!sender.socket.sendJson({ message: String(n), username: 'sender' })) sender.refusedByClient++;
      await delay(everyMs);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return n;
    },
    next: () => n + 1,
  };
}

/** Waits until every member has seen a line numbered `n` or later (or the timeout); returns the ms it took. */
export async function allReached(members: Member[], n: number, ms: number): Promise<number> {
  const started = Date.now();
  await until(() => members.every((m) => (m.received.at(-1) ?? 0) >= n), ms, () => `line ${n} everywhere: ${members.map((m) => `${m.name}:${m.received.at(-1)}`).join(' ')}`);
  return Date.now() - started;
}

/** The tally: delivered, duplicates, order; with `exact`, every accepted line once at every receiver. */
export function tally(
  layer: string, scenario: string, sender: Member, receivers: Member[], sent: number, recoverMs: number,
  plain: Member[] = [], serverWarned = false,
): FaultRow {
  const accepted = new Set(sender.received);
  let delivered = 0;
  let duplicates = 0;
  let outOfOrder = 0;
  for (const member of receivers) {
    const seen = new Set<number>();
    let last = 0;
    for (const n of member.received) {
      if (seen.has(n)) duplicates++;
      else if (accepted.has(n)) delivered++;
      if (n < last) outOfOrder++;
      seen.add(n);
      last = Math.max(last, n);
    }
  }
  return {
    layer, scenario, sent, accepted: accepted.size,
    refused: sender.errors.filter((m) => m !== MESSAGE_KEPT).length + sender.refusedByClient,
    kept: sender.errors.filter((m) => m === MESSAGE_KEPT).length,
    delivered, expected: accepted.size * receivers.length, duplicates, outOfOrder, recoverMs,
    recoveredFalse: receivers.reduce((sum, m) => sum + m.lost, 0),
    plainMissed: plain.reduce((sum, m) => sum + [...accepted].filter((n) => !m.received.includes(n)).length, 0),
    plainReported: plain.every((m) => [...accepted].every((n) => m.received.includes(n)) || m.closes > 0 || serverWarned),
  };
}

/** The fault table as Markdown. */
export function faultTable(rows: FaultRow[]): string {
  const head = '| layer | scenario | sent | accepted | refused (error frame, or a full client queue) | saved, not delivered live | delivered | duplicates | out of order | time to recover | recovered:false | without recovery: missed (reported) |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n';
  return head + rows.map((r) =>
    `| ${r.layer} | ${r.scenario} | ${r.sent} | ${r.accepted} | ${r.refused} | ${r.kept} | ${r.delivered}/${r.expected} | ${r.duplicates} | ${r.outOfOrder} | ${r.recoverMs} ms | ${r.recoveredFalse} | ${r.plainMissed} (${r.plainMissed === 0 ? '-' : r.plainReported ? 'yes' : 'NO'}) |`).join('\n') + '\n';
}
