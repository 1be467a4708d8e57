/**
 * The HTTP fallback: the server's WebSocket consumers, reached by clients
 * that cannot open a WebSocket (a proxy that breaks them), over plain HTTP:
 * server-sent events or long polls down, POSTs up. The wire format is in
 * fallback-wire.ts, one connection in fallback-connection.ts, the ways down
 * in fallback-down.ts, the relay between processes in fallback-relay.ts.
 *
 * How it works. Requests whose query names `switchyard.transport` come here
 * before the HTTP app (server.ts). An opening GET becomes a `websocket`
 * scope, built from the request exactly as an upgrade's is (same path,
 * headers, cookies, client; the query string without the fallback's
 * parameters; `scope.extensions["switchyard.fallback"]` names the transport),
 * so the same routes and middleware run: sessions, auth, origin checks.
 * A browser sends no `Origin` on a same-origin GET, so when the request
 * carries `Sec-Fetch-Site: same-origin` (set by the browser, never by a
 * page) the scope gets the page's origin, and origin validators judge the
 * fallback as they judge a WebSocket. Every later request of the session
 * must come from the origin that opened it (a POST from another site is
 * refused: no cross-site request forgery), carry the session id (256 random
 * bits), and, for a POST, be `application/json` (which a form cannot send).
 *
 * Sessions live in the process whose GET opened them. A POST or poll that
 * reaches another process is relayed to the owner through the channel
 * layer, so no sticky sessions are needed (the event stream itself is one
 * response, held by its owner).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Header, WebsocketScope } from '../asgi.js';
import { requireValidChannelName } from '../layers/base.js';
import { elapsed, type ServerContext } from './context.js';
import { FallbackConnection, type FallbackHost } from './fallback-connection.js';
import { respondJson, type Respond } from './fallback-down.js';
import type { ResolvedFallbackOptions } from './fallback-options.js';
import { FallbackRelay, isRelayChannel, type RelayAnswer, type RelayedRequest } from './fallback-relay.js';
import {
  MalformedBody, errorBody, fallbackQuery, newToken, parsePost, parseSessionId, sessionId, type FallbackQuery, type FallbackTransportName,
} from './fallback-wire.js';
import { websocketScope } from './scope.js';
import type { WebSocketEvents } from './websocket-events.js';

const EXTENSIONS: Record<FallbackTransportName, WebsocketScope['extensions']> = {
  sse: Object.freeze({ 'websocket.http.response': Object.freeze({}), 'switchyard.fallback': Object.freeze({ transport: 'sse' }) }),
  poll: Object.freeze({ 'websocket.http.response': Object.freeze({}), 'switchyard.fallback': Object.freeze({ transport: 'poll' }) }),
};

/** The fallback of one server: its sessions, and the relay to the other processes'. */
export class FallbackTransport implements FallbackHost {
  readonly ctx: ServerContext;
  readonly options: ResolvedFallbackOptions;
  readonly events: WebSocketEvents;
  readonly #sessions = new Map<string, FallbackConnection>();
  readonly #relay: FallbackRelay;

  /** `events`: the WebSocket hub, so that fallback connections are counted and closed at shutdown like WebSockets. */
  constructor(ctx: ServerContext, events: WebSocketEvents, options: ResolvedFallbackOptions) {
    this.ctx = ctx;
    this.events = events;
    this.options = options;
    this.#relay = new FallbackRelay(ctx.logger, (request, answer) => this.#owned(request, answer), options.relayTimeout, options.layer);
  }

