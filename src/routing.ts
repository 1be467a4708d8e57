/**
 * Routers: applications that pick another application.
 *
 * - {@link ProtocolTypeRouter} by `scope.type` (`http`, `websocket`, `lifespan`, `channel`);
 * - {@link URLRouter} by path, with Django's `path()` converters and `rePath()` regexes;
 * - {@link ChannelNameRouter} by worker channel name.
 *
 * URL routing follows Django Channels: only the outermost URLRouter strips
 * `root_path`; leading slashes are ignored; a route whose app is itself a
 * router (or middleware around one) matches as a prefix and passes the rest
 * on in `scope.pathRemaining`; captured args and kwargs merge across levels,
 * with a route's `kwargs` defaults winning; when an inner router has no
 * match the outer one goes on with its next routes. No match at all is a
 * {@link RouteNotFound}, which the server turns into a 404 or a refused handshake.
 */
import type { Application, ChannelScope, HttpScope, Receive, Scope, Send, WebSocketScope } from './asgi.js';
import { scopeWith } from './asgi.js';
import { ImproperlyConfigured, RouteNotFound } from './errors.js';
import { compilePythonRegex } from './python-regex.js';

/** Apps carrying this mark route a path prefix (routers, and middleware around them). */
export const PATH_ROUTING: unique symbol = Symbol.for('switchyard.pathRouting');

type PathRoutingApp = Application & { [PATH_ROUTING]?: boolean };

/** An app made by a consumer's `asApp()`: it never holds a router, so never reports an inner "no match". */
function isConsumerApp(app: Application): boolean {
  return typeof (app as { consumerClass?: unknown }).consumerClass === 'function';
}

function isEmpty(object: object): boolean {
  for (const _ in object) return false;
  return true;
}

/** Marks `app` as a prefix router when `inner` is one (middleware calls this). */
export function inheritPathRouting<A extends Application>(app: A, inner: Application): A {
  if ((inner as PathRoutingApp)[PATH_ROUTING]) (app as PathRoutingApp)[PATH_ROUTING] = true;
  return app;
}

// ---- Path converters --------------------------------------------------------

/** A `path()` converter: the regex a segment must match and how to turn it into a value. */
export interface PathConverter {
  regex: string;
  toValue(text: string): unknown;
}

const converters = new Map<string, PathConverter>([
  ['str', { regex: '[^/]+', toValue: (t) => t }],
  ['int', { regex: '[0-9]+', toValue: (t) => Number.parseInt(t, 10) }],
  ['slug', { regex: '[-a-zA-Z0-9_]+', toValue: (t) => t }],
  ['uuid', { regex: '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', toValue: (t) => t }],
  ['path', { regex: '.+', toValue: (t) => t }],
]);

/** Adds a converter usable as `<name:param>` in `path()` (Django's `register_converter`). */
export function registerConverter(name: string, converter: PathConverter): void {
  converters.set(name, converter);
}

// ---- Patterns ------------------------------------------------------------------

interface Match { rest: string; args: unknown[]; kwargs: Record<string, unknown> }

interface Pattern {
  describe: string;
  match(path: string, endpoint: boolean): Match | null;
}

/** Positional args of a route that captured none; frozen, like Django's tuple, and shared. */
const NO_ARGS: string[] = Object.freeze([]) as unknown as string[];

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

function compilePath(route: string): Pattern {
  if (route.startsWith('/')) {
    throw new ImproperlyConfigured(`path(${JSON.stringify(route)}) must not start with '/' (leading slashes are already stripped)`);
  }
  const parts: string[] = [];
  const params: Array<[string, PathConverter]> = [];
  let last = 0;
  for (const m of route.matchAll(/<(?:(?<conv>[^>:]+):)?(?<name>[^>]+)>/g)) {
    const name = m.groups!.name!;
    const convName = m.groups!.conv ?? 'str';
    const converter = converters.get(convName);
    if (converter === undefined) throw new ImproperlyConfigured(`Unknown path converter '${convName}' in ${JSON.stringify(route)}`);
    if (!/^[A-Za-z_]\w*$/.test(name)) throw new ImproperlyConfigured(`'${name}' in ${JSON.stringify(route)} is not a valid parameter name`);
    parts.push(escapeRegExp(route.slice(last, m.index)), `(${converter.regex})`);
    params.push([name, converter]);
    last = m.index! + m[0].length;
  }
  parts.push(escapeRegExp(route.slice(last)));
  const prefix = new RegExp(`^${parts.join('')}`);
  const full = new RegExp(`^${parts.join('')}$`);
  return {
    describe: route,
    match(path, endpoint) {
      const m = (endpoint ? full : prefix).exec(path);
      if (m === null) return null;
      const kwargs: Record<string, unknown> = {};
      params.forEach(([name, converter], i) => (kwargs[name] = converter.toValue(m[i + 1]!)));
      return { rest: path.slice(m[0].length), args: NO_ARGS, kwargs };
    },
  };
}

