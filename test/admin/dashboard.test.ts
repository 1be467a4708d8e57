// The admin dashboard, driven with the communicators of switchyard/testing:
// authorization (construction, HTTP, handshake, actions), samples of two
// "processes" (two reporters on two Redis layers, each with its own local
// groups) aggregated, a process that stops reporting disappears, and the
// actions close the right connections.
import { after, afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChannelLayer, type HttpScope, type WebsocketScope, InMemoryChannelLayer, URLRouter, WebsocketConsumer, configureChannelLayers, getChannelLayer, path as routePath, setChannelLayer } from 'switchyard';
import { RedisChannelLayer } from 'switchyard/redis';
import { HttpCommunicator, WebsocketCommunicator } from 'switchyard/testing';
import { type AdminDashboard, type ClusterSnapshot, adminDashboard, startAdminReporter } from 'switchyard/admin';
import { Presence } from 'switchyard/presence';
import { serve } from 'switchyard/server';
import { TEST_REDIS_URL, guardRedisKeys } from '../helpers/redis-clean.js';
import { openSocket } from '../helpers/ws-client.js';
import { until } from '../helpers/time.js';

const PREFIX = `sy-admin-unit-${process.pid}-`;
const INTERVAL = 100;

/** Authorization as the chat example does it: a token in the query string. */
const byToken = (scope: HttpScope | WebsocketScope): boolean => new URLSearchParams(Buffer.from(scope.query_string).toString()).get('token') === 'letmein';

class Room extends WebsocketConsumer {
  override async connect(): Promise<void> {
    await this.channelLayer!.groupAdd(String(this.scope.urlRoute?.kwargs.room), this.channelName);
    await this.accept();
  }
}

let dashboards: AdminDashboard[] = [];
function dashboard(options: Partial<Parameters<typeof adminDashboard>[0]> = {}): AdminDashboard {
  const admin = adminDashboard({ authorize: byToken, interval: INTERVAL, processId: 'proc-a', ...options });
  dashboards.push(admin);
  return admin;
}
afterEach(async () => {
  await Promise.all(dashboards.map((admin) => admin.close()));
  dashboards = [];
});

