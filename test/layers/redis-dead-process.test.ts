// A Switchyard process killed with SIGKILL: its group memberships leave the group and its
// process key is deleted once its liveness lease (processTtl) has lapsed, at the next
// groupSend of a live process; a Django process's members (which renew no lease) are never
// touched, and Django's group_send still reaches Django and Switchyard members. A process
// stopped past its lease (SIGSTOP) is judged dead too, and re-asserts its memberships when
// it wakes. Real child processes (fixtures/group-member.ts) on an OwnedRedis.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { RedisChannelLayer, groupKey, processLivenessKey } from 'switchyard/redis';
import { recordingLogger } from '../helpers/logs.js';
import { OwnedRedis } from '../helpers/redis-server.js';
import { type Running, runCommand } from '../helpers/processes.js';
import { delay, eventually, until } from '../helpers/time.js';
import { DjangoPeer } from '../interop/peer.js';

const PREFIX = 'sy-dead-';
/** The lease of the children (seconds): short, so the test is quick. */
const TTL_S = 1;

interface Member { running: Running; clientPrefix: string; channels: string[] }

async function startMember(server: OwnedRedis, role: 'member' | 'sender', count: number): Promise<Member> {
  const running = runCommand(process.execPath, ['--import', 'tsx', 'test/layers/fixtures/group-member.ts', server.url, PREFIX, String(TTL_S), 'room', String(count), role], { env: process.env });
  const ready = await running.waitFor((line) => line.ready !== undefined, 20_000, `the ${role} to be ready`);
  return { running, clientPrefix: ready.clientPrefix as string, channels: ready.channels as string[] };
}

const processKey = (member: Member) => `${PREFIX}specific.${member.clientPrefix}!`;
const received = (member: Member, match: (message: Record<string, unknown>) => boolean) =>
  member.running.lines.filter((line) => line.got !== undefined && match(line.message as Record<string, unknown>));

test('SIGKILL: the dead process\'s members leave the group and its process key is deleted within the lease TTL', async (t) => {
  const server = await OwnedRedis.start();
  const admin = new Redis(server.url);
  const started: Member[] = [];
  try {
    const victim = await startMember(server, 'member', 3);
    started.push(victim);
    const survivor = await startMember(server, 'sender', 1);
    started.push(survivor);
    const room = groupKey(PREFIX, 'room');
    assert.equal(await admin.zcard(room), 4);
    await until(() => received(victim, () => true).length >= 3, 5000, 'the victim receiving the survivor\'s sends');

    // Kill the victim while its key fills up with sends it will never read.
    victim.running.child.kill('SIGKILL');
    const killedAt = Date.now();
    await victim.running.exited;
    await until(async () => (await admin.zcard(processKey(victim))) > 0, 2000, 'a message waiting in the dead process\'s key');
    await until(async () => {
      const members = await admin.zrange(room, '0', '-1');
      return members.length === 1 && (await admin.exists(processKey(victim))) === 0;
    }, TTL_S * 1000 + 5000, async () => `the victim's members to leave (members: ${JSON.stringify(await admin.zrange(room, '0', '-1'))})`);
    const gone = Date.now() - killedAt;
    t.diagnostic(`dead process's members gone and its key deleted ${gone} ms after the SIGKILL (lease ${TTL_S * 1000} ms)`);
    assert.ok(gone <= TTL_S * 1000 + 1000, `gone after ${gone} ms: bound lease ${TTL_S * 1000} ms + 1 s`);
    assert.deepEqual(await admin.zrange(room, '0', '-1'), survivor.channels);
    assert.equal(await admin.exists(`${PREFIX}switchyard:process:${victim.clientPrefix}`), 0);
    assert.equal(await admin.exists(`${PREFIX}switchyard:process:${survivor.clientPrefix}`), 1, 'the survivor\'s lease is alive');
    // No further writes to the dead key, and the survivor keeps receiving.
    const seen = received(survivor, () => true).length;
    await delay(500);
    assert.equal(await admin.exists(processKey(victim)), 0);
    assert.ok(received(survivor, () => true).length > seen);
  } finally {
    for (const member of started) member.running.stop();
    admin.disconnect();
    await server.stop();
  }
});

test('interop: Django members are never judged; Django\'s group_send reaches a Django and a Switchyard member after the cleanup', async () => {
  const server = await OwnedRedis.start();
  const admin = new Redis(server.url);
  const started: Member[] = [];
  const peer = await DjangoPeer.start({ backend: 'core', hosts: [server.url], prefix: PREFIX });
  try {
    const theirs = await peer.call<string>('consumer', { group: 'room' });
    const victim = await startMember(server, 'member', 2);
    started.push(victim);
    const survivor = await startMember(server, 'sender', 1);
    started.push(survivor);
    const room = groupKey(PREFIX, 'room');
    await peer.waitForEvent((event) => event.channel === theirs && event.message?.seq !== undefined, 5000);
    victim.running.child.kill('SIGKILL');
    await victim.running.exited;
    await until(async () => (await admin.zcard(room)) === 2, TTL_S * 1000 + 5000, async () => `the victim's members to leave (members: ${JSON.stringify(await admin.zrange(room, '0', '-1'))})`);
    assert.deepEqual((await admin.zrange(room, '0', '-1')).sort(), [theirs, ...survivor.channels].sort(), 'the Django member stays');
    await delay(TTL_S * 1000);
    assert.equal(await admin.zcard(room), 2, 'still there after more sends past the lease');

    await peer.call('group_send', { group: 'room', message: { type: 'chat.message', text: 'from django' } });
    await peer.waitForEvent((event) => event.channel === theirs && event.message?.text === 'from django', 5000);
    await eventually(() => received(survivor, (message) => message.text === 'from django')[0], 5000, 'the Switchyard member receiving Django\'s group_send');
  } finally {
    for (const member of started) member.running.stop();
    await peer.stop();
    admin.disconnect();
    await server.stop();
  }
});

