// The fault table (issue 13): the chat demo as real processes, on the in-memory layer, the
// Redis core layer and the Redis pub/sub layer (a redis-server the test owns), with a
// sender at a fixed rate and recovering receivers, under injected faults: the network of
// half the receivers cut for 2 s, Redis killed with -9 and started empty, CLIENT KILL of
// every Redis connection, one of two server processes killed with SIGKILL. With recovery,
// every line the room accepted reaches every receiver once, in order, unless the history
// itself was lost (Redis restarted empty), which the receivers are told (recovered:false).
// The table is written to test-artifacts/fault-table.md.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { OwnedRedis } from '../helpers/redis-server.js';
import { delay } from '../helpers/time.js';
import { ChatProcess, type FaultRow, Member, allReached, faultTable, startSending, tally } from './harness.js';

const ROOM = 'faults';
const EVERY_MS = 20; // 50 lines a second
/** Rooms keep 1,000 lines: more than a 2 s outage at this rate (a smaller window would say recovered:false, rightly). */
const HISTORY = encodeURIComponent(JSON.stringify({ 'chat_*': { size: 1000, ttl: 300 } }));
const RECEIVERS = 8;
const rows: FaultRow[] = [];

after(() => {
  const artifacts = new URL('../../test-artifacts/', import.meta.url);
  mkdirSync(artifacts, { recursive: true });
  writeFileSync(new URL('fault-table.md', artifacts), faultTable(rows));
  console.log(`\n${faultTable(rows)}`);
});

/** Members on the given servers, half through each server's proxy (so a cut reaches them) and half direct. */
function members(servers: ChatProcess[], count: number): Member[] {
  return Array.from({ length: count }, (_, i) => {
    let attempt = i;
    const viaProxy = i % 2 === 0;
    // Each attempt goes to the next server: a member of a killed server moves to a live one.
    const url = () => {
      const server = servers[attempt++ % servers.length]!;
      return `ws://127.0.0.1:${viaProxy ? server.proxy.port : server.port}/ws/chat/${ROOM}/`;
    };
    return new Member(url, `m${i}${viaProxy ? 'p' : ''}`);
  });
}

/** Runs one scenario: members join, the sender runs, `fault()` strikes mid-stream, then the tally. */
async function scenario(layer: string, name: string, servers: ChatProcess[], fault: () => Promise<void>, exact: boolean): Promise<FaultRow> {
  const receivers = members(servers, RECEIVERS);
  const sender = new Member(() => `ws://127.0.0.1:${servers.at(-1)!.port}/ws/chat/${ROOM}/`, 'sender');
  // Two receivers without recovery, through the first server's proxy: what they miss must be reported.
  const plain = [0, 1].map((i) => new Member(() => `ws://127.0.0.1:${servers[0]!.proxy.port}/ws/chat/${ROOM}/`, `plain${i}`, false));
  const everyone = [...receivers, sender];
  try {
    await waitJoined(everyone);
    await waitOpen(plain);
    const sending = startSending(sender, EVERY_MS);
    await delay(600);
    await fault();
    const firstAfter = sending.next();
    const recoverMs = await allReached(everyone, firstAfter, 15_000);
    await delay(600);
    const sent = await sending.stop();
    await allReached([sender], sent, 10_000);
    await delay(500);
    const warned = servers.some((server) => server.warnedOfLoss());
    const row = tally(layer, name, sender, receivers, sent, recoverMs, plain, warned);
    rows.push(row);
    assert.equal(row.duplicates, 0, `no duplicates: ${JSON.stringify(row)}`);
    assert.equal(row.outOfOrder, 0, `in order: ${JSON.stringify(row)}`);
    // The last line may be in flight. When the server process dies with its history (exact false), the
    // lines it had taken but not yet broadcast die with it: the sender is told (recovered: false), and
    // there can be only as many as the client wrote before it saw the socket close (bounded: 0.5 s of lines).
    const unaccounted = sent - row.accepted - row.refused;
    const toldSender = sender.lost > 0;
    assert.ok(unaccounted <= 1 || (!exact && toldSender && unaccounted <= 500 / EVERY_MS),
      `every line accepted or refused out loud, or its loss told: ${JSON.stringify({ ...row, unaccounted, toldSender })}`);
    if (exact) assert.equal(row.delivered, row.expected, `every accepted line at every receiver: ${JSON.stringify(row)}`);
    else assert.ok(row.delivered === row.expected || row.recoveredFalse > 0, `a loss is reported: ${JSON.stringify(row)}`);
    assert.ok(row.plainReported, `without recovery, a loss is never silent: ${JSON.stringify(row)}`);
    return row;
  } finally {
    for (const member of [...everyone, ...plain]) member.socket.close();
  }
}