describe('authorization', () => {
  beforeEach(() => configureChannelLayers({ default: new InMemoryChannelLayer() }));

  test('adminDashboard() without authorize (or with a bad path) is a TypeError', () => {
    assert.throws(() => adminDashboard({} as never), { name: 'TypeError', message: /needs an authorize\(scope\) function/ });
    assert.throws(() => adminDashboard({ authorize: 'yes' } as never), TypeError);
    assert.throws(() => adminDashboard({ authorize: () => true, path: 'admin' }), { name: 'TypeError', message: /path must start and end with "\/"/ });
    assert.throws(() => adminDashboard({ authorize: () => true, interval: 0 }), { name: 'TypeError', message: /interval/ });
  });

  test('refused: the page and the snapshot answer 403, the WebSocket handshake is refused; the script is static and served', async () => {
    const admin = dashboard();
    const app = URLRouter([admin.routes.http]);
    for (const path of ['/admin/realtime/', '/admin/realtime/snapshot.json', '/admin/realtime/?token=wrong']) {
      const response = await new HttpCommunicator(app, 'GET', path).getResponse();
      assert.equal(response.status, 403, path);
      assert.match(response.body.toString(), /403 Forbidden/);
    }
    const script = await new HttpCommunicator(app, 'GET', '/admin/realtime/dashboard.js').getResponse();
    assert.equal(script.status, 200);
    assert.match(script.body.toString(), /new WebSocket/);

    const client = new WebsocketCommunicator(URLRouter([admin.routes.websocket]), '/admin/realtime/ws/?token=wrong');
    const result = await client.connect();
    assert.equal(result.connected, false);
  });

  test('authorize() that throws refuses (a broken check never opens the dashboard)', async () => {
    const admin = dashboard({ authorize: () => { throw new Error('session store down'); } });
    const response = await new HttpCommunicator(URLRouter([admin.routes.http]), 'GET', '/admin/realtime/').getResponse();
    assert.equal(response.status, 403);
    const client = new WebsocketCommunicator(URLRouter([admin.routes.websocket]), '/admin/realtime/ws/');
    assert.equal((await client.connect()).connected, false);
  });

  test('allowed: the page (with a CSP) and a live snapshot over the WebSocket', async () => {
    const admin = dashboard();
    const page = await new HttpCommunicator(URLRouter([admin.routes.http]), 'GET', '/admin/realtime/?token=letmein').getResponse();
    assert.equal(page.status, 200);
    assert.match(page.body.toString(), /<title>Switchyard · realtime<\/title>/);
    const csp = page.headers.find(([name]) => Buffer.from(name).toString() === 'content-security-policy');
    assert.match(Buffer.from(csp![1]).toString(), /script-src 'self'/);

    const client = new WebsocketCommunicator(URLRouter([admin.routes.websocket]), '/admin/realtime/ws/?token=letmein');
    assert.equal((await client.connect(3000)).connected, true);
    const first = await client.receiveJsonFrom(3000) as ClusterSnapshot;
    assert.equal(first.type, 'admin.snapshot');
    assert.deepEqual(first.processes.map((p) => p.id), ['proc-a']);
    const next = await client.receiveJsonFrom(3000) as ClusterSnapshot; // pushed every interval
    assert.equal(next.type, 'admin.snapshot');
    assert.ok(next.at > first.at);
    await client.disconnect();
  });

  test('presence: each topic with its users and connections (null when the dashboard has no presence)', async () => {
    assert.equal((await dashboard().snapshot()).presence, null);
    const presence = new Presence({ layer: getChannelLayer()!, name: 'admin-test' });
    try {
      await presence.track('room:1', 'alice', {});
      await presence.track('room:1', 'alice', {}); // a second tab
      await presence.track('room:1', 'bob', {});
      await presence.track('room:2', 'carol', {});
      const admin = dashboard({ presence: () => presence });
      assert.deepEqual((await admin.snapshot()).presence, [
        { topic: 'room:1', users: 2, entries: 3 },
        { topic: 'room:2', users: 1, entries: 1 },
      ]);
    } finally {
      await presence.close();
    }
  });

  test('an action is refused when authorize() no longer allows the user, and nothing is closed', async () => {
    let allowed = true;
    const admin = dashboard({ authorize: () => allowed });
    const app = URLRouter([admin.routes.websocket]);
    const member = new WebsocketCommunicator(URLRouter([routePath('room/<room>/', Room.asApp())]), '/room/lobby/');
    assert.equal((await member.connect()).connected, true);
    const client = new WebsocketCommunicator(app, '/admin/realtime/ws/');
    assert.equal((await client.connect(3000)).connected, true);
    await client.receiveJsonFrom(3000);
    allowed = false;
    await client.sendJsonTo({ type: 'close_group', id: '7', group: 'lobby', code: 4001, reason: 'bye' });
    const answer = await receiveType(client, 'admin.result');
    assert.deepEqual({ id: answer.id, ok: answer.ok, message: answer.message }, { id: '7', ok: false, message: 'Not authorized' });
    assert.equal(await member.receiveNothing(3 * INTERVAL), true);
    await member.disconnect();
    await client.disconnect();
  });
});

/** The next JSON frame of `type` (snapshots in between are skipped). */
async function receiveType(client: WebsocketCommunicator, type: string, ms = 5000): Promise<Record<string, unknown>> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const frame = await client.receiveJsonFrom(3000) as Record<string, unknown>;
    if (frame.type === type) return frame;
  }
  throw new Error(`no ${type} frame within ${ms} ms`);
}

