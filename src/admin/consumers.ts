/**
 * The dashboard's two consumers: the page and its JSON snapshot over HTTP
 * ({@link DashboardHttpConsumer}), live updates and actions over a
 * WebSocket ({@link DashboardConsumer}, a `JsonWebsocketConsumer`).
 *
 * Every request, every WebSocket handshake and every action asks
 * `authorize(scope)` again: a user who lost the right between loading the
 * page and clicking a button is refused. Only the page's script and style
 * (static code, no data) are served to anyone.
 */
import type { HttpScope, LayerMessage, WebsocketScope } from '../asgi.js';
import { HttpConsumer } from '../consumers/http.js';
import { JsonWebsocketConsumer } from '../consumers/json.js';
import { requireValidChannelName, requireValidGroupName } from '../layers/base.js';
import { logger } from '../log.js';
import type { ClusterSnapshot, ClusterView } from './cluster-view.js';
import { pageFile } from './page.js';
import { ADMIN_CLOSE } from './reporter.js';

/** Decides whether a request or connection may see the dashboard (and act). */
export type Authorize = (scope: HttpScope | WebsocketScope) => boolean | Promise<boolean>;

/** What the consumers of one dashboard share. */
export interface DashboardContext {
  authorize: Authorize;
  view: ClusterView;
}

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

const FORBIDDEN_PAGE = '<!doctype html><meta charset="utf-8"><title>403 Forbidden</title><h1>403 Forbidden</h1><p>You are not allowed to see the realtime dashboard.</p>\n';

/** `authorize(scope)`, with an error counted as a refusal (and logged: a broken check must be seen). */
async function allowed(authorize: Authorize, scope: HttpScope | WebsocketScope): Promise<boolean> {
  try {
    return (await authorize(scope)) === true;
  } catch (error) {
    logger.error({ err: error, path: scope.path }, 'admin: authorize() threw; access refused');
    return false;
  }
}

/** Who acts, for the log: the scope's user name when there is one. */
function actor(scope: HttpScope | WebsocketScope): string | null {
  const user = (scope as { user?: { username?: unknown } }).user;
  return typeof user?.username === 'string' ? user.username : null;
}

/**
 * The page (`index.html`), its script and style, and `snapshot.json`; the
 * file is the route's `file` kwarg.
 */
export class DashboardHttpConsumer extends HttpConsumer {
  /** Set by `asApp({ admin })`. */
  admin!: DashboardContext;

