/**
 * `npx tsx bench/check.ts [server …]`: does each server of the benchmark
 * speak the chat protocol exactly (the load generator only counts frames, so
 * a server that broadcast the wrong text, or to the wrong room, would still
 * score)? Launches each chat-dialect server of bench/lib/servers.ts (all by
 * default) and checks, byte for byte:
 * - the greeting `{"type":"connection_established",…}` on connect;
 * - a chat line reaches every member of its room, the sender included, as
 *   `{"message","username"}`, and no one in another room;
 * - a blank username becomes "Anonymous";
 * - invalid JSON and an empty message get the tutorial's error frames, to the
 *   sender only, and the connection stays open.
 * Exits non-zero when a server fails. Servers run as in the benchmark, not pinned.
 */
import WebSocket from 'ws';
import { buildForBench } from './lib/build.js';
import { SINGLE, launch } from './lib/servers.js';

const ESTABLISHED = '{"type":"connection_established","message":"Connected to chat room"}';
const INVALID_JSON = '{"type":"error","message":"Invalid JSON format"}';
const INVALID = '{"type":"error","message":"Invalid message"}';

/** A client that queues every text frame it receives. */
class Client {
  readonly frames: string[] = [];
  readonly ws: WebSocket;
  #waiters: Array<() => void> = [];
  constructor(url: string) {
    this.ws = new WebSocket(url);
    this.ws.on('message', (data: Buffer) => {
      this.frames.push(data.toString('utf8'));
      for (const wake of this.#waiters.splice(0)) wake();
    });
  }
  opened(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
  }
  /** The next frame, or an error after `ms`. */
  async next(ms = 3000): Promise<string> {
    const deadline = Date.now() + ms;
    while (this.frames.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('no frame received');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => { clearTimeout(timer); resolve(); });
      });
    }
    return this.frames.shift()!;
  }
}

function expectEqual(what: string, got: string, want: string): void {
  if (got !== want) throw new Error(`${what}: got ${got}, want ${want}`);
}

async function check(url: (room: string) => string): Promise<void> {
  const room = [new Client(url('check')), new Client(url('check')), new Client(url('check'))];
  const other = new Client(url('elsewhere'));
  const all = [...room, other];
  try {
    await Promise.all(all.map((c) => c.opened()));
    for (const c of all) expectEqual('greeting', await c.next(), ESTABLISHED);
    room[0]!.ws.send('{"message":"héllo ✓","username":"bench"}');
    for (const c of room) expectEqual('broadcast', await c.next(), '{"message":"héllo ✓","username":"bench"}');
    room[1]!.ws.send('{"message":"x","username":"  "}');
    for (const c of room) expectEqual('anonymous', await c.next(), '{"message":"x","username":"Anonymous"}');
    room[2]!.ws.send('not json');
    expectEqual('invalid JSON', await room[2]!.next(), INVALID_JSON);
    room[2]!.ws.send('{"message":""}');
    expectEqual('empty message', await room[2]!.next(), INVALID);
    // Still open after the errors, and the errors went to the sender alone.
    room[2]!.ws.send('{"message":"after","username":"bench"}');
    for (const c of room) expectEqual('after errors', await c.next(), '{"message":"after","username":"bench"}');
    await new Promise((r) => setTimeout(r, 200));
    for (const c of all) if (c.frames.length > 0) throw new Error(`unexpected frame: ${c.frames[0]}`);
  } finally {
    for (const c of all) c.ws.terminate();
  }
}

const asked = process.argv.slice(2).filter((arg) => arg !== '--');
const defs = SINGLE.filter((def) => def.dialect === 'chat' && (asked.length === 0 ? def.name !== 'django' : asked.includes(def.name)));
await buildForBench();
let failed = 0;
let port = 19000 + Math.floor(Math.random() * 500) * 2;
for (const def of defs) {
  port += 2;
  try {
    const server = await launch(def, port, process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6399/0', null);
    try {
      await check((room) => `ws://127.0.0.1:${port}/ws/chat/${room}/`);
      console.log(`ok    ${def.name}`);
    } finally {
      await server.stop();
    }
  } catch (error) {
    failed++;
    console.log(`FAIL  ${def.name}: ${(error as Error).message}`);
  }
}
process.exit(failed === 0 ? 0 : 1);
