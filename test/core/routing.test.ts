// The routers beyond Django Channels' own tests (those are ported in test/ports/routing.test.ts):
// error messages, converters, root_path and pathRemaining details, and rePath() patterns read as Python's re.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  type Application,
  type Scope,
  ChannelNameRouter,
  ImproperlyConfigured,
  ProtocolTypeRouter,
  RouteNotFound,
  URLRouter,
  inheritPathRouting,
  path,
  rePath,
} from 'switchyard';

/** An app that records the scope it was called with. */
function recorder(label: string) {
  const seen: Scope[] = [];
  const app: Application = async (scope) => {
    seen.push(scope);
  };
  return Object.assign(app, { label, seen });
}

const noop = async () => ({ type: 'websocket.connect' as const });
const noSend = async () => {};

function wsScope(path: string, extra: Record<string, unknown> = {}): Scope {
  return {
    type: 'websocket', asgi: { version: '3.0' }, http_version: '1.1', scheme: 'ws', path,
    query_string: new Uint8Array(), root_path: '', headers: [], subprotocols: [], ...extra,
  } as Scope;
}

async function routed(router: Application, scope: Scope, target: ReturnType<typeof recorder>) {
  const before = target.seen.length;
  await router(scope, noop, noSend);
  assert.equal(target.seen.length, before + 1, 'the expected app was called');
  return target.seen.at(-1)!;
}

test('router errors name what they did not find: the scope type, the channel, a scope with no channel', async () => {
  const router = ProtocolTypeRouter({ websocket: recorder('ws') });
  await assert.rejects(router({ type: 'lifespan', asgi: { version: '3.0' } }, noop, noSend), (error: unknown) => {
    assert.ok(error instanceof RouteNotFound);
    assert.match((error as Error).message, /No application configured for scope type "lifespan"/);
    return true;
  });
  const channels = ChannelNameRouter({ 'thumbnails-generate': recorder('a') });
  await assert.rejects(channels({ type: 'channel', channel: 'other' }, noop, noSend), /No application configured for channel "other"/);
  await assert.rejects(channels(wsScope('/'), noop, noSend), /only being used for 'channel' type messages/);
  // Names of Object.prototype members are not channel routes either.
  await assert.rejects(channels({ type: 'channel', channel: 'toString' }, noop, noSend), RouteNotFound);
});

test('URLRouter beyond Django\'s test: a regex prefix leaves pathRemaining, several positional groups, route kwargs win over captured ones, a path() endpoint must match fully', async () => {
  const foo = recorder('foo');
  const bar = recorder('bar');
  const args = recorder('args');
  const defaults = recorder('defaults');
  const router = URLRouter([
    path('foo/', foo),
    rePath(/^bar/, bar),
    rePath(/^nameless\/(\d+)\/(\d+)\/$/, args),
    path('defaults/<str:name>/', defaults, { kwargs: { name: 'fixed', extra: 1 } }),
  ]);
  const baz = await routed(router, wsScope('/bar/baz/'), bar);
  assert.equal(baz.pathRemaining, '/baz/');
  const positional = await routed(router, wsScope('/nameless/123/456/'), args);
  assert.deepEqual(positional.urlRoute, { args: ['123', '456'], kwargs: {} });
  const withDefaults = await routed(router, wsScope('/defaults/given/'), defaults);
  assert.deepEqual(withDefaults.urlRoute?.kwargs, { name: 'fixed', extra: 1 });
  // A path() endpoint must match fully.
  await assert.rejects(router(wsScope('/foo/bar/'), noop, noSend), /No route found for path "foo\/bar\/"/);
});

test('root_path: a path under another prefix is no match', async () => {
  const foo = recorder('foo');
  const router = URLRouter([path('foo/', foo)]);
  await assert.rejects(router(wsScope('/other/foo/', { root_path: '/root' }), noop, noSend), RouteNotFound);
});

test('leading slashes are all stripped (//foo/ matches foo/)', async () => {
  const foo = recorder('foo');
  await routed(URLRouter([path('foo/', foo)]), wsScope('//foo/'), foo);
});

test('path-routing middleware: the scope it passes on reaches the inner router; <int:> refuses what is not digits', async () => {
  const leaf = recorder('leaf');
  const inner = URLRouter([path('page/<int:page>/', leaf)]);
  const middleware = inheritPathRouting(async (scope: Scope, receive, send) => inner({ ...scope, touched: true } as Scope, receive, send), inner);
  const router = URLRouter([path('number/<int:number>/', middleware)]);
  const scope = await routed(router, wsScope('/number/42/page/3/'), leaf);
  assert.equal(scope.touched, true);
  await assert.rejects(router(wsScope('/number/x/page/3/'), noop, noSend), RouteNotFound);
});