  override async handle(): Promise<void> {
    const scope = this.scope as HttpScope;
    const file = String(scope.urlRoute?.kwargs.file ?? 'index.html');
    const method = scope.method.toUpperCase();
    if (method !== 'GET' && method !== 'HEAD') {
      return this.sendResponse(405, 'Method Not Allowed\n', { headers: { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' } });
    }
    const isStatic = file === 'dashboard.js' || file === 'dashboard.css';
    if (!isStatic && !(await allowed(this.admin.authorize, scope))) {
      logger.info({ path: scope.path, client: scope.client?.[0] ?? null }, 'admin: dashboard request refused (403)');
      return this.sendResponse(403, FORBIDDEN_PAGE, { headers: { ...SECURITY_HEADERS, 'content-type': 'text/html; charset=utf-8' } });
    }
    if (file === 'snapshot.json') {
      const view = this.admin.view;
      view.touch();
      await view.ready();
      return this.sendResponse(200, JSON.stringify(view.snapshot()), { headers: { ...SECURITY_HEADERS, 'content-type': 'application/json' } });
    }
    const { body, contentType } = await pageFile(file);
    await this.sendResponse(200, body, { headers: { ...SECURITY_HEADERS, 'content-type': contentType } });
  }
}

/** An action the page asks for. */
type ActionRequest =
  | { type: 'disconnect'; id?: string; channel: string; reason?: string }
  | { type: 'close_group'; id?: string; group: string; code?: number; reason?: string }
  | { type: 'members'; id?: string; group: string };

/** The answer to an action: `ok`, and what was done or what was wrong. */
interface ActionResult { type: 'admin.result'; id: string; action: string; ok: boolean; message: string }

/** A close reason must fit a close frame (123 bytes of UTF-8). */
function reasonOf(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') throw new TypeError('reason must be a string');
  if (Buffer.byteLength(value) > 123) throw new TypeError('reason must be at most 123 bytes of UTF-8');
  return value;
}

/**
 * Live updates (a snapshot every interval) and actions, for an authorized
 * user; anyone else's handshake is refused (403).
 *
 * Actions (JSON frames from the page), each authorized again and answered
 * with `{"type": "admin.result", "id", "ok", "message"}`:
 * - `{"type": "disconnect", "channel"}`: that connection, wherever it is, is
 *   sent `websocket.admin_close` and closes with 4000;
 * - `{"type": "close_group", "group", "code", "reason"}`: every process
 *   closes its members of the group with `code` (4000-4999) and `reason`;
 * - `{"type": "members", "group"}`: every process answers with its members'
 *   channels (`{"type": "admin.members", "process", "group", "total", "members"}`).
 */
export class DashboardConsumer extends JsonWebsocketConsumer {
  /** Set by `asApp({ admin })`. */
  admin!: DashboardContext;
  #release: () => void = () => {};
  #unsubscribe: () => void = () => {};

  override async connect(): Promise<void> {
    const scope = this.scope as WebsocketScope;
    if (!(await allowed(this.admin.authorize, scope))) {
      logger.info({ path: scope.path, client: scope.client?.[0] ?? null }, 'admin: dashboard WebSocket refused (403)');
      return this.close();
    }
    await this.accept();
    const view = this.admin.view;
    this.#release = view.acquire();
    await view.ready();
    await this.sendJson(view.snapshot());
    this.#unsubscribe = view.subscribe((snapshot) => this.#push(snapshot));
  }

  #push(snapshot: ClusterSnapshot): void {
    this.sendJson(snapshot).catch(() => {}); // the connection may be closing
  }

  override async receiveJson(content: unknown): Promise<void> {
    const request = (typeof content === 'object' && content !== null ? content : {}) as Partial<ActionRequest> & { type?: unknown; id?: unknown };
    const id = typeof request.id === 'string' ? request.id : '';
    const action = typeof request.type === 'string' ? request.type : '';
    const answer = (ok: boolean, message: string): Promise<void> => this.sendJson({ type: 'admin.result', id, action, ok, message } satisfies ActionResult);
    const scope = this.scope as WebsocketScope;
    if (!(await allowed(this.admin.authorize, scope))) {
      logger.warn({ action, user: actor(scope) }, 'admin: action refused: not authorized');
      return answer(false, 'Not authorized');
    }
    try {
      const message = await this.#act(request as ActionRequest);
      logger.info({ action, user: actor(scope), request }, `admin: ${message}`);
      await answer(true, message);
    } catch (error) {
      await answer(false, error instanceof Error ? error.message : String(error));
    }
  }

  async #act(request: ActionRequest): Promise<string> {
    const layer = this.channelLayer;
    if (layer === null) throw new Error('No channel layer');
    const processes = this.admin.view.liveProcesses();
    switch (request.type) {
      case 'disconnect': {
        requireValidChannelName(request.channel);
        const close: LayerMessage = { type: ADMIN_CLOSE, code: 4000, reason: reasonOf(request.reason ?? 'Disconnected by an administrator') };
        await layer.send(request.channel, close);
        return `close sent to ${request.channel}`;
      }
      case 'close_group': {
        requireValidGroupName(request.group);
        const code = request.code ?? 4000;
        if (!Number.isInteger(code) || code < 4000 || code > 4999) throw new TypeError('code must be an integer from 4000 to 4999');
        const reason = reasonOf(request.reason);
        await Promise.all(processes.map((p) => layer.send(p.channel, { type: 'admin.close_group', group: request.group, code, reason })));
        return `closing the connections of ${request.group} on ${processes.length} process(es)`;
      }
      case 'members': {
        requireValidGroupName(request.group);
        await Promise.all(processes.map((p) => layer.send(p.channel, {
          type: 'admin.members', group: request.group, reply_to: this.channelName, request: typeof request.id === 'string' ? request.id : '',
        })));
        return `asked ${processes.length} process(es) for the members of ${request.group}`;
      }
      default:
        throw new TypeError(`Unknown action ${JSON.stringify((request as { type?: unknown }).type)}`);
    }
  }

  /** A process's answer to a `members` action, passed on to the page. */
  async admin_members(event: LayerMessage): Promise<void> {
    await this.sendJson(event);
  }

  override async disconnect(): Promise<void> {
    this.#stop();
  }

  protected override async cleanup(): Promise<void> {
    this.#stop();
  }

  #stop(): void {
    this.#unsubscribe();
    this.#release();
    this.#unsubscribe = () => {};
    this.#release = () => {};
  }
}
