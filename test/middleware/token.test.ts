// Bearer JWT authentication: good tokens give scope.user; every bad token refuses the handshake.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT, UnsecuredJWT, generateKeyPair } from 'jose';
import type { Application } from 'switchyard';
import { TokenAuthMiddleware } from 'switchyard/middleware';
import { WebsocketCommunicator } from 'switchyard/testing';

const SECRET = 'a-test-secret-of-decent-length-0123456789';
const key = new TextEncoder().encode(SECRET);

const whoAmI: Application = async (scope, receive, send) => {
  await receive();
  const subprotocols = scope.type === 'websocket' ? scope.subprotocols : [];
  await send({ type: 'websocket.accept', subprotocol: subprotocols[0] ?? null });
  const user = scope.user as { username?: string } | undefined;
  await send({ type: 'websocket.send', text: JSON.stringify({ username: user?.username ?? null, subprotocols }) });
  await receive();
};

const app = TokenAuthMiddleware(whoAmI, { key: SECRET, algorithms: ['HS256'], audience: 'chat' });

function jwt(claims: Record<string, unknown> = {}, options: { alg?: string; exp?: string | number | null; aud?: string | null } = {}) {
  let builder = new SignJWT({ username: 'alice', ...claims }).setProtectedHeader({ alg: options.alg ?? 'HS256' }).setSubject('u1').setIssuedAt();
  if (options.aud !== null) builder = builder.setAudience(options.aud ?? 'chat');
  if (options.exp !== null) builder = builder.setExpirationTime(options.exp ?? '5m');
  return builder.sign(key);
}

async function connect(target: Application, path: string, init: { headers?: Array<[string, string]>; subprotocols?: string[] } = {}) {
  const client = new WebsocketCommunicator(target, path, init);
  const result = await client.connect();
  if (!result.connected) return { connected: false as const, username: undefined, subprotocols: undefined };
  const hello = await client.receiveJsonFrom<{ username: string | null; subprotocols: string[] }>();
  await client.disconnect();
  return { connected: true as const, subprotocol: result.subprotocol, ...hello };
}

test('a valid token in the query string, the Authorization header or a subprotocol signs the user in', async () => {
  const token = await jwt();
  assert.deepEqual(await connect(app, `/ws/?token=${token}`), { connected: true, subprotocol: null, username: 'alice', subprotocols: [] });
  assert.equal((await connect(app, '/ws/', { headers: [['authorization', `Bearer ${token}`]] })).username, 'alice');
  const viaProtocol = await connect(app, '/ws/', { subprotocols: ['chat.v1', `bearer.${token}`] });
  assert.equal(viaProtocol.username, 'alice');
  assert.deepEqual(viaProtocol.subprotocols, ['chat.v1'], 'the token offer is hidden from the app');
});

test('no token passes through anonymous; with required: true it is refused', async () => {
  assert.deepEqual(await connect(app, '/ws/'), { connected: true, subprotocol: null, username: null, subprotocols: [] });
  const strict = TokenAuthMiddleware(whoAmI, { key: SECRET, required: true });
  assert.equal((await connect(strict, '/ws/')).connected, false);
});

test('security: bad tokens refuse the handshake', async () => {
  const refused = async (token: string) => assert.equal((await connect(app, `/ws/?token=${token}`)).connected, false, token);
  await refused(await jwt({}, { exp: Math.floor(Date.now() / 1000) - 60 }));          // expired
  await refused(await jwt({}, { exp: null }));                                         // no exp
  await refused(await jwt({}, { aud: 'other' }));                                      // wrong audience
  await refused(await jwt({}, { aud: null }));                                         // no audience
  await refused(await jwt({}, { alg: 'HS512' }));                                      // algorithm not allowed
  await refused(new UnsecuredJWT({ sub: 'u1', aud: 'chat' }).setExpirationTime('5m').encode()); // alg: none
  const good = await jwt();
  const [h, p] = good.split('.') as [string, string, string];
  const forgedPayload = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), sub: 'admin' })).toString('base64url');
  await refused(`${h}.${forgedPayload}.${good.split('.')[2]}`);                        // payload changed, old signature
  await refused(await new SignJWT({ sub: 'u1' }).setProtectedHeader({ alg: 'HS256' }).setAudience('chat').setExpirationTime('5m')
    .sign(new TextEncoder().encode('another-secret-another-secret-12345')));            // wrong key
  await refused('not.a.jwt');
  await refused('garbage');
});

test('public-key tokens (ES256) with an allow-list; a token without a subject names no user', async () => {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const es = TokenAuthMiddleware(whoAmI, { key: publicKey, algorithms: ['ES256'] });
  const token = await new SignJWT({}).setProtectedHeader({ alg: 'ES256' }).setSubject('bob').setExpirationTime('1m').sign(privateKey);
  assert.equal((await connect(es, `/ws/?token=${token}`)).username, 'bob');
  const noSub = await new SignJWT({}).setProtectedHeader({ alg: 'ES256' }).setExpirationTime('1m').sign(privateKey);
  assert.equal((await connect(es, `/ws/?token=${noSub}`)).connected, false);
  assert.throws(() => TokenAuthMiddleware(whoAmI, { key: SECRET, algorithms: ['none'] }), /never "none"/);
});

test('over a real server: a good token in the subprotocol header opens, a bad one gets HTTP 403', async () => {
  const { default: WebSocket } = await import('ws');
  const { start } = await import('../server/helpers.js');
  const server = await start(app, { accessLog: false });
  try {
    const token = await jwt();
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/ws/`, ['chat.v1', `bearer.${token}`]);
    const hello = await new Promise<string>((resolve, reject) => {
      ws.once('message', (data: Buffer) => resolve(data.toString()));
      ws.once('error', reject);
    });
    assert.equal(ws.protocol, 'chat.v1');
    assert.deepEqual(JSON.parse(hello), { username: 'alice', subprotocols: ['chat.v1'] });
    ws.close();
    const expired = await jwt({}, { exp: Math.floor(Date.now() / 1000) - 60 });
    const status = await new Promise<number>((resolve, reject) => {
      const bad = new WebSocket(`ws://127.0.0.1:${server.port}/ws/`, ['chat.v1', `bearer.${expired}`]);
      bad.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      bad.on('open', () => reject(new Error('opened with an expired token')));
      bad.on('error', () => {});
    });
    assert.equal(status, 403);
  } finally {
    await server.close({ timeout: 1 });
  }
});

test('stacked above AuthMiddlewareStack, a token user is kept; HTTP requests with a bad token get 401', async () => {
  const { AuthMiddlewareStack } = await import('../../src/middleware/index.js');
  const { HttpCommunicator } = await import('../../src/testing/index.js');
  const stacked = TokenAuthMiddleware(AuthMiddlewareStack(whoAmI, { sessions: { secrets: ['s'] }, loadUser: async () => null }), { key: SECRET, audience: 'chat' });
  assert.equal((await connect(stacked, `/ws/?token=${await jwt()}`)).username, 'alice');
  assert.equal((await connect(stacked, '/ws/')).username, '', 'no token: the session decides (anonymous here)');
  const http = await new HttpCommunicator(stacked, 'GET', '/api/?token=garbage').getResponse();
  assert.equal(http.status, 401);
});
