// No sticky sessions: a fallback session held by one process (this one) is
// reached by POSTs and long polls that land on another server process (a
// child) sharing the Redis layer: they are relayed to the owner through the
// layer (core and pub/sub flavours), delivered in order, and answered with
// the owner's answer.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { configureChannelLayers, closeChannelLayers } from 'switchyard';
import { runCommand, type Running } from '../helpers/processes.js';
import { TEST_REDIS_URL, deleteRedisKeysAfter, guardRedisKeys } from '../helpers/redis-clean.js';
import { until } from '../helpers/time.js';
import { echoApp } from './fixtures/fallback-echo.js';
import { serverPool, type TestServer } from './helpers.js';
import { fallbackUrl, openPoll, openSse, post, type Element } from './fallback-helpers.js';

const PREFIX = `fallback-test-${process.pid}`;
const LAYERS = {
  core: `${TEST_REDIS_URL}?prefix=${PREFIX}`,
  pubsub: `${TEST_REDIS_URL.replace('redis://', 'redis+pubsub://')}?prefix=${PREFIX}-pubsub`,
};

describe('fallback across processes on a shared Redis layer', () => {
  const pool = serverPool();
  const owners: Record<string, TestServer> = {};
  const peers: Record<string, string> = {};
  let peer: Running;

  before(async () => {
    configureChannelLayers({ default: LAYERS.core, pubsub: LAYERS.pubsub });
    peer = runCommand(process.execPath, ['--import', 'tsx', 'test/server/fixtures/fallback-peer.ts'], {
      env: { ...process.env, FALLBACK_CORE_URL: LAYERS.core, FALLBACK_PUBSUB_URL: LAYERS.pubsub },
    });
    owners.core = await pool.serve(echoApp('owner'), { fallback: { pollTimeout: 0.5 }, accessLog: false });
    owners.pubsub = await pool.serve(echoApp('owner'), { fallback: { pollTimeout: 0.5, layer: 'pubsub' }, accessLog: false });
    await peer.waitFor((line) => line.peer === 'ready', 30_000, 'the peer servers listening');
    for (const line of peer.lines) if (typeof line.url === 'string') peers[String(line.peer)] = line.url;
  });

  after(async () => {
    peer?.child.kill('SIGTERM');
    await peer?.exited;
    await Promise.all(Object.values(owners).map((owner) => owner.close({ timeout: 1 })));
    await closeChannelLayers();
  });

  for (const flavour of ['core', 'pubsub'] as const) {
    test(`${flavour} layer: POSTs to the other process reach the event stream held here, in order, nothing twice`, async () => {
      const [owner, peerUrl] = [owners[flavour]!, peers[flavour]!];
      const http = await openSse(owner.url, '/x/');
      try {
        const answers = [];
        for (let seq = 0; seq < 5; seq++) answers.push(await post(peerUrl, '/x/', 'sse', http.session, { seq, frames: [{ text: `m${seq}` }] }));
        assert.deepEqual(answers.map((a) => a.json.ack), [1, 2, 3, 4, 5]);
        // A retry through the peer of what was already delivered: acknowledged, not delivered again.
        assert.deepEqual((await post(peerUrl, '/x/', 'sse', http.session, { seq: 3, frames: [{ text: 'm3' }, { text: 'm4' }] })).json, { ack: 5 });
        await until(() => http.elements.length >= 5, 5000, 'five echoes');
        assert.deepEqual(http.elements, [0, 1, 2, 3, 4].map((i) => ({ text: `owner: m${i}` })));
        // Errors come back from the owner as they would be answered there.
        const gap = await post(peerUrl, '/x/', 'sse', http.session, { seq: 9, frames: [{ text: 'x' }] });
        assert.equal(gap.status, 409);
        const forged = await post(peerUrl, '/x/', 'sse', http.session, { seq: 5, frames: [{ text: 'x' }] }, { origin: 'https://evil.example' });
        assert.equal(forged.status, 403);
        const channel = http.session.slice(http.session.indexOf('~') + 1);
        const unknown = await post(peerUrl, '/x/', 'sse', `${'B'.repeat(43)}~${channel}`, { seq: 0, frames: [{ text: 'x' }] });
        assert.equal(unknown.status, 404);
        assert.equal(unknown.json.error, 'unknown_session');
      } finally {
        http.stop();
      }
    });

    test(`${flavour} layer: a long poll on the other process is answered from the owner's queue`, async () => {
      const [owner, peerUrl] = [owners[flavour]!, peers[flavour]!];
      const http = await openPoll(owner.url, '/x/');
      http.stop(); // this test polls by hand, on the peer
      await post(peerUrl, '/x/', 'poll', http.session, { seq: 0, frames: [{ text: 'via peer' }] });
      const poll = async (ack: number): Promise<Element[]> => {
        const response = await fetch(fallbackUrl(peerUrl, '/x/', 'poll', { 'switchyard.session': http.session, 'switchyard.ack': String(ack) }));
        assert.equal(response.status, 200);
        return (await response.json()) as Element[];
      };
      assert.deepEqual(await poll(1), [{ text: 'owner: via peer' }]);
      // Held on the owner until something comes: a POST on the owner itself this time.
      const held = poll(2);
      await post(owner.url, '/x/', 'poll', http.session, { seq: 1, frames: [{ text: 'direct' }] });
      assert.deepEqual(await held, [{ text: 'owner: direct' }]);
      await post(peerUrl, '/x/', 'poll', http.session, { seq: 2, frames: [{ close: { code: 1000, reason: '' } }] });
      assert.deepEqual(await poll(3), [{ close: { code: 1000, reason: '' } }]);
    });
  }
});

deleteRedisKeysAfter(PREFIX);
guardRedisKeys(PREFIX);
