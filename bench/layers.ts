/**
 * Channel layer benchmark: Switchyard's RedisChannelLayer against Django's
 * channels_redis (Debian's 4.0.0 under /usr/bin/python3) on the same Redis, in
 * the same run. Not part of `npm test`.
 *
 *   npx tsx bench/layers.ts [roundTrips=2000] [groupSends=100] [runs=3]
 *
 * Both languages run the same two scenarios over two OS processes (a parent
 * and a child it spawns, each with its own layer):
 * - round trips: the parent sends to the child's channel, the child echoes to
 *   the parent's; sequential; round trips per second.
 * - groupSend: a 1,000-member group, 500 channels in each process; the parent
 *   sends `groupSends` group messages back to back while every member of both
 *   processes receives them all; group sends per second from the first send to
 *   the last delivery in either process (deliveries/s = that × 1,000).
 * The two sides run alternately `runs` times (so they see the same machine
 * load); medians are printed, with the ratio Switchyard / channels_redis
 * (higher is better for Switchyard).
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { RedisChannelLayer } from 'switchyard/redis';

const REDIS = 'redis://127.0.0.1:6379/0';
const MEMBERS = 500;

interface Result {
  roundTripsPerSecond: number;
  groupSendsPerSecond: number;
}

/** A child process speaking lines: the parent waits for lines starting with a word. */
function child(command: string, args: string[]) {
  const proc = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines: string[] = [];
  const waiters: (() => void)[] = [];
  createInterface({ input: proc.stdout }).on('line', (line) => {
    lines.push(line);
    for (const wake of waiters.splice(0)) wake();
  });
  return {
    async expect(word: string): Promise<string> {
      for (;;) {
        const index = lines.findIndex((line) => line.startsWith(word));
        if (index !== -1) return lines.splice(index, 1)[0]!;
        if (proc.exitCode !== null) throw new Error(`${command} exited before "${word}"`);
        await new Promise<void>((resolve) => waiters.push(resolve));
      }
    },
    exited: new Promise((resolve) => proc.once('exit', resolve)),
  };
}

// ---- Switchyard --------------------------------------------------------------

async function nodeChild(prefix: string, roundTrips: number, groupSends: number): Promise<void> {
  const layer = new RedisChannelLayer({ hosts: [REDIS], prefix, capacity: 2000 });
  const mine = await layer.newChannel();
  const members: string[] = [];
  for (let i = 0; i < MEMBERS; i++) {
    members.push(await layer.newChannel());
    await layer.groupAdd('bench', members[i]!);
  }
  console.log(`ready ${mine}`);
  const parent = (await layer.receive(mine)).reply as string;
  for (let i = 0; i < roundTrips; i++) await layer.send(parent, await layer.receive(mine));
  await Promise.all(members.map(async (channel) => {
    for (let k = 0; k < groupSends; k++) await layer.receive(channel);
  }));
  console.log(`done ${Date.now()}`);
  await layer.close();
}

