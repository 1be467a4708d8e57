// Presence across two real server processes sharing a real Redis (core layer and session
// store): an observer on a process where nobody signed in, two tabs of one user on two
// processes, a login on one process seen by the other, and a process killed with SIGKILL
// whose users leave the online list within a bounded time.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { Redis } from 'ioredis';
import { UserStore } from '../../examples/chat/users.js';
import { runCommand } from '../helpers/processes.js';
import { delay } from '../helpers/time.js';
import { frameClient, type FrameClient } from '../helpers/ws-client.js';

const PREFIX = `test-presence-${process.pid}`;
const LAYER_URL = `redis://127.0.0.1:6379/0?prefix=${PREFIX}`;
const dir = mkdtempSync(joinPath(tmpdir(), 'presence-'));
const usersFile = joinPath(dir, 'users.json');
const children: ChildProcess[] = [];

interface Node { child: ChildProcess; port: number }

async function startNode(): Promise<Node> {
  const node = runCommand(process.execPath, ['--import', 'tsx', 'test/presence/fixtures/chat-node.ts'], {
    env: { ...process.env, NODE_ENV: 'test', CHANNEL_LAYER_URL: LAYER_URL, CHAT_USERS_FILE: usersFile, CHAT_SESSION_STORE: '' },
  });
  children.push(node.child);
  const ready = await node.waitFor((line) => typeof line.port === 'number', 20_000, 'the node to print its port');
  return { child: node.child, port: ready.port as number };
}

async function signIn(node: Node, username: string, password: string): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${node.port}/login/`, {
    method: 'POST',
    body: new URLSearchParams({ username, password }),
    redirect: 'manual',
  });
  assert.equal(response.status, 302);
  return /sessionid=([^;]+)/.exec(response.headers.get('set-cookie')!)![1]!;
}

/** A chat client of `room` on `node`, once the chat has welcomed it. */
async function join(node: Node, room: string, cookie?: string): Promise<FrameClient> {
  const headers: Record<string, string> = { origin: `http://127.0.0.1:${node.port}` };
  if (cookie) headers.cookie = `sessionid=${cookie}`;
  const client = await frameClient(`ws://127.0.0.1:${node.port}/ws/chat/${room}/`, { headers });
  await client.next((f) => f.type === 'connection_established');
  return client;
}

const presenceEvents = (c: FrameClient) => c.frames.filter((f) => f.type === 'user_join' || f.type === 'user_leave');

/** Asks for the online list, as the room page does on each connection. */
async function online(c: FrameClient): Promise<unknown> {
  c.ws.send(JSON.stringify({ type: 'presence' }));
  return (await c.next((f) => f.type === 'presence')).users;
}

let a: Node;
let b: Node;

before(async () => {
  const users = new UserStore(usersFile);
  await users.add('alice', 'alice-password');
  await users.add('bob', 'bob-password');
  [a, b] = await Promise.all([startNode(), startNode()]);
});

after(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
  const redis = new Redis('redis://127.0.0.1:6379/0');
  const keys = await redis.keys(`${PREFIX}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
});

test('an observer on a process where nobody signed in sees users of the other process come and go', async () => {
  // Before: A's presence replica only started when a signed-in user was tracked on A.
  const bobCookie = await signIn(b, 'bob', 'bob-password');
  const observer = await join(a, 'observed');
  await delay(300); // A's replica has started and asked for the state
  const bob = await join(b, 'observed', bobCookie);
  await observer.next((f) => f.type === 'user_join' && f.username === 'bob');
  assert.deepEqual(await online(observer), ['bob']);
  bob.ws.close();
  await observer.next((f) => f.type === 'user_leave' && f.username === 'bob');
  assert.deepEqual(await online(observer), []);
  // Nothing but the seeds' frames unless asked.
  assert.deepEqual(observer.frames, []);
  observer.ws.close();
});

test('two processes on Redis: shared login, one user in two tabs on two processes, SIGKILL drops its users', async () => {
  // Logged in on A, used on B (and the other way round): one session store in Redis.
  const aliceCookie = await signIn(a, 'alice', 'alice-password');
  const bobCookie = await signIn(b, 'bob', 'bob-password');

  const watcher = await join(a, 'multi');
  const aliceTab1 = await join(a, 'multi', aliceCookie);
  await watcher.next((f) => f.type === 'user_join' && f.username === 'alice');
  const aliceTab2 = await join(b, 'multi', aliceCookie); // same user, other process
  const bobOnB = await join(b, 'multi', bobCookie);
  await watcher.next((f) => f.type === 'user_join' && f.username === 'bob');
  assert.deepEqual(await online(bobOnB), ['alice', 'bob']);
  await delay(400);
  assert.deepEqual(presenceEvents(watcher), [], 'alice joined once, although she has two tabs on two processes');

  // Names come from the session on either process.
  aliceTab2.ws.send(JSON.stringify({ message: 'from B', username: 'mallory' }));
  assert.equal((await watcher.next((f) => f.message === 'from B')).username, 'alice');

  // Closing alice's tab on A: she is still online through B.
  aliceTab1.ws.close();
  await delay(600);
  assert.deepEqual(presenceEvents(watcher), [], 'no user_leave while another tab is open');
  const late = await join(a, 'multi');
  assert.deepEqual(await online(late), ['alice', 'bob']);

  // B is killed: its users (alice's last tab, bob) leave A's list within the replica timeout.
  const killedAt = performance.now();
  b.child.kill('SIGKILL');
  await watcher.next((f) => f.type === 'user_leave' && f.username === 'alice', 5000);
  await watcher.next((f) => f.type === 'user_leave' && f.username === 'bob', 5000);
  const took = performance.now() - killedAt;
  console.log(`presence: users of the SIGKILLed process left after ${took.toFixed(0)} ms (heartbeat 200 ms, timeout 1000 ms)`);
  assert.ok(took < 2500, `left after ${took} ms`);

  // Whoever arrives now sees nobody signed in.
  const latecomer = await join(a, 'multi');
  await delay(300);
  assert.equal(latecomer.frames.some((f) => f.type === 'presence'), false, 'no list unless asked');
  assert.deepEqual(await online(latecomer), []);
  for (const c of [watcher, late, latecomer]) c.ws.close();
});
