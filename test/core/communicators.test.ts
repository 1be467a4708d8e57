// Ports django/channels tests/test_testing.py.
import { beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { type Application, type WebsocketScope, HttpConsumer, InMemoryChannelLayer, JsonWebsocketConsumer, URLRouter, WebsocketConsumer, configureChannelLayers, path } from 'switchyard';
import { ApplicationCommunicator, HttpCommunicator, TimeoutError, WebsocketCommunicator } from 'switchyard/testing';

beforeEach(() => configureChannelLayers({ default: new InMemoryChannelLayer() }));

test('test_http_communicator: path and query string are split; the query stays bytes', async () => {
  class Echo extends HttpConsumer {
    override async handle() {
      const scope = this.scope as { path: string; query_string: Uint8Array; method: string };
      await this.sendResponse(200, `${scope.method} ${scope.path} ${Buffer.from(scope.query_string).toString()}`);
    }
  }
  const response = await new HttpCommunicator(Echo.asApp(), 'get', '/test/caf%C3%A9/?foo=bar&x=%20').getResponse();
  assert.equal(response.body.toString(), 'GET /test/café/ foo=bar&x=%20');
});

test('test_websocket_communicator: text, bytes and JSON round trips; connect gives (True, None)', async () => {
  class Echo extends JsonWebsocketConsumer {
    override async receive(data: string | Uint8Array) {
      if (typeof data === 'string' && data.startsWith('{')) return super.receive(data);
      await this.send(data);
    }
    override async receiveJson(content: unknown) { await this.sendJson(content); }
  }
  const client = new WebsocketCommunicator(Echo.asApp(), '/testws/');
  assert.deepEqual(await client.connect(), { connected: true, subprotocol: null });
  await client.sendTo({ text: 'hello' });
  assert.equal(await client.receiveFrom(), 'hello');
  await client.sendTo({ bytes: Buffer.from([0, 1, 2]) });
  assert.deepEqual([...(await client.receiveFrom() as Uint8Array)], [0, 1, 2]);
  await client.sendJsonTo({ hello: 'world' });
  assert.deepEqual(await client.receiveJsonFrom(), { hello: 'world' });
  await client.disconnect();
});

test('test_websocket_incorrect_read_json: reading a frame when the app closed names both types', async () => {
  class AcceptThenClose extends WebsocketConsumer {
    override async connect() { await this.accept(); await this.close(); }
  }
  const client = new WebsocketCommunicator(AcceptThenClose.asApp(), '/');
  await client.connect();
  await assert.rejects(client.receiveFrom(), /Expected type 'websocket.send', but was 'websocket.close'/);
});

test('test_websocket_application: a URLRouter route kwarg reaches the consumer', async () => {
  class KwargEcho extends WebsocketConsumer {
    override async connect() { await this.accept(); await this.send(String(this.scope.urlRoute?.kwargs.message)); }
  }
  const app = URLRouter([path('testws/<str:message>/', KwargEcho.asApp())]);
  const client = new WebsocketCommunicator(app, '/testws/test/');
  await client.connect();
  assert.equal(await client.receiveFrom(), 'test');
  await client.disconnect();
});

test('test_timeout_disconnect: an app that never replies times out, and is cancelled', async () => {
  let cancelled = false;
  const silent: Application = async (_scope, receive) => {
    try {
      for (;;) await receive();
    } catch (error) {
      cancelled = true;
      throw error;
    }
  };
  const client = new WebsocketCommunicator(silent, '/');
  await client.sendInput({ type: 'websocket.connect' });
  await assert.rejects(client.receiveFrom(50), TimeoutError);
  await client.wait(100);
  assert.equal(cancelled, true);
});

test('receiveNothing is true when nothing comes, false when something does', async () => {
  class Later extends WebsocketConsumer {
    override async receive() { setTimeout(() => void this.send('late'), 30); }
  }
  const client = new WebsocketCommunicator(Later.asApp(), '/');
  await client.connect();
  assert.equal(await client.receiveNothing(20), true);
  await client.sendTo({ text: 'x' });
  assert.equal(await client.receiveNothing(100), false);
  assert.equal(await client.receiveFrom(), 'late');
  await client.disconnect();
});

test('test_connection_scope: full URLs, percent-encoded UTF-8 paths and query strings', () => {
  const cases: Array<[string, string, string]> = [
    ['/path?foo=bar', '/path', 'foo=bar'],
    ['http://example.com/path?foo=bar', '/path', 'foo=bar'],
    ['http://user:pass@example.com:8080/path?foo=bar#frag', '/path', 'foo=bar'],
    ['/%E4%BD%A0%E5%A5%BD?q=%E4%BD%A0', '/你好', 'q=%E4%BD%A0'],
  ];
  for (const [url, expectedPath, expectedQuery] of cases) {
    const scope = new WebsocketCommunicator(async () => {}, url).scope as { path: string; query_string: Uint8Array };
    assert.equal(scope.path, expectedPath, url);
    assert.equal(Buffer.from(scope.query_string).toString(), expectedQuery, url);
  }
  assert.throws(() => new WebsocketCommunicator(async () => {}, 42 as unknown as string), TypeError);
});

test('an app error surfaces at the next communicator call', async () => {
  const broken: Application = async () => { throw new Error('broken app'); };
  const client = new ApplicationCommunicator(broken, { type: 'channel', channel: 'x' });
  await assert.rejects(client.receiveOutput(), /broken app/);
  await assert.rejects(client.sendInput({ type: 'x' }), /broken app/);
  await assert.rejects(client.wait(), /broken app/);
});

test('a denial response (websocket.http.response) reaches connect() whole: status, headers, streamed body', async () => {
  class Private extends WebsocketConsumer {
    override async connect() {
      if ((this.scope as WebsocketScope).extensions?.['websocket.http.response'] === undefined) return this.close();
      await this.baseSend({ type: 'websocket.http.response.start', status: 401, headers: [[Buffer.from('www-authenticate'), Buffer.from('Bearer')]] });
      await this.baseSend({ type: 'websocket.http.response.body', body: Buffer.from('sign '), more_body: true });
      await this.baseSend({ type: 'websocket.http.response.body', body: Buffer.from('in') });
    }
  }
  const result = await new WebsocketCommunicator(Private.asApp(), '/private/').connect();
  assert.equal(result.connected, false);
  assert.ok(!result.connected && result.response !== undefined);
  assert.equal(result.closeCode, 1006);
  assert.equal(result.response.status, 401);
  assert.deepEqual(result.response.headers.map(([k, v]) => [Buffer.from(k).toString(), Buffer.from(v).toString()]), [['www-authenticate', 'Bearer']]);
  assert.equal(Buffer.from(result.response.body).toString(), 'sign in');
});
