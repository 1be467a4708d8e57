// A channel layer that is away (LayerUnavailableError) does not crash a WebSocket consumer:
// the connection lives, one warn line is logged (rate-limited), `layerUnavailable()` lets the
// app answer; other errors still end the instance (1011). Driven with communicators on the
// in-memory layer, then over a real socket with a Redis layer whose Redis the test stops.
import { after, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AsyncConsumer, HttpConsumer, InMemoryChannelLayer, JsonWebsocketConsumer, LayerUnavailableError, WebsocketConsumer,
  configureChannelLayers, setChannelLayer, type ConsumerEvent,
} from 'switchyard';
import { RedisChannelLayer } from 'switchyard/redis';
import { HttpCommunicator, WebsocketCommunicator } from 'switchyard/testing';
import { captureLibraryLogs, recordingLogger, type LogLine } from '../helpers/logs.js';
import { OwnedRedis } from '../helpers/redis-server.js';
import { delay, until } from '../helpers/time.js';
import { frameClient } from '../helpers/ws-client.js';
import { start } from '../server/helpers.js';

const away = () => new LayerUnavailableError('Redis at 127.0.0.1:1/0 is unavailable: reconnecting');
/** The consumers' warn lines about the layer; with `about`, only those naming it (the log is process-wide: earlier tests' counts may flush). */
const unavailableLines = (lines: LogLine[], about = '') =>
  lines.filter((l) => /channel layer unavailable/i.test(l.msg) && JSON.stringify(l).includes(about));

describe('communicators, in-memory layer', () => {
  let layer: InMemoryChannelLayer;
  beforeEach(() => {
    layer = new InMemoryChannelLayer();
    configureChannelLayers({ default: layer });
  });

  test('a receive() that lets LayerUnavailableError escape keeps the connection; three failures log one warn line', async () => {
    const logs = captureLibraryLogs('warn');
    try {
      class Flaky extends WebsocketConsumer {
        override async receive(data: string | Uint8Array) {
          if (data === 'down') throw away();
          await this.send(`echo ${String(data)}`);
        }
      }
      const client = new WebsocketCommunicator(Flaky.asApp(), '/ws/');
      assert.equal((await client.connect()).connected, true);
      for (let i = 0; i < 3; i++) await client.sendTo({ text: 'down' });
      await client.sendTo({ text: 'up' });
      assert.equal(await client.receiveFrom(), 'echo up', 'the instance still serves frames');
      const lines = unavailableLines(logs.lines);
      assert.equal(lines.length, 1, JSON.stringify(logs.lines));
      assert.equal(lines[0]!.level, 40, 'at warn');
      await client.disconnect();
      await client.wait();
    } finally {
      logs.restore();
    }
  });

  test('a group event handler (the layer lane) that fails the same way keeps the instance; the next event is served', async () => {
    let fail = true;
    class Member extends WebsocketConsumer {
      static override groups = ['g'];
      async tick(event: { n: number }) {
        if (fail) {
          fail = false;
          throw away();
        }
        await this.send(`tick ${event.n}`);
      }
    }
    const client = new WebsocketCommunicator(Member.asApp(), '/ws/');
    assert.equal((await client.connect()).connected, true);
    await layer.groupSend('g', { type: 'tick', n: 1 });
    await layer.groupSend('g', { type: 'tick', n: 2 });
    assert.equal(await client.receiveFrom(), 'tick 2');
    await client.disconnect();
    await client.wait();
  });

  test('layerUnavailable() is the app\'s hook: it may answer an error frame, or close', async () => {
    const seen: string[] = [];
    class Answers extends JsonWebsocketConsumer {
      override async receiveJson() { throw away(); }
      override async layerUnavailable(error: LayerUnavailableError, event: ConsumerEvent) {
        seen.push(`${error.code} ${event.type}`);
        await this.sendJson({ type: 'error', message: 'try again' });
      }
    }
    const answers = new WebsocketCommunicator(Answers.asApp(), '/ws/');
    await answers.connect();
    await answers.sendJsonTo({});
    assert.deepEqual(await answers.receiveJsonFrom(), { type: 'error', message: 'try again' });
    assert.deepEqual(seen, ['SY_LAYER_UNAVAILABLE websocket.receive']);
    await answers.disconnect();

    class Closes extends WebsocketConsumer {
      override async receive() { throw away(); }
      override async layerUnavailable() { await this.close(1013, 'try again later'); }
    }
    const closes = new WebsocketCommunicator(Closes.asApp(), '/ws/');
    await closes.connect();
    await closes.sendTo({ text: 'x' });
    assert.deepEqual(await closes.receiveOutput(), { type: 'websocket.close', code: 1013, reason: 'try again later' });
  });

  test('other errors still end the instance with the error (the server closes 1011)', async () => {
    class Broken extends WebsocketConsumer {
      override async receive() { throw new TypeError('a bug'); }
    }
    const client = new WebsocketCommunicator(Broken.asApp(), '/ws/');
    await client.connect();
    await client.sendTo({ text: 'x' });
    await assert.rejects(client.wait(), /a bug/);
  });

  test('a hook that rethrows ends the instance; a plain AsyncConsumer keeps today\'s behaviour (ends)', async () => {
    class Rethrows extends WebsocketConsumer {
      override async receive() { throw away(); }
      override async layerUnavailable(error: LayerUnavailableError) { throw error; }
    }
    const client = new WebsocketCommunicator(Rethrows.asApp(), '/ws/');
    await client.connect();
    await client.sendTo({ text: 'x' });
    await assert.rejects(client.wait(), LayerUnavailableError);

    class Raw extends AsyncConsumer {
      async websocket_connect() { throw away(); }
    }
    const raw = new WebsocketCommunicator(Raw.asApp(), '/ws/');
    await assert.rejects(raw.connect(), LayerUnavailableError);
  });

  test('before accept, the handshake is refused with 503 (denial response) and the instance ends, not left pending', async () => {
    class JoinsFirst extends WebsocketConsumer {
      override async connect() {
        await this.channelLayer!.groupAdd('room', this.channelName);
        throw away();
      }
    }
    const client = new WebsocketCommunicator(JoinsFirst.asApp(), '/ws/');
    const result = await client.connect();
    assert.equal(result.connected, false);
    assert.equal('response' in result ? result.response?.status : undefined, 503);
    await until(() => client.done, 500, 'the refused instance to end (no layer event reaches it)');
  });

  test('a disconnect whose group leave or disconnect() fails that way still ends the instance cleanly, disconnect() called', async () => {
    const calls: number[] = [];
    class Leaves extends WebsocketConsumer {
      static override groups = ['g'];
      override async disconnect(code: number) {
        calls.push(code);
        throw away();
      }
    }
    const client = new WebsocketCommunicator(Leaves.asApp(), '/ws/');
    await client.connect();
    layer.groupDiscard = () => Promise.reject(away());
    await client.disconnect(4001);
    await client.wait();
    assert.deepEqual(calls, [4001]);
  });
});