test('the slug, uuid and path converters give their values; slug and uuid refuse what they do not match', async () => {
  const app = recorder('app');
  const uuid = '7f3e2a4c-1b2d-4e5f-8a9b-0c1d2e3f4a5b';
  const router = URLRouter([
    path('slug/<slug:slug>/', app),
    path('uuid/<uuid:id>/', app),
    path('files/<path:rest>', app),
  ]);
  assert.deepEqual((await routed(router, wsScope('/slug/my-post_1/'), app)).urlRoute?.kwargs, { slug: 'my-post_1' });
  assert.deepEqual((await routed(router, wsScope(`/uuid/${uuid}/`), app)).urlRoute?.kwargs, { id: uuid });
  assert.deepEqual((await routed(router, wsScope('/files/a/b/c.txt'), app)).urlRoute?.kwargs, { rest: 'a/b/c.txt' });
  await assert.rejects(router(wsScope('/slug/not a slug/'), noop, noSend), RouteNotFound);
  await assert.rejects(router(wsScope('/uuid/not-a-uuid/'), noop, noSend), RouteNotFound);
});

test('the seeds route: rePath with Python (?P<name>) syntax and \\w+ rooms only', async () => {
  const chat = recorder('chat');
  const router = URLRouter([rePath('ws/chat/(?P<room_name>\\w+)/$', chat)]);
  assert.deepEqual((await routed(router, wsScope('/ws/chat/lobby/'), chat)).urlRoute?.kwargs, { room_name: 'lobby' });
  await assert.rejects(router(wsScope('/ws/chat/bad-room!/'), noop, noSend), RouteNotFound);
});

test('Django regex rule: when a named group matched, positional groups are dropped', async () => {
  const app = recorder('mix');
  const scope = await routed(URLRouter([rePath(/^mix\/(\d+)\/(?<k>\w+)\/$/, app)]), wsScope('/mix/1/x/'), app);
  assert.deepEqual(scope.urlRoute, { args: [], kwargs: { k: 'x' } });
});

test('a route matched under root_path, past an inner router with no match, leaves nothing remaining', async () => {
  const second = recorder('second');
  const router = URLRouter([
    path('prefix/', URLRouter([path('a/', recorder('a'))])),
    path('prefix/b/', second),
  ]);
  const rooted = await routed(router, wsScope('/root/prefix/b/', { root_path: '/root' }), second);
  assert.equal(rooted.pathRemaining, '');
});

test('path() refuses an unknown converter and a leading slash', () => {
  assert.throws(() => path('<bogus:x>/', recorder('x')), /Unknown path converter 'bogus'/);
  assert.throws(() => path('/leading/', recorder('x')), ImproperlyConfigured);
});

test("no 'path' key in the scope is a clear error", async () => {
  const router = URLRouter([path('', recorder('x'))]);
  await assert.rejects(router({ type: 'websocket' } as Scope, noop, noSend), /No 'path' key in connection scope/);
});

// ---- rePath() string patterns mean what they mean in Python (Django's re_path) ----

test('Unicode \\w as in Django: the tutorial route accepts 聊天, café, Ünïcödé and digits of other scripts', async () => {
  const chat = recorder('chat');
  const router = URLRouter([rePath('ws/chat/(?P<room_name>\\w+)/$', chat)]);
  for (const room of ['聊天', 'café', 'Ünïcödé_42', '٣٤', 'комната', 'ｆｕｌｌ']) {
    assert.deepEqual((await routed(router, wsScope(`/ws/chat/${room}/`), chat)).urlRoute?.kwargs, { room_name: room }, room);
  }
  // Not word characters in Python either: punctuation, spaces, emoji, combining marks alone.
  for (const room of ['a-b', 'a b', '😀', 'e\u0301', 'a\u00a0b', '聊天！']) {
    await assert.rejects(router(wsScope(`/ws/chat/${room}/`), noop, noSend), RouteNotFound, JSON.stringify(room));
  }
});

test('\\d is Unicode decimal digits, \\s Python\'s whitespace, also inside classes and negated; (?a) asks for ASCII', async () => {
  const app = recorder('app');
  const match = async (pattern: string, text: string) => {
    try {
      await URLRouter([rePath(pattern, app)])(wsScope(`/${text}`), noop, noSend);
      return true;
    } catch (error) {
      if (error instanceof RouteNotFound) return false;
      throw error;
    }
  };
  assert.equal(await match('^n/\\d+$', 'n/٣٤'), true, 'Arabic-Indic digits are \\d');
  assert.equal(await match('^n/\\d+$', 'n/²'), false, 'superscripts are not decimal (Nd)');
  assert.equal(await match('^s/a\\sb$', 's/a\u3000b'), true, 'ideographic space');
  assert.equal(await match('^s/a\\sb$', 's/a\ufeffb'), false, 'BOM is not whitespace in Python (it is in JavaScript)');
  assert.equal(await match('^s/a\\sb$', 's/a\u001cb'), true, 'a file separator is, in Python');
  assert.equal(await match('^c/[\\w.-]+$', 'c/聊天.v-1'), true);
  assert.equal(await match('^c/[^\\W\\d]+$', 'c/聊天'), true, 'word characters that are not digits');
  assert.equal(await match('^c/[^\\W\\d]+$', 'c/聊天3'), false);
  assert.equal(await match('^c/[\\W]+$', 'c/!?'), true);
  assert.equal(await match('^c/[a\\W]+$', 'c/a!a'), true);
  assert.equal(await match('(?a)^a/\\w+$', 'a/聊天'), false, '(?a): ASCII only');
  assert.equal(await match('(?a)^a/\\w+$', 'a/abc_1'), true);
  assert.equal(await match('^b/\\b聊天\\b$', 'b/聊天'), true, '\\b around Unicode words');
  assert.equal(await match('(?i)^i/abc$', 'i/ABC'), true, 'leading inline flags');
  assert.equal(await match('^dot/.$', 'dot/\n'), false, '. never matches a newline');
  assert.equal(await match('^dot/.$', 'dot/\r'), true, '. matches \\r in Python');
});