  /** Serves the request if it is a fallback request (returns false otherwise: the HTTP app's). */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const query = fallbackQuery(req.url ?? '/');
    if (query === null) return false;
    const start = performance.now();
    const origin = req.headers.origin;
    if (typeof origin === 'string') {
      // Cross-origin pages may use the fallback as they may open a WebSocket: the app's origin
      // check decides at the opening request, and every later request must come from that origin.
      res.setHeader('access-control-allow-origin', origin);
      res.setHeader('access-control-allow-credentials', 'true');
      res.setHeader('vary', 'origin');
    }
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { 'access-control-allow-methods': 'GET, POST', 'access-control-allow-headers': 'content-type', 'access-control-max-age': '600' });
      res.end();
      return true;
    }
    if (this.ctx.options.accessLog) {
      res.once('close', () => {
        const ms = elapsed(start);
        this.ctx.logger.info({ access: 'fallback', method: req.method, transport: query.transport, status: res.statusCode, ms }, `${req.method} fallback ${query.transport} ${res.statusCode} ${ms}ms`);
      });
    }
    this.#route(req, res, query).catch((err: unknown) => {
      this.ctx.logger.error({ err }, 'HTTP fallback request failed');
      respondJson(res, 500, errorBody('internal', 'Internal error'));
    });
    return true;
  }

  forget(token: string): void {
    this.#sessions.delete(token);
  }

  /** Stops the relay (the connections themselves are closed by the hub). */
  stop(): void {
    this.#relay.stop();
  }

  async #route(req: IncomingMessage, res: ServerResponse, query: FallbackQuery): Promise<void> {
    const transport = query.transport;
    if ((transport !== 'sse' && transport !== 'poll') || !this.options.transports.includes(transport)) {
      return respondJson(res, 400, errorBody('unknown_transport', `Unknown transport "${transport}" (offered: ${this.options.transports.join(', ')})`));
    }
    const method = req.method ?? 'GET';
    if (method === 'GET' && query.session === null) return this.#open(req, res, transport, query);
    if (method !== 'GET' && method !== 'POST') {
      res.setHeader('allow', 'GET, POST');
      return respondJson(res, 405, errorBody('method_not_allowed', `${method} is not a fallback request: GET opens or polls, POST sends`));
    }
    if (query.session === null) return respondJson(res, 400, errorBody('no_session', 'A POST needs "switchyard.session"'));
    const parsed = parseSessionId(query.session);
    if (parsed === null || (parsed.channel !== null && !validRelayChannel(parsed.channel))) {
      return respondJson(res, 404, errorBody('unknown_session', 'No such session (malformed id)'));
    }
    const origin = requestOrigin(req, this.ctx);
    if (method === 'POST') {
      const body = await this.#readBody(req, res);
      if (body === null) return;
      let posted;
      try {
        posted = parsePost(body);
      } catch (err) {
        if (err instanceof MalformedBody) return respondJson(res, 400, errorBody('malformed_body', err.message));
        throw err;
      }
      const answer = await this.#dispatch(parsed, { kind: 'frames', token: parsed.token, origin, ...posted });
      return respondJson(res, answer.status, answer.body);
    }
    if (transport !== 'poll') return respondJson(res, 400, errorBody('wrong_transport', 'Only a poll GET names a session; an event stream opens one'));
    const ack = Number(query.ack ?? 'NaN');
    if (!Number.isSafeInteger(ack) || ack < 0) return respondJson(res, 400, errorBody('bad_ack', '"switchyard.ack" must be the number of elements received so far'));
    const local = this.#sessions.get(parsed.token);
    if (local !== undefined) {
      const respond: Respond = (status, body) => respondJson(res, status, body);
      res.once('close', () => local.abandonPoll(respond));
      return local.poll(ack, origin, respond);
    }
    const answer = await this.#dispatch(parsed, { kind: 'poll', token: parsed.token, origin, ack }, this.options.pollTimeout * 1000);
    return respondJson(res, answer.status, answer.body);
  }

  /** A request for a session: handled here if it is ours, else relayed to its owner. */
  #dispatch(session: { token: string; channel: string | null }, request: RelayedRequest, extraWaitMs = 0): Promise<RelayAnswer> {
    const local = this.#sessions.get(session.token);
    if (local !== undefined) return this.#handleOwned(local, request);
    if (session.channel === null || this.#relay.isOwn(session.channel) || this.#relay.layer === null) {
      return Promise.resolve({ status: 404, body: errorBody('unknown_session', 'No such session (it ended or expired)') });
    }
    return this.#relay.forward(session.channel, request, extraWaitMs);
  }

  /** A request relayed from another process, for a session that should be here. */
  #owned(request: RelayedRequest, answer: (result: RelayAnswer) => void): void {
    const local = this.#sessions.get(request.token);
    if (local === undefined) return answer({ status: 404, body: errorBody('unknown_session', 'No such session (it ended or expired)') });
    this.#handleOwned(local, request).then(answer, (err: unknown) => {
      this.ctx.logger.error({ err }, 'HTTP fallback: a relayed request failed');
      answer({ status: 500, body: errorBody('internal', 'Internal error') });
    });
  }

  #handleOwned(conn: FallbackConnection, request: RelayedRequest): Promise<RelayAnswer> {
    if (request.kind === 'frames') return conn.post(request.seq, request.frames, request.origin);
    return new Promise((resolve) => conn.poll(request.ack, request.origin, (status, body) => resolve({ status, body })));
  }

  async #open(req: IncomingMessage, res: ServerResponse, transport: FallbackTransportName, query: FallbackQuery): Promise<void> {
    if (this.ctx.closing) return respondJson(res, 503, errorBody('server_closing', 'The server is shutting down'));
    let channel: string | null;
    try {
      channel = await this.#relay.channel();
    } catch (err) {
      // The layer is away: the session still works, for requests that reach this process.
      this.ctx.logger.warn({ err }, 'HTTP fallback: no relay channel (channel layer unavailable); this session is reachable on this process only');
      channel = null;
    }
    const token = newToken();
    const scope = websocketScope(req, this.ctx.listen, this.ctx.options, this.ctx.trusted, this.ctx.state);
    const origin = requestOrigin(req, this.ctx);
    scope.query_string = Buffer.from(query.appQuery, 'latin1');
    scope.subprotocols = query.protocols;
    scope.extensions = EXTENSIONS[transport];
    if (origin !== null && req.headers.origin === undefined) scope.headers = [...scope.headers, [Buffer.from('origin'), Buffer.from(origin, 'latin1')] as Header];
    if (res.destroyed) return;
    const conn = new FallbackConnection(this, req, res, scope, transport, token, sessionId(token, channel), origin);
    this.#sessions.set(token, conn);
  }

  /** The POST body, or null once answered 413/415/400. */
  async #readBody(req: IncomingMessage, res: ServerResponse): Promise<string | null> {
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json') {
      respondJson(res, 415, errorBody('unsupported_media_type', `A fallback POST must be application/json (got ${type === '' ? 'none' : JSON.stringify(type)})`));
      req.resume();
      return null;
    }
    const limit = this.options.maxPostSize;
    const tooBig = (): null => {
      res.setHeader('connection', 'close');
      respondJson(res, 413, errorBody('body_too_large', `The POST body is over ${limit} bytes (fallback.maxPostSize)`));
      req.resume();
      return null;
    };
    if (Number(req.headers['content-length'] ?? 0) > limit) return tooBig();
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of req as AsyncIterable<Buffer>) {
        size += chunk.byteLength;
        if (size > limit) return tooBig();
        chunks.push(chunk);
      }
    } catch {
      return null; // the client left mid-body: nothing was delivered
    }
    const body = Buffer.concat(chunks);
    const text = new TextDecoder('utf-8', { fatal: true });
    try {
      return text.decode(body);
    } catch {
      respondJson(res, 400, errorBody('malformed_body', 'The body is not valid UTF-8'));
      return null;
    }
  }
}

function validRelayChannel(channel: string): boolean {
  try {
    requireValidChannelName(channel);
  } catch {
    return false;
  }
  return isRelayChannel(channel);
}

/**
 * The request's origin: its `Origin` header, else, for a browser's
 * same-origin request (which carries none on GET), the origin it was made
 * from, `Sec-Fetch-Site: same-origin` being a header no page can set.
 */
function requestOrigin(req: IncomingMessage, ctx: ServerContext): string | null {
  const origin = req.headers.origin;
  if (typeof origin === 'string') return origin;
  if (req.headers['sec-fetch-site'] !== 'same-origin' || req.headers.host === undefined) return null;
  const forwarded = ctx.options.proxyHeaders && ctx.trusted.trusts(req.socket.remoteAddress) ? req.headers['x-forwarded-proto'] : undefined;
  const secure = typeof forwarded === 'string' && forwarded !== '' ? /^(https|wss)$/i.test(forwarded.split(',')[0]!.trim()) : ctx.listen.tls;
  const scheme = secure ? 'https' : 'http';
  return `${scheme}://${req.headers.host}`;
}