test('SIGSTOP past the lease: judged dead, then it re-asserts its memberships when it wakes and receives again', async (t) => {
  const server = await OwnedRedis.start();
  const admin = new Redis(server.url);
  const started: Member[] = [];
  try {
    const sleeper = await startMember(server, 'member', 2);
    started.push(sleeper);
    const survivor = await startMember(server, 'sender', 1);
    started.push(survivor);
    const room = groupKey(PREFIX, 'room');
    sleeper.running.child.kill('SIGSTOP');
    await until(async () => (await admin.zcard(room)) === 1, TTL_S * 1000 + 5000, 'the stopped process judged dead');
    sleeper.running.child.kill('SIGCONT');
    const wokeAt = Date.now();
    await until(async () => (await admin.zcard(room)) === 3, 5000, 'the woken process\'s memberships back');
    const before = received(sleeper, () => true).length;
    await until(() => received(sleeper, () => true).length > before + 2, 5000, 'the woken process receiving again');
    t.diagnostic(`memberships back ${Date.now() - wokeAt} ms after SIGCONT`);
  } finally {
    for (const member of started) {
      member.running.child.kill('SIGCONT');
      member.running.stop();
    }
    admin.disconnect();
    await server.stop();
  }
});

/** Two group names whose keys live on different shards of a two-host layer. */
function groupsOnBothShards(layer: RedisChannelLayer): [string, string] {
  const names = Array.from({ length: 50 }, (_, i) => `room${i}`);
  return [names.find((name) => layer.shardFor(name) === 0)!, names.find((name) => layer.shardFor(name) === 1)!];
}

test('two shards, in process: a closed layer\'s leftover members leave groups on both shards, its key goes on its home shard; foreign members stay', async () => {
  const server = await OwnedRedis.start();
  const hosts = [`redis://127.0.0.1:${server.port}/0`, `redis://127.0.0.1:${server.port}/1`];
  const dbs = [new Redis(hosts[0]!), new Redis(hosts[1]!)];
  const victim = new RedisChannelLayer({ hosts, prefix: PREFIX, logger: recordingLogger() });
  const survivor = new RedisChannelLayer({ hosts, prefix: PREFIX, logger: recordingLogger() });
  try {
    const groups = groupsOnBothShards(victim);
    const foreign = 'specific.0123456789abcdef0123456789abcdef!django'; // a process that registered nothing
    const mine = await survivor.newChannel();
    for (const group of groups) {
      for (let i = 0; i < 2; i++) await victim.groupAdd(group, await victim.newChannel());
      await survivor.groupAdd(group, mine);
      await survivor.groupAdd(group, foreign);
      await survivor.groupSend(group, { type: 'before' });
    }
    const home = victim.shardFor(`specific.${victim.clientPrefix}!`);
    const victimKey = `${PREFIX}specific.${victim.clientPrefix}!`;
    assert.equal(await dbs[home]!.zcard(victimKey), 2, 'both group sends wait in the victim\'s key');
    assert.equal(await dbs[home]!.exists(processLivenessKey(PREFIX, victim.clientPrefix)), 1);
    await victim.close(); // never read: its memberships are left behind, and its lease deleted
    assert.equal(await dbs[home]!.exists(processLivenessKey(PREFIX, victim.clientPrefix)), 0);
    // First the group on the other shard: its script cannot reach the key, the layer deletes it on its home shard.
    const ordered = [groups[1 - home]!, groups[home]!];
    await survivor.groupSend(ordered[0]!, { type: 'after' });
    await until(async () => (await dbs[home]!.exists(victimKey)) === 0, 2000, 'the dead process key deleted on its home shard');
    await survivor.groupSend(ordered[1]!, { type: 'after' });
    for (const group of groups) {
      const db = dbs[survivor.shardFor(group)]!;
      assert.deepEqual((await db.zrange(groupKey(PREFIX, group), '0', '-1')).sort(), [foreign, mine].sort(), `members of ${group}`);
    }
    assert.deepEqual([(await survivor.receive(mine)).type, (await survivor.receive(mine)).type, (await survivor.receive(mine)).type, (await survivor.receive(mine)).type], ['before', 'before', 'after', 'after']);
  } finally {
    await survivor.flush();
    await survivor.close();
    for (const db of dbs) db.disconnect();
    await server.stop();
  }
});

test('processTtl: null holds no lease (no Switchyard keys); a bad processTtl is refused', async () => {
  const server = await OwnedRedis.start();
  const admin = new Redis(server.url);
  const layer = new RedisChannelLayer({ hosts: [server.url], prefix: PREFIX, processTtl: null, logger: recordingLogger() });
  try {
    await layer.groupAdd('room', await layer.newChannel());
    assert.deepEqual(await admin.keys('*'), [groupKey(PREFIX, 'room')]);
    for (const bad of [0, -1, Number.NaN, '30']) {
      assert.throws(() => new RedisChannelLayer({ processTtl: bad as never }), { name: 'TypeError', message: /'processTtl' must be a positive number of seconds or null/ });
    }
  } finally {
    await layer.close();
    admin.disconnect();
    await server.stop();
  }
});