test('Python-only syntax: (?P=name), (?#…), \\A \\Z, {,n}, literal braces, octal and \\U escapes', async () => {
  const app = recorder('app');
  const kwargs = async (pattern: string, text: string) =>
    (await routed(URLRouter([rePath(pattern, app)]), wsScope(`/${text}`), app)).urlRoute?.kwargs;
  assert.deepEqual(await kwargs('\\A(?P<a>\\w)-(?P=a)(?#same letter twice)\\Z', 'x-x'), { a: 'x' });
  assert.deepEqual(await kwargs('^q/(?P<n>x{,2})$', 'q/xx'), { n: 'xx' });
  assert.deepEqual(await kwargs('^lit/(?P<n>{}|a{b)$', 'lit/a{b'), { n: 'a{b' });
  assert.deepEqual(await kwargs('^e/(?P<n>\\101\\U0001F600\\-)$', 'e/A😀-'), { n: 'A😀-' });
  assert.throws(() => rePath('^(?i:x)$', app), ImproperlyConfigured, 'scoped flags: JavaScript cannot express them here');
  assert.throws(() => rePath('^(?>x)$', app), ImproperlyConfigured);
  assert.throws(() => rePath('^\\q$', app), /bad escape/);
});

test('an endpoint pattern ending in $ must match the whole path, as Django\'s fullmatch', async () => {
  const chat = recorder('chat');
  const router = URLRouter([rePath('ws/chat/(?P<room_name>\\w+)/$', chat)]);
  await assert.rejects(router(wsScope('/evil/ws/chat/room/'), noop, noSend), RouteNotFound);
  // Not an endpoint (a nested router): search, as Django.
  const inner = recorder('inner');
  const nested = URLRouter([rePath('(?P<v>\\d+)/', URLRouter([path('x/', inner)]))]);
  assert.deepEqual((await routed(nested, wsScope('/9/x/'), inner)).urlRoute?.kwargs, { v: '9' });
});

test('\\w, \\d, \\s agree with Python\'s re on every code point Python knows', async () => {
  const { spawnSync } = await import('node:child_process');
  const script = `
import json, re, sys, unicodedata
def ranges(pred):
    out, start = [], None
    for c in range(0x110000 + 1):
        on = c < 0x110000 and not (0xd800 <= c <= 0xdfff) and pred(c)
        if on and start is None: start = c
        if not on and start is not None: out.append([start, c - 1]); start = None
    return out
result = {k: ranges(lambda c, r=re.compile(p): r.fullmatch(chr(c)) is not None) for k, p in
          [('w', r'\\w'), ('d', r'\\d'), ('s', r'\\s'), ('nw', r'[^\\W\\d_]')]}
result['unassigned'] = ranges(lambda c: unicodedata.category(chr(c)) == 'Cn')
json.dump(result, sys.stdout)`;
  const run = spawnSync('python3', ['-c', script], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  assert.equal(run.status, 0, run.stderr);
  const python = JSON.parse(run.stdout) as Record<string, Array<[number, number]>>;
  const inRanges = (list: Array<[number, number]>) => {
    const set = new Set<number>();
    for (const [a, b] of list) for (let c = a; c <= b; c++) set.add(c);
    return set;
  };
  const unassigned = inRanges(python.unassigned!); // newer in Node's Unicode than in Python's: not comparable
  const app = recorder('app');
  for (const [key, pattern] of [['w', '\\w'], ['d', '\\d'], ['s', '\\s'], ['nw', '[^\\W\\d_]']] as const) {
    // The route's own regex, reached through a route: x/<one character>.
    const route = rePath(`^x/${pattern}$`, app);
    const expected = inRanges(python[key]!);
    const wrong: string[] = [];
    for (let c = 0; c < 0x110000; c++) {
      if ((c >= 0xd800 && c <= 0xdfff) || unassigned.has(c)) continue;
      const ours = route.pattern.match(`x/${String.fromCodePoint(c)}`, true) !== null;
      if (ours !== expected.has(c) && wrong.push(c.toString(16)) > 20) break;
    }
    assert.deepEqual(wrong, [], `${pattern}: code points where we differ from Python`);
  }
});
