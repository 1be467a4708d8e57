// Line-by-line ports of django/channels tests/test_routing.py (spec §3.1), with the
// minimal scopes Django's tests use. Python's ValueError/KeyError for "no route" are
// our RouteNotFound (or another thrown error where Django raises KeyError).
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

/** Django's MockApplication: returns a fixed value and remembers the scope it got. */
function mock<T>(returnValue: T) {
  const app = Object.assign(
    async (scope: Scope) => {
      app.scope = scope;
      return returnValue;
    },
    { scope: undefined as Scope | undefined },
  );
  return app;
}

const call = (router: Application, scope: Record<string, unknown>) =>
  (router as unknown as (s: Scope, r: null, t: null) => Promise<unknown>)(scope as unknown as Scope, null, null);

test('test_protocol_type_router', async () => {
  const router = ProtocolTypeRouter({ websocket: mock('ws') as unknown as Application, http: mock('http') as unknown as Application });
  assert.equal(await call(router, { type: 'websocket' }), 'ws');
  assert.equal(await call(router, { type: 'http' }), 'http');
  // An unmatched type.
  await assert.rejects(call(router, { type: 'aprs' }), RouteNotFound);
  // A type that names an Object.prototype member is unmatched too.
  await assert.rejects(call(router, { type: 'toString' }), RouteNotFound);
  await assert.rejects(call(router, { type: 'constructor' }), RouteNotFound);
  // A scope with no type.
  await assert.rejects(call(router, { tyyyype: 'http' }));
});

test('test_channel_name_router', async () => {
  const router = ChannelNameRouter({ test: mock(1) as unknown as Application, other_test: mock(2) as unknown as Application });
  assert.equal(await call(router, { channel: 'test' }), 1);
  assert.equal(await call(router, { channel: 'other_test' }), 2);
  await assert.rejects(call(router, { channel: 'chat' }), RouteNotFound);
  await assert.rejects(call(router, { type: 'http' }), RouteNotFound);
});

test('test_url_router', async () => {
  const posarg = mock(4);
  const kwarg = mock(5);
  const defaultkwarg = mock(6);
  const router = URLRouter([
    path('', mock(1) as unknown as Application),
    path('foo/', mock(2) as unknown as Application),
    rePath('bar', mock(3) as unknown as Application),
    rePath('^posarg/(\\d+)/$', posarg as unknown as Application),
    path('kwarg/<str:name>/', kwarg as unknown as Application),
    path('defaultkwargs/', defaultkwarg as unknown as Application, { kwargs: { default: 42 } }),
  ]);
  assert.equal(await call(router, { type: 'http', path: '/' }), 1);
  assert.equal(await call(router, { type: 'http', path: '/foo/' }), 2);
  assert.equal(await call(router, { type: 'http', path: '/bar/' }), 3);
  assert.equal(await call(router, { type: 'http', path: '/bar/baz/' }), 3);
  assert.equal(await call(router, { type: 'http', path: '/posarg/123/' }), 4);
  assert.deepEqual(posarg.scope!.urlRoute, { args: ['123'], kwargs: {} });
  assert.equal(await call(router, { type: 'http', path: '/posarg/456/' }), 4);
  assert.deepEqual(posarg.scope!.urlRoute, { args: ['456'], kwargs: {} });
  assert.equal(await call(router, { type: 'http', path: '/kwarg/hello/' }), 5);
  assert.deepEqual(kwarg.scope!.urlRoute, { args: [], kwargs: { name: 'hello' } });
  assert.equal(await call(router, { type: 'http', path: '/kwarg/hellothere/' }), 5);
  assert.deepEqual(kwarg.scope!.urlRoute, { args: [], kwargs: { name: 'hellothere' } });
  assert.equal(await call(router, { type: 'http', path: '/defaultkwargs/' }), 6);
  assert.deepEqual(defaultkwarg.scope!.urlRoute, { args: [], kwargs: { default: 42 } });
  // A root_path in the scope is stripped.
  assert.equal(await call(router, { type: 'http', path: '/root/', root_path: '/root' }), 1);
  assert.equal(await call(router, { type: 'http', path: '/root/foo/', root_path: '/root' }), 2);
  // An unmatched root_path.
  await assert.rejects(call(router, { type: 'http', path: '/', root_path: '/root' }), RouteNotFound);
  // No match.
  await assert.rejects(call(router, { type: 'http', path: '/nonexistent/' }), RouteNotFound);
});