function compileRegex(pattern: string | RegExp): Pattern {
  // A string is a Python pattern, with Python's meaning (Unicode \w...); a RegExp is JavaScript's.
  const python = typeof pattern === 'string' ? compilePythonRegex(pattern) : null;
  const regex = python?.search ?? (pattern as RegExp);
  // Django: an endpoint whose pattern ends with '$' must match the whole path (fullmatch), else search.
  const whole = python !== null && (pattern as string).endsWith('$') ? python.full : regex;
  return {
    describe: typeof pattern === 'string' ? pattern : regex.source,
    match(path, endpoint) {
      const m = (endpoint ? whole : regex).exec(path);
      if (m === null) return null;
      const kwargs: Record<string, unknown> = {};
      for (const [name, value] of Object.entries(m.groups ?? {})) if (value !== undefined) kwargs[name] = value;
      // Django: when a named group matched, positional groups are dropped.
      const args = Object.keys(kwargs).length > 0 ? NO_ARGS : m.slice(1).filter((v) => v !== undefined);
      return { rest: path.slice(m.index + m[0].length), args, kwargs };
    },
  };
}

/** One URL route: a pattern, the app it leads to, and default kwargs. */
export interface Route {
  readonly pattern: Pattern;
  readonly app: Application;
  readonly kwargs: Record<string, unknown>;
  readonly name?: string;
}

/** Options of a route: default kwargs (they override captured values) and a name. */
export interface RouteOptions { kwargs?: Record<string, unknown>; name?: string }

/**
 * A route with Django's path syntax: `<converter:name>` with the converters
 * `str` (default), `int`, `slug`, `uuid` and `path`.
 *
 * @example
 * ```ts
 * import { path, WebsocketConsumer } from 'switchyard';
 *
 * class ChatConsumer extends WebsocketConsumer {}
 * class PostConsumer extends WebsocketConsumer {}
 * path('ws/chat/<str:room_name>/', ChatConsumer.asApp())
 * path('ws/post/<int:id>/', PostConsumer.asApp(), { kwargs: { live: true } })
 * ```
 */
export function path(route: string, app: Application, options: RouteOptions = {}): Route {
  return { pattern: compilePath(route), app, kwargs: options.kwargs ?? {}, name: options.name };
}

/**
 * A route with a regular expression (Django's `re_path`): named groups become
 * kwargs, other groups positional args. Without a trailing `$` it matches a prefix.
 *
 * A string is a Python pattern and means what it means in Django: `\w`, `\d`,
 * `\s` and `\b` are Unicode-aware (`(?P<room_name>\w+)` accepts `聊天`; `(?a)`
 * at the start asks for ASCII), `(?P<name>…)` names a group, and an endpoint
 * ending in `$` must match the whole remaining path (see `python-regex.ts`).
 * A `RegExp` is used as JavaScript reads it (its `\w` is ASCII unless it has
 * the `u` or `v` flag and says `\p{…}`).
 *
 * @example
 * ```ts
 * import { rePath, WebsocketConsumer } from 'switchyard';
 *
 * class ChatConsumer extends WebsocketConsumer {}
 * rePath(/^ws\/chat\/(?<room_name>\w+)\/$/, ChatConsumer.asApp())
 * rePath('ws/chat/(?P<room_name>\\w+)/$', ChatConsumer.asApp())   // Python syntax works too
 * ```
 */
export function rePath(pattern: string | RegExp, app: Application, options: RouteOptions = {}): Route {
  return { pattern: compileRegex(pattern), app, kwargs: options.kwargs ?? {}, name: options.name };
}

/** Thrown by an inner URLRouter with no match, so that the outer router tries its next route. */
class NoInnerMatch extends RouteNotFound {}

type ConnectionScope = HttpScope | WebSocketScope;

/**
 * Routes `http` and `websocket` connections by path.
 *
 * @example
 * ```ts
 * import { path, URLRouter, WebsocketConsumer } from 'switchyard';
 *
 * class ChatConsumer extends WebsocketConsumer {}
 * class StatsConsumer extends WebsocketConsumer {}
 * const websocket = URLRouter([
 *   path('ws/chat/<str:room_name>/', ChatConsumer.asApp()),
 *   path('ws/admin/', URLRouter([path('stats/', StatsConsumer.asApp())])),
 * ]);
 * ```
 */
