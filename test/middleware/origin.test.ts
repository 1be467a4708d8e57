// Port of Django Channels' security/test_websocket.py (test_origin_validator), the matching
// rules and traps of spec §1.7, and a real handshake refused with HTTP 403 and a log line.
import { connect } from 'node:net';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import type { Application } from 'switchyard';
import { AllowedHostsOriginValidator, OriginValidator, isOriginAllowed, resolveAllowedHosts } from 'switchyard/middleware';
import { WebsocketCommunicator } from 'switchyard/testing';
import { logger, setLogger } from 'switchyard';
import { start } from '../server/helpers.js';
import { until } from '../helpers/time.js';

const echoAccept: Application = async (_scope, receive, send) => {
  await receive();
  await send({ type: 'websocket.accept' });
  await receive();
};

async function connects(allowed: string[], origin?: string | string[]): Promise<boolean> {
  const origins = origin === undefined ? [] : Array.isArray(origin) ? origin : [origin];
  const client = new WebsocketCommunicator(OriginValidator(echoAccept, allowed), '/', {
    headers: origins.map((o) => ['origin', o] as [string, string]),
  });
  const { connected } = await client.connect();
  if (connected) await client.disconnect();
  return connected;
}

test('test_origin_validator (Django Channels)', async () => {
  assert.equal(await connects(['allowed-domain.com'], 'http://allowed-domain.com'), true);
  assert.equal(await connects(['allowed-domain.com'], 'http://bad-domain.com'), false);
  assert.equal(await connects(['*.allowed-domain.com'], 'http://www.allowed-domain.com'), false);
  assert.equal(await connects(['.allowed-domain.com'], 'http://www.allowed-domain.com'), true);
  assert.equal(await connects(['http://allowed-domain.com'], 'http://allowed-domain.com'), true);
  assert.equal(await connects(['http://allowed-domain.com'], 'https://bad-domain.com:443'), false);
  assert.equal(await connects(['*']), true);
  assert.equal(await connects([]), false);
  assert.equal(await connects(['.allowed-domain.com'], ''), false);
  assert.equal(await connects(['.allowed-domain.com'], 'something-invalid'), false);
});

const allowed = (patterns: string[], origin: string | null) =>
  isOriginAllowed(origin === null ? [] : [[Buffer.from('origin'), Buffer.from(origin, 'latin1')]], patterns);

test('matching rules: host-only patterns ignore scheme and port; subdomains need a leading dot', () => {
  assert.equal(allowed(['example.com'], 'https://example.com:8443'), true);
  assert.equal(allowed(['example.com'], 'https://EXAMPLE.com'), true);
  assert.equal(allowed(['EXAMPLE.com'], 'https://example.com'), true);
  assert.equal(allowed(['example.com'], 'https://www.example.com'), false);
  assert.equal(allowed(['.example.com'], 'https://example.com'), true);
  assert.equal(allowed(['.example.com'], 'https://a.b.example.com'), true);
  assert.equal(allowed(['.example.com'], 'https://evilexample.com'), false);
  assert.equal(allowed(['example.com'], 'https://example.com.evil.net'), false);
  assert.equal(allowed(['example.com'], 'https://user@example.com'), true);
  assert.equal(allowed(['example.com'], 'https://example.com@evil.net'), false);
});

test('matching rules: patterns with a scheme compare scheme, default ports and host', () => {
  assert.equal(allowed(['https://example.com'], 'https://example.com:443'), true);
  assert.equal(allowed(['https://example.com'], 'https://example.com:8443'), false);
  assert.equal(allowed(['https://example.com'], 'http://example.com'), false);
  assert.equal(allowed(['http://example.com'], 'ws://example.com'), false);
  assert.equal(allowed(['http://example.com:8000'], 'http://example.com:8000'), true);
  assert.equal(allowed(['http://example.com:8000'], 'http://example.com'), false);
  assert.equal(allowed(['HTTPS://.Example.com'], 'https://chat.example.com'), true);
  assert.equal(allowed(['http://[::1]:8000'], 'http://[::1]:8000'), true);
  assert.equal(allowed(['[::1]'], 'http://[::1]:8000'), true);
  assert.equal(allowed(['127.0.0.1:8000'], 'http://127.0.0.1:9999'), true, 'no scheme parsed (starts with a digit): host only');
});

test('traps kept from Django: *.example.com, example.com:8000 and file:// never match', () => {
  assert.equal(allowed(['*.example.com'], 'https://www.example.com'), false);
  assert.equal(allowed(['example.com:8000'], 'http://example.com:8000'), false);
  assert.equal(allowed(['localhost:8000'], 'http://localhost:8000'), false);
  assert.equal(allowed(['file://'], 'file://'), false);
  assert.equal(allowed(['example.com'], 'null'), false);
  assert.equal(allowed(['*'], 'null'), true);
  assert.equal(allowed(['*'], null), true);
  assert.equal(allowed(['example.com'], null), false);
  assert.equal(allowed(['example.com'], 'http://[::1'), false, 'an invalid IPv6 origin matches nothing');
});

