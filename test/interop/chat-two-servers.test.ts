// Two Switchyard server processes running the chat example on one Redis (core
// and pub/sub flavours): a client on each exchanges messages, in order per
// sender; and Redis stopped and restarted under them (a redis-server this test
// owns): the servers stay up, reconnect, and rooms work again.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { WebSocket } from 'ws';
import { delay } from '../helpers/time.js';
import { deleteRedisKeysAfter, guardRedisKeys } from '../helpers/redis-clean.js';
import { OwnedRedis } from '../layers/redis-server.js';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const children: ChildProcess[] = [];
after(async () => {
  const exits = children.map((child) => (child.exitCode !== null || child.signalCode !== null ? null : once(child, 'exit')));
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  // Only once the servers are gone can nothing write under the prefixes any more.
  await Promise.all(exits);
});

/** Starts `examples/chat/server.ts` on a free port with a channel layer URL; resolves once HTTP answers. */
async function startChat(layerUrl: string): Promise<{ port: number; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'examples/chat/server.ts'], {
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', CHANNEL_LAYER_URL: layerUrl, CHAT_SESSION_STORE: 'memory', LOG_LEVEL: 'silent' },
    stdio: 'ignore',
  });
  children.push(child);
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/`)).status < 500) return { port, child };
    } catch {
      await delay(50);
    }
  }
  throw new Error('chat server did not start');
}

/** A chat client: collects the JSON frames it receives. */
async function join(port: number, room: string): Promise<{ ws: WebSocket; frames: Record<string, unknown>[] }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws/chat/${room}/`);
  const frames: Record<string, unknown>[] = [];
  ws.on('message', (data) => frames.push(JSON.parse(data.toString())));
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  for (let i = 0; i < 100 && !frames.some((f) => f.type === 'connection_established'); i++) await delay(20);
  return { ws, frames };
}

const chatLines = (frames: Record<string, unknown>[], username: string) =>
  frames.filter((f) => f.username === username && typeof f.message === 'string').map((f) => f.message);

async function waitFor(check: () => boolean, ms = 5000): Promise<void> {
  for (const end = Date.now() + ms; !check(); ) {
    if (Date.now() > end) throw new Error('timed out');
    await delay(20);
  }
}

/** Both clients send 20 lines; each client sees all 40, in order per sender. */
async function exchange(a: Awaited<ReturnType<typeof join>>, b: Awaited<ReturnType<typeof join>>, tag: string): Promise<void> {
  const expected = (who: string) => Array.from({ length: 20 }, (_, i) => `${tag}-${who}-${i}`);
  for (let i = 0; i < 20; i++) {
    a.ws.send(JSON.stringify({ message: `${tag}-alice-${i}`, username: `alice${tag}` }));
    b.ws.send(JSON.stringify({ message: `${tag}-bob-${i}`, username: `bob${tag}` }));
  }
  for (const client of [a, b]) {
    await waitFor(() => chatLines(client.frames, `alice${tag}`).length >= 20 && chatLines(client.frames, `bob${tag}`).length >= 20);
    assert.deepEqual(chatLines(client.frames, `alice${tag}`), expected('alice'));
    assert.deepEqual(chatLines(client.frames, `bob${tag}`), expected('bob'));
  }
}

for (const scheme of ['redis', 'redis+pubsub']) {
  describe(`chat example on two server processes sharing ${scheme}://`, () => {
    test('a client on each server exchanges messages, in order per sender', async () => {
      const url = `${scheme}://127.0.0.1:6379/0?prefix=sy-chat2-${process.pid}-${scheme.length}-`;
      const [one, two] = await Promise.all([startChat(url), startChat(url)]);
      const a = await join(one.port, 'lobby');
      const b = await join(two.port, 'lobby');
      await delay(100);
      await exchange(a, b, 'x');
      a.ws.close();
      b.ws.close();
      one.child.kill('SIGTERM');
      two.child.kill('SIGTERM');
    });
  });
}

describe('chat example: Redis stopped and restarted under two servers', () => {
  test('the servers stay up, reconnect, and rooms work again', async () => {
    const redis = await OwnedRedis.start();
    try {
      const url = `redis://127.0.0.1:${redis.port}/0?prefix=sy-chat-fault-`;
      const [one, two] = await Promise.all([startChat(url), startChat(url)]);
      const a = await join(one.port, 'lobby');
      const b = await join(two.port, 'lobby');
      await exchange(a, b, 'before');
      await redis.stop();
      a.ws.send(JSON.stringify({ message: 'during the outage', username: 'alicebefore' }));
      await delay(500);
      assert.equal(one.child.exitCode, null, 'server one is still running');
      assert.equal(two.child.exitCode, null, 'server two is still running');
      assert.ok((await fetch(`http://127.0.0.1:${one.port}/`)).status < 500, 'HTTP still served during the outage');
      await redis.startAgain();
      // The restarted Redis is empty (no persistence): clients that join now find working rooms.
      // Until a server's connection is back its handshakes are refused (403): retry.
      let c: Awaited<ReturnType<typeof join>> | null = null;
      let d: Awaited<ReturnType<typeof join>> | null = null;
      for (let i = 0; i < 100 && (c === null || d === null); i++) {
        try {
          c ??= await join(one.port, 'lobby');
          d ??= await join(two.port, 'lobby');
        } catch {
          await delay(100);
        }
      }
      await delay(100);
      await exchange(c!, d!, 'after');
      for (const client of [a, b, c!, d!]) client.ws.close();
      one.child.kill('SIGTERM');
      two.child.kill('SIGTERM');
    } finally {
      await redis.stop();
    }
  });
});

// The chat's presence group (<prefix>:group:presence.chat) outlives the servers (a day's group expiry).
deleteRedisKeysAfter(`sy-chat2-${process.pid}-`);
guardRedisKeys(`sy-chat2-${process.pid}-`);