describe('HttpConsumer, the layer away', () => {
  test('before the response starts, the request is answered 503 (was: the server\'s 500), logged once', async () => {
    const logs = captureLibraryLogs('warn');
    try {
      class Feed extends HttpConsumer {
        override async handle() {
          await this.channelLayer!.groupAdd('feed', this.channelName); // as if Redis were away:
          throw away();
        }
      }
      for (let i = 0; i < 2; i++) {
        const response = await new HttpCommunicator(Feed.asApp(), 'GET', '/feed').getResponse();
        assert.equal(response.status, 503);
        assert.equal(response.body.toString(), 'Service Unavailable\n');
      }
      assert.equal(unavailableLines(logs.lines, 'Feed').length, 1, JSON.stringify(logs.lines));
    } finally {
      logs.restore();
    }
  });

  test('once the response started, the instance ends with the error (a status cannot change)', async () => {
    class Stream extends HttpConsumer {
      override async handle() {
        await this.sendHeaders();
        await this.sendBody('first', { moreBody: true });
        throw away();
      }
    }
    const client = new HttpCommunicator(Stream.asApp(), 'GET', '/stream');
    assert.equal((await client.getResponseStart()).status, 200);
    await client.receiveBody();
    await assert.rejects(client.wait(), LayerUnavailableError);
  });
});

describe('a real socket, a Redis layer, its Redis stopped and started again', () => {
  const owned: OwnedRedis[] = [];
  after(async () => { for (const redis of owned) await redis.stop(); });

  test('the connection stays open after a send whose groupSend fails, and works again once Redis is back', async () => {
    const redis = await OwnedRedis.start();
    owned.push(redis);
    const layer = new RedisChannelLayer({ hosts: [redis.url], prefix: `test-unavailable-${process.pid}`, logger: recordingLogger() });
    setChannelLayer('unavailable', layer);
    class Sender extends WebsocketConsumer {
      static override channelLayerAlias = 'unavailable';
      override async receive(data: string | Uint8Array) {
        await this.channelLayer!.groupSend('room', { type: 'room.message', text: String(data) });
        await this.send(`sent ${String(data)}`);
      }
    }
    const logs = captureLibraryLogs('warn');
    const server = await start(Sender.asApp());
    try {
      const client = await frameClient(`ws://127.0.0.1:${server.port}/`);
      client.ws.send('a');
      await client.next((f) => f.text === 'sent a');

      await redis.stop();
      client.ws.send('b');
      client.ws.send('c');
      const closed = await Promise.race([client.closed, delay(1500).then(() => null)]);
      assert.equal(closed, null, `the connection was closed (${String(closed)}) by a send while Redis was away`);
      assert.equal(client.frames.length, 0, 'nothing was sent for b and c');
      assert.equal(unavailableLines(logs.lines, `127.0.0.1:${redis.port}`).length, 1, JSON.stringify(logs.lines));

      await redis.startAgain();
      const deadline = Date.now() + 8000;
      let n = 0;
      while (!client.frames.some((f) => typeof f.text === 'string' && f.text.startsWith('sent d')) && Date.now() < deadline) {
        client.ws.send(`d${n++}`);
        await delay(200);
      }
      assert.ok(client.frames.some((f) => typeof f.text === 'string' && f.text.startsWith('sent d')), 'a send works again once Redis is back');
      client.close();
      await client.closed;
    } finally {
      logs.restore();
      await server.close({ timeout: 1 });
      await layer.close();
    }
  });
});