test('allowMissing lets handshakes without Origin through, never a foreign one', async () => {
  const app = (origin?: string) => new WebsocketCommunicator(OriginValidator(echoAccept, ['good.com'], { allowMissing: true }), '/', {
    headers: origin === undefined ? [] : [['origin', origin]],
  }).connect();
  assert.equal((await app()).connected, true);
  assert.equal((await app('http://good.com')).connected, true);
  assert.equal((await app('http://evil.com')).connected, false);
  assert.equal((await app('null')).connected, false);
});

test('the last Origin header wins', async () => {
  assert.equal(await connects(['good.com'], ['http://evil.com', 'http://good.com']), true);
  assert.equal(await connects(['good.com'], ['http://good.com', 'http://evil.com']), false);
});

test('header names are matched in any case, in place', () => {
  const headers = (name: string, origin: string) => [[Buffer.from(name), Buffer.from(origin)]] as Array<[Uint8Array, Uint8Array]>;
  assert.equal(isOriginAllowed(headers('Origin', 'http://evil.example'), ['chat.example']), false);
  assert.equal(isOriginAllowed(headers('ORIGIN', 'http://chat.example'), ['chat.example']), true);
  assert.equal(isOriginAllowed(headers('Sec-WebSocket-Origin', 'http://chat.example'), ['chat.example']), true);
  assert.equal(isOriginAllowed(headers('origins', 'http://chat.example'), ['chat.example']), false, 'another header');
});

test('an allowed handshake reaches the app with the scope as it came (a check makes no copy)', async () => {
  let seen: unknown;
  const app = OriginValidator(async (scope) => { seen = scope; }, ['chat.example']);
  const scope = { type: 'websocket', path: '/', headers: [[Buffer.from('origin'), Buffer.from('http://chat.example')]] };
  await app(scope as unknown as Parameters<Application>[0], async () => ({ type: 'websocket.connect' }), async () => {});
  assert.equal(seen, scope);
});

test('OriginValidator refuses non-WebSocket scopes', async () => {
  const { HttpCommunicator } = await import('../../src/testing/index.js');
  await assert.rejects(new HttpCommunicator(OriginValidator(echoAccept, ['*']), 'GET', '/').getResponse(),
    /You cannot use OriginValidator on a non-WebSocket connection/);
});

test('AllowedHostsOriginValidator: ALLOWED_HOSTS, and the DEBUG defaults when empty', () => {
  assert.deepEqual(resolveAllowedHosts({ allowedHosts: [], debug: true }), ['localhost', '127.0.0.1', '[::1]']);
  assert.deepEqual(resolveAllowedHosts({ allowedHosts: [], debug: false }), []);
  assert.deepEqual(resolveAllowedHosts({ allowedHosts: ['chat.example.com'], debug: true }), ['chat.example.com']);
  const saved = process.env.ALLOWED_HOSTS;
  process.env.ALLOWED_HOSTS = 'a.example, .b.example';
  try {
    assert.deepEqual(resolveAllowedHosts({ debug: false }), ['a.example', '.b.example']);
  } finally {
    if (saved === undefined) delete process.env.ALLOWED_HOSTS;
    else process.env.ALLOWED_HOSTS = saved;
  }
});

test('a real handshake from a foreign Origin gets HTTP 403, the app never runs, and the reason is logged', async () => {
  let ran = 0;
  const inner: Application = async (scope, receive, send) => {
    ran += 1;
    await echoAccept(scope, receive, send);
  };
  const server = await start(AllowedHostsOriginValidator(inner, { allowedHosts: [], debug: true }));
  const previous = logger;
  setLogger(server.logger); // the library logs through the server's (captured) logger
  try {
    const status = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${server.port}/ws/`, { headers: { origin: 'https://evil.example' } });
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => reject(new Error('opened')));
      ws.on('error', () => {});
    });
    assert.equal(status, 403);
    assert.equal(ran, 0);
    assert.ok(server.logs.some((l) => l.msg === 'WebSocket refused: Origin not allowed' && l.origin === 'https://evil.example'));
    // Same site: accepted.
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/ws/`, { headers: { origin: `http://localhost:${server.port}` } });
    await new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject); });
    ws.close();
    assert.equal(ran, 1);
  } finally {
    setLogger(previous);
    await server.close();
  }
});

async function connectsWith(app: Application, headers: Array<[string, string]>, scope: Record<string, unknown> = {}): Promise<boolean> {
  const client = new WebsocketCommunicator(app, '/', { headers, scope });
  const { connected } = await client.connect();
  if (connected) await client.disconnect();
  return connected;
}