export function URLRouter(routes: Route[]): Application {
  for (const route of routes) {
    if (typeof route?.app !== 'function') {
      throw new ImproperlyConfigured('include() is not supported in URLRouter. Use nested URLRouter instances instead.');
    }
  }
  // Not async, and a route to a consumer is called without waiting on it: an idle
  // connection holds no suspended frame here. Other apps may hold an inner router
  // (middleware around one), whose "no match" must let the next routes try.
  const router: PathRoutingApp = (scope, receive, send) => {
    try {
      const connection = scope as ConnectionScope;
      const outermost = connection.pathRemaining === undefined;
      let routePath = outermost ? connection.path : connection.pathRemaining!;
      if (typeof routePath !== 'string') throw new TypeError("No 'path' key in connection scope, cannot route URLs");
      if (outermost && connection.root_path) {
        if (!routePath.startsWith(connection.root_path)) throw new RouteNotFound(`No route found for path ${JSON.stringify(routePath)}.`);
        routePath = routePath.slice(connection.root_path.length);
      }
      return routeFrom(0, connection, routePath.replace(/^\/+/, ''), receive, send);
    } catch (error) {
      return Promise.reject(error);
    }
  };

  function routeFrom(start: number, connection: ConnectionScope, routePath: string, receive: Receive, send: Send): Promise<void> {
    for (let i = start; i < routes.length; i++) {
      const route = routes[i]!;
      const match = route.pattern.match(routePath, !(route.app as PathRoutingApp)[PATH_ROUTING]);
      if (match === null) continue;
      const outer = connection.urlRoute;
      const inner = scopeWith(connection, {
        pathRemaining: match.rest,
        urlRoute: {
          args: outer === undefined || outer.args.length === 0 ? match.args : [...outer.args, ...match.args],
          kwargs: outer === undefined && isEmpty(route.kwargs) ? match.kwargs : { ...outer?.kwargs, ...match.kwargs, ...route.kwargs },
        },
      });
      const running = route.app(inner, receive, send);
      if (isConsumerApp(route.app)) return running;
      return running.catch((error: unknown) => {
        if (!(error instanceof NoInnerMatch)) throw error;
        return routeFrom(i + 1, connection, routePath, receive, send);
      });
    }
    const message = `No route found for path ${JSON.stringify(routePath)}.`;
    throw connection.pathRemaining === undefined ? new RouteNotFound(message) : new NoInnerMatch(message);
  }

  router[PATH_ROUTING] = true;
  return router;
}

/**
 * Routes by `scope.type`.
 *
 * @example
 * ```ts
 * import { type Application, ProtocolTypeRouter } from 'switchyard';
 * import { AuthMiddlewareStack, type AuthStackOptions } from 'switchyard/middleware';
 *
 * declare const httpApp: Application;
 * declare const websocketRouter: Application;
 * declare const auth: AuthStackOptions;
 * export const application = ProtocolTypeRouter({ http: httpApp, websocket: AuthMiddlewareStack(websocketRouter, auth) });
 * ```
 */
export function ProtocolTypeRouter(apps: Partial<Record<Scope['type'], Application>> & Record<string, Application>): Application {
  // Not async: the inner app's promise is passed on as it is (no promise and frame per connection here).
  return (scope, receive, send) => {
    const app = typeof scope.type === 'string' && Object.hasOwn(apps, scope.type) ? apps[scope.type] : undefined;
    if (app === undefined) {
      return Promise.reject(new RouteNotFound(`No application configured for scope type ${JSON.stringify(scope.type)}`));
    }
    try {
      return app(scope, receive, send);
    } catch (error) {
      return Promise.reject(error);
    }
  };
}

/**
 * Routes worker messages by the channel they arrived on (`runWorker` makes `channel` scopes).
 *
 * @example
 * ```ts
 * import { AsyncConsumer, ChannelNameRouter } from 'switchyard';
 *
 * class ThumbnailConsumer extends AsyncConsumer {}
 * ChannelNameRouter({ 'thumbnails-generate': ThumbnailConsumer.asApp() })
 * ```
 */
export function ChannelNameRouter(apps: Record<string, Application>): Application {
  return async (scope, receive, send) => {
    const channel = (scope as ChannelScope).channel;
    if (typeof channel !== 'string') {
      throw new RouteNotFound("ChannelNameRouter got a scope with no 'channel'. Did you make sure it's only being used for 'channel' type messages?");
    }
    const app = Object.hasOwn(apps, channel) ? apps[channel] : undefined;
    if (app === undefined) throw new RouteNotFound(`No application configured for channel ${JSON.stringify(channel)}`);
    return app(scope, receive, send);
  };
}
