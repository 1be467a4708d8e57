/**
 * A load worker process: holds a share of the client connections, sends at
 * the rates it is told to, and records the latency of every chat message it
 * receives (send timestamp in the message → receipt here) per phase.
 */
import { nowMicros } from '../lib/clock.js';
import { type Histogram, encode, newHistogram } from '../lib/hist.js';
import { dialectOf } from './dialects.js';
import { LeanSocket } from './lean-ws.js';
import type { Command, ConnSpec } from './protocol.js';

const HOST = '127.0.0.1';
const PIPE = 0x7c; // '|'
const dialect = dialectOf(process.env.BENCH_DIALECT ?? 'chat');
/** Source addresses to spread connections over (more ephemeral ports for 10k+ connections). */
const SOURCES = (process.env.BENCH_SOURCES ?? '').split(',').filter(Boolean);

interface Conn { spec: ConnSpec; sock: LeanSocket; ready: boolean }
interface PhaseStats { received: number; histogram: Histogram }

const conns = new Map<number, Conn>();
const phases = new Map<number, PhaseStats>();
let dropped = 0; // connections that closed after being ready

function statsFor(phase: number): PhaseStats {
  let stats = phases.get(phase);
  if (stats === undefined) phases.set(phase, (stats = { received: 0, histogram: newHistogram() }));
  return stats;
}

/** Reads `<µs>|<phase>|` around the first `|`; anything without one is protocol chatter. */
function onMessage(conn: Conn, buf: Buffer, start: number, end: number): void {
  let bar = start;
  while (bar < end && buf[bar] !== PIPE) bar++;
  if (bar === end) {
    const text = buf.toString('latin1', start, end);
    const answer = dialect.reply(text);
    if (answer !== null) conn.sock.sendText(answer);
    if (!conn.ready && text.includes('connection_established')) {
      conn.ready = true;
      onReady?.();
    }
    return;
  }
  const now = nowMicros();
  let ts = 0;
  let scale = 1;
  for (let i = bar - 1; i >= start; i--) {
    const digit = buf[i]! - 48;
    if (digit < 0 || digit > 9) break;
    ts += digit * scale;
    scale *= 10;
  }
  let phase = 0;
  for (let i = bar + 1; i < end; i++) {
    const digit = buf[i]! - 48;
    if (digit < 0 || digit > 9) break;
    phase = phase * 10 + digit;
  }
  const stats = statsFor(phase);
  stats.received++;
  stats.histogram.recordValue(Math.max(1, now - ts));
}

let onReady: (() => void) | null = null;

function connectAll(specs: ConnSpec[], concurrency: number, timeoutMs: number): Promise<{ ready: number; failed: number; ms: number; error: string | null }> {
  const t0 = performance.now();
  let next = 0;
  let inFlight = 0;
  let ready = 0;
  let failed = 0;
  let error: string | null = null;
  return new Promise((resolve) => {
    const timer = setTimeout(() => finish(), timeoutMs);
    const finish = () => {
      clearTimeout(timer);
      onReady = null;
      resolve({ ready, failed, ms: performance.now() - t0, error });
    };
    const settle = () => {
      inFlight--;
      if (ready + failed === specs.length) finish();
      else launch();
    };
    onReady = () => { ready++; settle(); };
    const launch = () => {
      while (inFlight < concurrency && next < specs.length) {
        const spec = specs[next]!;
        const source = SOURCES.length > 0 ? SOURCES[next % SOURCES.length] : undefined;
        next++;
        inFlight++;
        const conn: Conn = { spec, ready: false, sock: null as unknown as LeanSocket };
        conn.sock = new LeanSocket(HOST, spec.port, dialect.path(spec.room), {
          onMessage: (buf, start, end) => onMessage(conn, buf, start, end),
          onClose: (err) => {
            if (conn.ready) { dropped++; return; }
            failed++;
            error ??= err?.message ?? 'closed before ready';
            settle();
          },
        }, source);
        conns.set(spec.id, conn);
      }
    };
    if (specs.length === 0) finish();
    else launch();
  });
}

function runPhase(phase: number, durationMs: number, pad: number, senders: Array<{ id: number; rate: number; offsetMs: number }>): Promise<Record<number, number>> {
  const padding = 'x'.repeat(pad);
  const sent: Record<number, number> = {};
  const plan = senders.map((s) => ({ ...s, conn: conns.get(s.id)!, total: Math.round((s.rate * durationMs) / 1000) }));
  for (const s of plan) sent[s.id] = 0;
  const t0 = performance.now();
  return new Promise((resolve) => {
    const tick = () => {
      const elapsed = performance.now() - t0;
      let done = true;
      for (const s of plan) {
        const due = Math.min(s.total, Math.floor(((elapsed - s.offsetMs) * s.rate) / 1000) + 1);
        let n = sent[s.id]!;
        if (n < s.total) done = false;
        while (n < due) {
          s.conn.sock.sendText(dialect.chat(`${nowMicros()}|${phase}|${n}|${padding}`));
          n++;
        }
        sent[s.id] = n;
      }
      if (done || elapsed > durationMs + 2000) {
        clearInterval(timer);
        resolve(sent);
      }
    };
    const timer = setInterval(tick, 1);
  });
}

process.on('message', async (command: Command) => {
  switch (command.cmd) {
    case 'connect':
      process.send!({ req: command.req, ...(await connectAll(command.conns, command.concurrency, command.timeoutMs)) });
      break;
    case 'phase':
      process.send!({ req: command.req, sent: await runPhase(command.phase, command.durationMs, command.pad, command.senders) });
      break;
    case 'collect': {
      const stats = statsFor(command.phase);
      process.send!({ req: command.req, received: stats.received, histogram: command.histogram ? encode(stats.histogram) : '', dropped });
      break;
    }
    case 'close':
      for (const conn of conns.values()) conn.sock.destroy();
      conns.clear();
      process.send!({ req: command.req }, () => process.exit(0));
      break;
  }
});
