// Two Switchyard server processes running the chat example on one Redis (core
// and pub/sub flavours): a client on each exchanges messages, in order per
// sender; and Redis stopped and restarted under them (a redis-server this test
// owns): the servers stay up, reconnect, and rooms work again.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from '../helpers/ports.js';
import { runCommand, type Running } from '../helpers/processes.js';
import { delay, until } from '../helpers/time.js';
import { frameClient, type FrameClient, type Frame } from '../helpers/ws-client.js';
import { deleteRedisKeysAfter, guardRedisKeys } from '../helpers/redis-clean.js';
import { OwnedRedis } from '../helpers/redis-server.js';

const servers: Running[] = [];
after(async () => {
  for (const server of servers) server.stop();
  // Only once the servers are gone can nothing write under the prefixes any more.
  await Promise.all(servers.map((server) => server.exited));
});

/** Starts `examples/chat/server.ts` on a free port with a channel layer URL; resolves once HTTP answers. */
async function startChat(layerUrl: string): Promise<{ port: number; child: Running['child'] }> {
  const port = await freePort();
  const server = runCommand(process.execPath, ['--import', 'tsx', 'examples/chat/server.ts'], {
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', CHANNEL_LAYER_URL: layerUrl, CHAT_SESSION_STORE: 'memory', LOG_LEVEL: 'silent' },
  });
  servers.push(server);
  const answers = async (): Promise<boolean> => {
    try { return (await fetch(`http://127.0.0.1:${port}/`)).status < 500; } catch { return false; }
  };
  await until(answers, 10_000, `the chat server on port ${port} to answer HTTP`);
  return { port, child: server.child };
}

/** A chat client: collects the JSON frames it receives; resolves once the chat has welcomed it. */
async function join(port: number, room: string): Promise<FrameClient> {
  const client = await frameClient(`ws://127.0.0.1:${port}/ws/chat/${room}/`);
  await client.next((f) => f.type === 'connection_established');
  return client;
}

const chatLines = (frames: Frame[], username: string) =>
  frames.filter((f) => f.username === username && typeof f.message === 'string').map((f) => f.message);

/** Both clients send 20 lines; each client sees all 40, in order per sender. */
async function exchange(a: FrameClient, b: FrameClient, tag: string): Promise<void> {
  const expected = (who: string) => Array.from({ length: 20 }, (_, i) => `${tag}-${who}-${i}`);
  for (let i = 0; i < 20; i++) {
    a.ws.send(JSON.stringify({ message: `${tag}-alice-${i}`, username: `alice${tag}` }));
    b.ws.send(JSON.stringify({ message: `${tag}-bob-${i}`, username: `bob${tag}` }));
  }
  for (const client of [a, b]) {
    await until(() => chatLines(client.frames, `alice${tag}`).length >= 20 && chatLines(client.frames, `bob${tag}`).length >= 20, 5000, `all 40 "${tag}" lines`);
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
      let c: FrameClient | null = null;
      let d: FrameClient | null = null;
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