test('test_url_router_nesting', async () => {
  const app = mock(1);
  const inner = URLRouter([
    rePath('^book/(?P<book>[\\w\\-]+)/page/(?P<page>\\d+)/$', app as unknown as Application),
    rePath('^test/(\\d+)/$', app as unknown as Application),
  ]);
  const outer = URLRouter([
    rePath('^universe/(?P<universe>\\d+)/author/(?P<author>\\w+)/', inner),
    rePath('^positional/(\\w+)/', inner),
  ]);
  assert.equal(await call(outer, { type: 'http', path: '/universe/42/author/andrewgodwin/book/channels-guide/page/10/' }), 1);
  assert.deepEqual(app.scope!.urlRoute, {
    args: [],
    kwargs: { book: 'channels-guide', author: 'andrewgodwin', page: '10', universe: '42' },
  });
  assert.equal(await call(outer, { type: 'http', path: '/positional/foo/test/3/' }), 1);
  assert.deepEqual(app.scope!.urlRoute, { args: ['foo', '3'], kwargs: {} });
});

test('test_url_router_nesting_path', async () => {
  const app = mock(1);
  const inner = URLRouter([path('test/<int:page>/', app as unknown as Application)]);
  // Middleware that hides the inner URLRouter, marked as path routing (Django's _path_routing = True).
  const middleware = (wrapped: Application) => inheritPathRouting<Application>(async (scope, receive, send) => wrapped(scope, receive, send), wrapped);
  const outer = URLRouter([path('number/<int:number>/', middleware(inner))]);
  assert.equal(await call(inner, { type: 'http', path: '/test/3/' }), 1);
  assert.equal(await call(outer, { type: 'http', path: '/number/42/test/3/' }), 1);
  assert.deepEqual(app.scope!.urlRoute, { args: [], kwargs: { number: 42, page: 3 } });
  await assert.rejects(call(outer, { type: 'http', path: '/number/42/test/3/bla/' }), RouteNotFound);
  await assert.rejects(call(outer, { type: 'http', path: '/number/42/blub/' }), RouteNotFound);
});

test('test_url_router_path', async () => {
  const kwarg = mock(3);
  const router = URLRouter([
    path('', mock(1) as unknown as Application),
    path('foo/', mock(2) as unknown as Application),
    path('author/<name>/', kwarg as unknown as Application),
    path('year/<int:year>/', kwarg as unknown as Application),
  ]);
  assert.equal(await call(router, { type: 'http', path: '/' }), 1);
  assert.equal(await call(router, { type: 'http', path: '/foo/' }), 2);
  assert.equal(await call(router, { type: 'http', path: '/author/andrewgodwin/' }), 3);
  assert.deepEqual(kwarg.scope!.urlRoute, { args: [], kwargs: { name: 'andrewgodwin' } });
  assert.equal(await call(router, { type: 'http', path: '/year/2012/' }), 3);
  assert.deepEqual(kwarg.scope!.urlRoute, { args: [], kwargs: { year: 2012 } });
  await assert.rejects(call(router, { type: 'http', path: '/nonexistent/' }), RouteNotFound);
});

test('test_path_remaining', async () => {
  const inner = URLRouter([path('no-match/', mock(1) as unknown as Application)]);
  const outer = URLRouter([path('prefix/', inner), path('prefix/stuff/', mock(2) as unknown as Application)]);
  const outermost = URLRouter([path('', outer)]);
  assert.equal(await call(outermost, { type: 'http', path: '/prefix/stuff/' }), 2);
  assert.equal(await call(outermost, { type: 'http', path: '/root/prefix/stuff/', root_path: '/root' }), 2);
  await assert.rejects(call(outermost, { type: 'http', path: '/root/root/prefix/stuff/', root_path: '/root' }), RouteNotFound);
  await assert.rejects(call(outermost, { type: 'http', path: '/root/prefix/root/stuff/', root_path: '/root' }), RouteNotFound);
});

test('test_invalid_routes', () => {
  // Django's include([]) is a tuple, not an app: our nearest equivalent is a route entry that is not a route.
  for (const notARoute of [[[], null, null], { pattern: '' }, null]) {
    assert.throws(() => URLRouter([notARoute as never]), (error: unknown) => {
      assert.ok(error instanceof ImproperlyConfigured);
      assert.ok((error as Error).message.includes('include() is not supported in URLRouter.'));
      return true;
    });
  }
});
