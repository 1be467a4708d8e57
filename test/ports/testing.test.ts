// Ports of django/channels tests/test_testing.py (spec §3.1) that test/core/communicators.test.ts
// covers only in part: the exact test_timeout_disconnect sequence and Django's test_connection_scope URLs.
import { beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { AsyncConsumer, InMemoryChannelLayer, WebsocketConsumer, configureChannelLayers } from 'switchyard';
import { CancelledError, HttpCommunicator, TimeoutError, WebsocketCommunicator } from 'switchyard/testing';

beforeEach(() => configureChannelLayers({ default: new InMemoryChannelLayer() }));

test('test_http_communicator: a raw AsyncConsumer sees path, method and a bytes query string', async () => {
  class SimpleHttpApp extends AsyncConsumer {
    async http_request() {
      const scope = this.scope as { path: string; method: string; query_string: Uint8Array };
      assert.equal(scope.path, '/test/');
      assert.equal(scope.method, 'GET');
      assert.ok(scope.query_string instanceof Uint8Array);
      assert.equal(Buffer.from(scope.query_string).toString(), 'foo=bar');
      await this.baseSend({ type: 'http.response.start', status: 200, headers: [] });
      await this.baseSend({ type: 'http.response.body', body: Buffer.from('test response') });
    }
  }
  const response = await new HttpCommunicator(SimpleHttpApp.asApp(), 'GET', '/test/?foo=bar').getResponse();
  assert.equal(response.body.toString(), 'test response');
  assert.equal(response.status, 200);
});

test('test_timeout_disconnect: receiveFrom times out (the app is cancelled), then disconnect() raises CancelledError', async () => {
  // Django's ErrorWebsocketApp: accepts (the default connect) and ignores what it receives.
  class ErrorWebsocketApp extends WebsocketConsumer {
    override async receive() {}
  }
  const communicator = new WebsocketCommunicator(ErrorWebsocketApp.asApp(), '/testws/');
  assert.deepEqual(await communicator.connect(), { connected: true, subprotocol: null });
  await communicator.sendTo({ text: 'hello' });
  await assert.rejects(communicator.receiveFrom(100), TimeoutError);
  await assert.rejects(communicator.disconnect(), CancelledError);
});

// Django's ConnectionScopeValidator: path is a decoded string, query_string is bytes.
const djangoPaths = [
  'user:pass@example.com:8080/p/a/t/h?query=string#hash',
  'wss://user:pass@example.com:8080/p/a/t/h?query=string#hash',
  'ws://www.example.com/%E9%A6%96%E9%A1%B5/index.php?foo=%E9%A6%96%E9%A1%B5&spam=eggs',
];

for (const url of djangoPaths) {
  test(`test_connection_scope[${url}]`, async () => {
    let seen: { type: string; path: unknown; query_string: unknown } | undefined;
    class ConnectionScopeValidator extends WebsocketConsumer {
      override async connect() {
        seen = this.scope as typeof seen;
        await this.accept();
      }
    }
    const communicator = new WebsocketCommunicator(ConnectionScopeValidator.asApp(), url);
    const { connected } = await communicator.connect();
    assert.equal(connected, true);
    assert.equal(seen!.type, 'websocket');
    assert.equal(typeof seen!.path, 'string');
    assert.equal(seen!.path, decodeURIComponent(seen!.path as string), 'percent escapes are decoded');
    assert.ok(seen!.query_string instanceof Uint8Array);
    await communicator.disconnect();
  });
}

test('test_connection_scope: the values Django expects for those URLs', () => {
  const scopeOf = (url: string) => new WebsocketCommunicator(async () => {}, url).scope as { path: string; query_string: Uint8Array };
  const first = scopeOf(djangoPaths[1]!);
  assert.equal(first.path, '/p/a/t/h');
  assert.equal(Buffer.from(first.query_string).toString(), 'query=string');
  const unicode = scopeOf(djangoPaths[2]!);
  assert.equal(unicode.path, '/首页/index.php');
  assert.equal(Buffer.from(unicode.query_string).toString(), 'foo=%E9%A6%96%E9%A1%B5&spam=eggs');
});