/** The frames other than snapshots, until `enough` says so. */
async function receiveFrames(client: WebsocketCommunicator, enough: (frames: Array<Record<string, unknown>>) => boolean, ms = 5000): Promise<Array<Record<string, unknown>>> {
  const end = Date.now() + ms;
  const frames: Array<Record<string, unknown>> = [];
  while (!enough(frames)) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms with ${JSON.stringify(frames)}`);
    const frame = await client.receiveJsonFrom(3000) as Record<string, unknown>;
    if (frame.type !== 'admin.snapshot') frames.push(frame);
  }
  return frames;
}

describe('two processes on Redis', () => {
  let a: ChannelLayer;
  let b: ChannelLayer;

  beforeEach(() => {
    a = new RedisChannelLayer({ hosts: [TEST_REDIS_URL], prefix: PREFIX });
    b = new RedisChannelLayer({ hosts: [TEST_REDIS_URL], prefix: PREFIX });
    configureChannelLayers({});
    setChannelLayer('default', a);
    setChannelLayer('process-b', b);
  });
  afterEach(async () => {
    await a.flush();
    await Promise.all([a.close(), b.close()]);
  });

  test('samples of both processes are aggregated: per process, totals, and groups summed over processes', async () => {
    const admin = dashboard();
    const reporterB = startAdminReporter({ channelLayerAlias: 'process-b', interval: INTERVAL, processId: 'proc-b' });
    try {
      for (const [layer, group, count] of [[a, 'room1', 3], [a, 'room2', 1], [b, 'room1', 2], [b, 'room3', 4]] as const) {
        for (let i = 0; i < count; i++) await layer.groupAdd(group, await layer.newChannel());
      }
      let snapshot!: ClusterSnapshot;
      await until(async () => {
        snapshot = await admin.snapshot();
        return snapshot.processes.length === 2 && snapshot.groups.find((g) => g.name === 'room1')?.members === 5;
      }, 5000, () => `both processes and room1 = 5 in ${JSON.stringify(snapshot?.groups)}`);
      assert.deepEqual(snapshot.processes.map((p) => [p.id, p.groups]), [['proc-a', 2], ['proc-b', 2]]);
      assert.deepEqual(snapshot.groups.map((g) => [g.name, g.members, g.processes]), [['room1', 5, 2], ['room3', 4, 1], ['room2', 1, 1]]);
      assert.equal(snapshot.totals.processes, 2);
      for (const p of snapshot.processes) {
        assert.equal(p.layer.connected, true);
        assert.ok(p.layer.rttMs !== null && p.layer.rttMs >= 0);
        assert.ok(p.memory.rss > 0 && p.memory.heapUsed > 0);
        assert.ok(p.eventLoop.p99 >= 0);
        assert.notEqual(p.channel, '');
      }
    } finally {
      await reporterB.close();
    }
  });

  test('a process that stops reporting is marked stale, then disappears', async () => {
    const admin = dashboard();
    const reporterB = startAdminReporter({ channelLayerAlias: 'process-b', interval: INTERVAL, processId: 'proc-b' });
    await until(async () => (await admin.snapshot()).processes.length === 2, 5000, 'both processes');
    await reporterB.close(); // as a killed process: no goodbye, its samples just stop
    await until(async () => (await admin.snapshot()).processes.find((p) => p.id === 'proc-b')?.stale === true, 5000, 'proc-b stale');
    await until(async () => (await admin.snapshot()).processes.every((p) => p.id !== 'proc-b'), 5000, 'proc-b gone');
    assert.deepEqual((await admin.snapshot()).processes.map((p) => p.id), ['proc-a']);
  });

  test('actions: members of a group from every process, disconnect one by channel, close a group with a code and reason', async () => {
    const admin = dashboard();
    const reporterB = startAdminReporter({ channelLayerAlias: 'process-b', interval: INTERVAL, processId: 'proc-b' });
    class RoomB extends Room { static override channelLayerAlias = 'process-b'; }
    const rooms = URLRouter([routePath('a/<room>/', Room.asApp()), routePath('b/<room>/', RoomB.asApp())]);
    const members = [new WebsocketCommunicator(rooms, '/a/lobby/'), new WebsocketCommunicator(rooms, '/b/lobby/'), new WebsocketCommunicator(rooms, '/b/other/')];
    for (const member of members) assert.equal((await member.connect()).connected, true);
    const client = new WebsocketCommunicator(URLRouter([admin.routes.websocket]), '/admin/realtime/ws/?token=letmein');
    try {
      await until(async () => (await admin.snapshot()).processes.length === 2, 5000, 'both processes');
      assert.equal((await client.connect(3000)).connected, true);

      await client.sendJsonTo({ type: 'members', id: 'm1', group: 'lobby' });
      // The answers may come before or after the action's result: collect all three, in any order.
      const frames = await receiveFrames(client, (got) => got.length === 3);
      assert.deepEqual(frames.find((f) => f.type === 'admin.result'), { type: 'admin.result', id: 'm1', action: 'members', ok: true, message: 'asked 2 process(es) for the members of lobby' });
      const answers = frames.filter((f) => f.type === 'admin.members');
      const byProcess = Object.fromEntries(answers.map((answer) => [answer.process as string, answer.members as string[]]));
      assert.deepEqual(Object.keys(byProcess).sort(), ['proc-a', 'proc-b']);
      assert.equal(byProcess['proc-a']!.length, 1);
      assert.equal(byProcess['proc-b']!.length, 1);

      // Disconnect the one on process b, by its channel name.
      await client.sendJsonTo({ type: 'disconnect', id: 'd1', channel: byProcess['proc-b']![0] });
      assert.equal((await receiveType(client, 'admin.result')).ok, true);
      assert.deepEqual(await members[1]!.receiveOutput(3000), { type: 'websocket.close', code: 4000, reason: 'Disconnected by an administrator' });
      assert.equal(await members[0]!.receiveNothing(2 * INTERVAL), true);

      // Bad input: a clear error, nothing done.
      await client.sendJsonTo({ type: 'close_group', id: 'bad', group: 'lobby', code: 1000 });
      assert.deepEqual(await receiveType(client, 'admin.result'), { type: 'admin.result', id: 'bad', action: 'close_group', ok: false, message: 'code must be an integer from 4000 to 4999' });
      await client.sendJsonTo({ type: 'disconnect', id: 'bad2', channel: 'not a channel' });
      assert.equal((await receiveType(client, 'admin.result')).ok, false);

      // Close the group: its members on every process close with the code and reason; others stay.
      await client.sendJsonTo({ type: 'close_group', id: 'c1', group: 'lobby', code: 4321, reason: 'maintenance' });
      assert.equal((await receiveType(client, 'admin.result')).ok, true);
      assert.deepEqual(await members[0]!.receiveOutput(3000), { type: 'websocket.close', code: 4321, reason: 'maintenance' });
      assert.equal(await members[2]!.receiveNothing(3 * INTERVAL), true);
    } finally {
      await client.disconnect();
      for (const member of members) await member.disconnect().catch(() => {});
      await reporterB.close();
    }
  });
});

describe('figures of a real server', () => {
  beforeEach(() => configureChannelLayers({ default: new InMemoryChannelLayer() }));

  for (const metricsPath of [null, '/metrics']) {
    test(`connections and messages come from the server (${metricsPath === null ? 'plain counts, no metrics' : 'its metrics registry'})`, async () => {
      const admin = dashboard();
      class Echo extends Room {
        override async receive(data: string | Uint8Array): Promise<void> { await this.send(data); }
      }
      const server = await serve(URLRouter([admin.routes.websocket, routePath('room/<room>/', Echo.asApp())]), {
        port: 0, host: '127.0.0.1', lifespan: 'off', accessLog: false, logLevel: 'warn', metricsPath, shutdownTimeout: 1,
      });
      try {
        const url = `ws${server.url.slice(4)}/room/lobby/`;
        const sockets = await Promise.all([openSocket(url), openSocket(url), openSocket(url)]);
        await Promise.all(sockets.map((ws) => new Promise((echoed) => { ws.once('message', echoed); ws.send('ping'); })));
        sockets[0]!.close();
        let process!: ClusterSnapshot['processes'][number] | undefined;
        await until(async () => {
          process = (await admin.snapshot()).processes[0];
          return process?.ws.open === 2 && process.ws.disconnects === 1 && process.ws.messagesOut >= 3;
        }, 5000, () => `2 open, 1 disconnect, 3 echoes in ${JSON.stringify(process?.ws)}`);
        assert.equal(process!.servers, 1);
        assert.equal(process!.ws.connects, 3);
        assert.equal(process!.ws.messagesIn, 3);
        assert.deepEqual((await admin.snapshot()).groups, [{ name: 'lobby', members: 2, processes: 1 }]);
        for (const ws of sockets) ws.close();
      } finally {
        await server.close({ timeout: 1 });
      }
    });
  }
});

guardRedisKeys(PREFIX);
after(() => configureChannelLayers({ default: new InMemoryChannelLayer() }));