async function waitOpen(members: Member[]): Promise<void> {
  const started = Date.now();
  while (!members.every((m) => m.socket.state === 'open')) {
    if (Date.now() - started > 15_000) throw new Error('plain members did not connect');
    await delay(20);
  }
}

async function waitJoined(members: Member[]): Promise<void> {
  const started = Date.now();
  while (!members.every((m) => m.outcomes.length > 0)) {
    if (Date.now() - started > 15_000) throw new Error(`members did not join: ${members.map((m) => `${m.name}:${m.socket.state}`).join(' ')}`);
    await delay(20);
  }
}

const cut = (servers: ChatProcess[]) => async () => {
  await Promise.all(servers.map((s) => s.proxy.cut({ forMs: 2000 })));
};

describe('in-memory layer', () => {
  const url = `memory://?groupHistory=${HISTORY}`;

  test('network cut for 2 s: every line once, in order', async () => {
    const server = await ChatProcess.start(url);
    try {
      await scenario('memory', 'network cut 2 s', [server], cut([server]), true);
    } finally {
      await server.close();
    }
  });

  test('server killed and restarted: the history is lost with the process, and the receivers are told', async () => {
    const server = await ChatProcess.start(url);
    try {
      const row = await scenario('memory', 'server SIGKILL + restart', [server], async () => {
        await server.kill();
        await server.startAgain();
      }, false);
      assert.ok(row.recoveredFalse >= RECEIVERS, 'every receiver is told');
    } finally {
      await server.close();
    }
  });
});

for (const flavour of ['redis', 'redis+pubsub'] as const) {
  describe(`${flavour} layer`, () => {
    let redis: OwnedRedis;
    let servers: ChatProcess[] = [];
    const layerUrl = () => `${flavour}://127.0.0.1:${redis.port}/0?groupHistory=${HISTORY}`;

    async function twoServers(): Promise<ChatProcess[]> {
      redis = await OwnedRedis.start();
      servers = [await ChatProcess.start(layerUrl()), await ChatProcess.start(layerUrl())];
      return servers;
    }
    after(async () => {
      for (const server of servers) await server.close();
      await redis?.stop();
    });
    async function cleanUp(): Promise<void> {
      for (const server of servers) await server.close();
      servers = [];
      await redis.stop();
    }

    test('network cut for 2 s: every line once, in order', async () => {
      const [a, b] = await twoServers();
      try {
        await scenario(flavour, 'network cut 2 s', [a!, b!], cut([a!, b!]), true);
      } finally {
        await cleanUp();
      }
    });

    test('CLIENT KILL of every Redis connection: every line once, in order', async () => {
      const [a, b] = await twoServers();
      try {
        await scenario(flavour, 'CLIENT KILL', [a!, b!], async () => {
          const admin = new Redis({ port: redis.port });
          await admin.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
          await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
          admin.disconnect();
        }, true);
      } finally {
        await cleanUp();
      }
    });

    test('one of two servers killed (SIGKILL): its members move to the other, every line once, in order', async () => {
      const [a, b] = await twoServers();
      try {
        // The sender is on the last server (b): a dies.
        await scenario(flavour, 'server SIGKILL', [a!, b!], () => a!.kill(), true);
      } finally {
        await cleanUp();
      }
    });

    test('Redis killed (-9) and started empty: old connections receive again, a loss is told', async () => {
      const [a, b] = await twoServers();
      try {
        const row = await scenario(flavour, 'Redis kill -9, restart empty', [a!, b!], async () => {
          await redis.stop();
          await delay(1000);
          await redis.startAgain();
        }, false);
        assert.ok(row.recoverMs <= 3000 + 1000, `receiving again within the bound: ${row.recoverMs} ms`);
      } finally {
        await cleanUp();
      }
    });
  });
}