test('development defaults pin the port: only the port the request came to (its Host) passes', async () => {
  const app = AllowedHostsOriginValidator(echoAccept, { allowedHosts: [], debug: true, allowMissing: true });
  const at8000: Array<[string, string]> = [['host', '127.0.0.1:8000']];
  assert.equal(await connectsWith(app, [...at8000, ['origin', 'http://127.0.0.1:8000']]), true);
  assert.equal(await connectsWith(app, [...at8000, ['origin', 'http://localhost:8000']]), true, 'another default host, same port');
  // Another local server's page (a dev server, any local app) shares the host and the cookies, not the port.
  assert.equal(await connectsWith(app, [...at8000, ['origin', 'http://127.0.0.1:3000']]), false);
  assert.equal(await connectsWith(app, [...at8000, ['origin', 'http://127.0.0.1']]), false, 'port 80 is not 8000');
  assert.equal(await connectsWith(app, [...at8000, ['origin', 'http://[::1]:8001']]), false);
  // Default ports on both sides: Host without a port is 80 on ws (443 on wss), as the origin's scheme says.
  assert.equal(await connectsWith(app, [['host', 'localhost'], ['origin', 'http://localhost']]), true);
  assert.equal(await connectsWith(app, [['host', 'localhost'], ['origin', 'https://localhost']]), false);
  assert.equal(await connectsWith(app, [['host', 'localhost'], ['origin', 'https://localhost']], { scheme: 'wss' }), true);
  // Without a Host header there is no served port to compare with.
  assert.equal(await connectsWith(app, [['origin', 'http://127.0.0.1:8000']]), false);
  assert.equal(await connectsWith(app, []), true, 'allowMissing: no Origin at all still passes');
});

test('development defaults with an explicit port list; configured hosts keep Django\'s rules (port ignored)', async () => {
  const listed = AllowedHostsOriginValidator(echoAccept, { allowedHosts: [], debug: true, ports: [8000, 5173] });
  assert.equal(await connectsWith(listed, [['host', '127.0.0.1:8000'], ['origin', 'http://127.0.0.1:5173']]), true);
  assert.equal(await connectsWith(listed, [['origin', 'http://localhost:8000']]), true, 'a list needs no Host');
  assert.equal(await connectsWith(listed, [['host', '127.0.0.1:8000'], ['origin', 'http://127.0.0.1:3000']]), false);
  const configured = AllowedHostsOriginValidator(echoAccept, { allowedHosts: ['localhost'], debug: true });
  assert.equal(await connectsWith(configured, [['host', 'localhost:8000'], ['origin', 'http://localhost:3000']]), true);
  const plain = OriginValidator(echoAccept, ['localhost'], { ports: 'host' });
  assert.equal(await connectsWith(plain, [['host', 'localhost:8000'], ['origin', 'http://localhost:3000']]), false);
});

test('Sec-WebSocket-Origin (the drafts\' name) is judged as the Origin when there is no Origin', async () => {
  const app = AllowedHostsOriginValidator(echoAccept, { allowedHosts: ['chat.example'], allowMissing: true });
  assert.equal(await connectsWith(app, [['sec-websocket-origin', 'http://evil.example']]), false, 'not "no Origin"');
  assert.equal(await connectsWith(app, [['sec-websocket-origin', 'http://chat.example']]), true);
  assert.equal(await connectsWith(app, [['origin', 'http://chat.example'], ['sec-websocket-origin', 'http://evil.example']]), true,
    'Origin wins when both are there');
  assert.equal(await connectsWith(app, [['origin', 'http://evil.example'], ['sec-websocket-origin', 'http://chat.example']]), false);
});

/** Writes a raw upgrade request on a real TCP socket; resolves with the status line's code. */
function rawHandshake(port: number, headers: string[]): Promise<{ status: number; head: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    socket.on('data', (chunk) => {
      data += chunk.toString('latin1');
      const end = data.indexOf('\r\n\r\n');
      if (end === -1) return;
      socket.destroy();
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0), head: data.slice(0, end) });
    });
    socket.on('error', reject);
    socket.write([
      'GET /ws/ HTTP/1.1', `Host: 127.0.0.1:${port}`, 'Upgrade: websocket', 'Connection: Upgrade',
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', ...headers, '', '',
    ].join('\r\n'));
  });
}

test('raw TCP: a version-8 handshake with only Sec-WebSocket-Origin never reaches the app; version 13 is judged by it', async () => {
  let ran = 0;
  const inner: Application = async (scope, receive, send) => {
    ran += 1;
    await echoAccept(scope, receive, send);
  };
  const server = await start(AllowedHostsOriginValidator(inner, { allowedHosts: [], debug: true, allowMissing: true }));
  try {
    const draft = await rawHandshake(server.port, ['Sec-WebSocket-Version: 8', 'Sec-WebSocket-Origin: http://evil.example']);
    assert.ok(draft.status === 400 || draft.status === 403 || draft.status === 426, `refused (${draft.status})`);
    assert.match(draft.head, /\r\nSec-WebSocket-Version: 13\r\n/i, 'the refusal names the version spoken (RFC 6455 4.2.2)');
    const foreign = await rawHandshake(server.port, ['Sec-WebSocket-Version: 13', 'Sec-WebSocket-Origin: http://evil.example']);
    assert.equal(foreign.status, 403);
    assert.equal(ran, 0, 'the app never ran');
    const own = await rawHandshake(server.port, ['Sec-WebSocket-Version: 13', `Sec-WebSocket-Origin: http://127.0.0.1:${server.port}`]);
    assert.equal(own.status, 101);
    await until(() => ran === 1, 2000, 'the app to run once');
  } finally {
    await server.close();
  }
});