async function switchyard(roundTrips: number, groupSends: number): Promise<Result> {
  const prefix = `sy-bench-${process.pid}-node-`;
  const peer = child(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', prefix, String(roundTrips), String(groupSends)]);
  const layer = new RedisChannelLayer({ hosts: [REDIS], prefix, capacity: 2000 });
  try {
    const mine = await layer.newChannel();
    const members: string[] = [];
    for (let i = 0; i < MEMBERS; i++) {
      members.push(await layer.newChannel());
      await layer.groupAdd('bench', members[i]!);
    }
    const theirs = (await peer.expect('ready')).split(' ')[1]!;
    await layer.send(theirs, { type: 'hello', reply: mine });
    let started = performance.now();
    for (let i = 0; i < roundTrips; i++) {
      await layer.send(theirs, { type: 'ping', i });
      await layer.receive(mine);
    }
    const roundTripsPerSecond = roundTrips / ((performance.now() - started) / 1000);
    const start = Date.now();
    const receiving = Promise.all(members.map(async (channel) => {
      for (let k = 0; k < groupSends; k++) await layer.receive(channel);
    }));
    for (let k = 0; k < groupSends; k++) await layer.groupSend('bench', { type: 'broadcast', k, text: 'x'.repeat(100) });
    await receiving;
    const mineDone = Date.now();
    const theirsDone = Number((await peer.expect('done')).split(' ')[1]);
    return { roundTripsPerSecond, groupSendsPerSecond: groupSends / ((Math.max(mineDone, theirsDone) - start) / 1000) };
  } finally {
    await layer.flush();
    await layer.close();
    await peer.exited;
  }
}

// ---- channels_redis ------------------------------------------------------------

const PYTHON = `
import asyncio, json, subprocess, sys, time
from channels_redis.core import RedisChannelLayer
role, prefix, n_rt, n_gs, per = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])

async def members_of(layer):
    members = []
    for i in range(per):
        c = await layer.new_channel(); await layer.group_add("bench", c); members.append(c)
    return members

async def drain(layer, members):
    async def one(c):
        for k in range(n_gs):
            await layer.receive(c)
    await asyncio.gather(*[one(c) for c in members])

async def child():
    layer = RedisChannelLayer(hosts=["${REDIS}"], prefix=prefix, capacity=2000)
    mine = await layer.new_channel()
    members = await members_of(layer)
    print("ready", mine, flush=True)
    parent = (await layer.receive(mine))["reply"]
    for i in range(n_rt):
        await layer.send(parent, await layer.receive(mine))
    await drain(layer, members)
    print("done", int(time.time() * 1000), flush=True)

async def parent():
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", sys.argv[6], "child", prefix, str(n_rt), str(n_gs), str(per), sys.argv[6], stdout=subprocess.PIPE)
    layer = RedisChannelLayer(hosts=["${REDIS}"], prefix=prefix, capacity=2000)
    mine = await layer.new_channel()
    members = await members_of(layer)
    theirs = (await proc.stdout.readline()).decode().split()[1]
    await layer.send(theirs, {"type": "hello", "reply": mine})
    start = time.perf_counter()
    for i in range(n_rt):
        await layer.send(theirs, {"type": "ping", "i": i}); await layer.receive(mine)
    rt = n_rt / (time.perf_counter() - start)
    start_ms = time.time() * 1000
    receiving = asyncio.ensure_future(drain(layer, members))
    for k in range(n_gs):
        await layer.group_send("bench", {"type": "broadcast", "k": k, "text": "x" * 100})
    await receiving
    mine_done = time.time() * 1000
    theirs_done = int((await proc.stdout.readline()).decode().split()[1])
    await proc.wait()
    await layer.flush()
    print(json.dumps({"roundTripsPerSecond": rt, "groupSendsPerSecond": n_gs / ((max(mine_done, theirs_done) - start_ms) / 1000)}))

asyncio.run(parent() if role == "parent" else child())
`;

async function channelsRedis(roundTrips: number, groupSends: number): Promise<Result> {
  const prefix = `sy-bench-${process.pid}-py-`;
  const run = child('/usr/bin/python3', ['-c', PYTHON, 'parent', prefix, String(roundTrips), String(groupSends), String(MEMBERS), PYTHON]);
  const line = await run.expect('{');
  await run.exited;
  return JSON.parse(line) as Result;
}

// ---- main -------------------------------------------------------------------------

if (process.argv[2] === '--child') {
  await nodeChild(process.argv[3]!, Number(process.argv[4]), Number(process.argv[5]));
} else {
  const roundTrips = Number(process.argv[2] ?? 2000);
  const groupSends = Number(process.argv[3] ?? 100);
  const runs = Number(process.argv[4] ?? 3);
  const nodeRuns: Result[] = [];
  const pythonRuns: Result[] = [];
  for (let i = 0; i < runs; i++) {
    nodeRuns.push(await switchyard(roundTrips, groupSends));
    pythonRuns.push(await channelsRedis(roundTrips, groupSends));
  }
  const median = (results: Result[], key: keyof Result) => {
    const values = results.map((r) => r[key]).sort((a, b) => a - b);
    return values[Math.floor(values.length / 2)]!;
  };
  const fmt = (n: number, width = 12) => n.toFixed(1).padStart(width);
  const row = (label: string, key: keyof Result, scale = 1) => {
    const [n, p] = [median(nodeRuns, key) * scale, median(pythonRuns, key) * scale];
    console.log(`${label.padEnd(36)}${fmt(n)}${fmt(p, 16)}   ${(n / p).toFixed(2)}x`);
  };
  console.log(`Redis channel layers on ${REDIS}, 2 processes per side, median of ${runs} alternating runs:`);
  console.log(`${roundTrips} round trips; ${groupSends} groupSends to ${2 * MEMBERS} members (${MEMBERS} per process)`);
  console.log(`${''.padEnd(36)}${'Switchyard'.padStart(12)}${'channels_redis'.padStart(16)}   ratio`);
  row('send/receive round trips per s', 'roundTripsPerSecond');
  row('groupSends to 1,000 members per s', 'groupSendsPerSecond');
  row('  deliveries per s', 'groupSendsPerSecond', 2 * MEMBERS);
  for (const [name, results] of [['Switchyard', nodeRuns], ['channels_redis', pythonRuns]] as const) {
    console.log(`  ${name} runs: ${results.map((r) => `${r.roundTripsPerSecond.toFixed(0)} rt/s, ${r.groupSendsPerSecond.toFixed(1)} gs/s`).join(' | ')}`);
  }
}
