/**
 * ASGI lifespan: `lifespan.startup` before the server listens and
 * `lifespan.shutdown` after it drained.
 *
 * How it works. The app gets one long-lived `lifespan` scope. In `auto` mode
 * an app that raises before it ever called `receive()` (a
 * `ProtocolTypeRouter` without a `lifespan` branch raises "No application
 * configured..."), that has no handler for `lifespan.startup` (a consumer
 * class served directly), or that answers with a non-lifespan event, does not
 * support lifespan: that is logged at debug level
 * and the server runs without it, as Uvicorn does. An app that read
 * `lifespan.startup` and then fails, or answers `lifespan.startup.failed`,
 * stops the server with {@link LifespanError} (the CLI exits non-zero).
 */
import type { Logger } from 'pino';
import type { Application, LifespanScope, ReceiveEvent, SendEvent } from '../asgi.js';
import { LifespanError, NoHandlerError, ProtocolError } from '../errors.js';

// Defined with every other error in errors.ts; re-exported where it always was.
export { LifespanError };

type Outcome = { ok: true } | { ok: false; message: string; cause?: unknown };

/** One app instance serving the lifespan scope. */
export class Lifespan {
  readonly #app: Application;
  readonly #logger: Logger;
  readonly #mode: 'auto' | 'on';
  readonly state: Record<string, unknown> = {};
  #inbox: ReceiveEvent[] = [];
  #wake: ((event: ReceiveEvent) => void) | null = null;
  #received = false;
  /** The app sent a non-lifespan event: it does not know the lifespan scope. */
  #misused = false;
  #unsupported = false;
  #outcome: ((outcome: Outcome) => void) | null = null;
  #task: Promise<void> | null = null;
  #running = false;

  constructor(app: Application, logger: Logger, mode: 'auto' | 'on') {
    this.#app = app;
    this.#logger = logger;
    this.#mode = mode;
  }

  /** Whether the app took part in lifespan. */
  get supported(): boolean { return this.#running && !this.#unsupported; }

  #push(event: ReceiveEvent): void {
    const wake = this.#wake;
    this.#wake = null;
    if (wake !== null) wake(event);
    else this.#inbox.push(event);
  }

  readonly #receive = (): Promise<ReceiveEvent> => {
    this.#received = true;
    const next = this.#inbox.shift();
    if (next !== undefined) return Promise.resolve(next);
    return new Promise((resolve) => { this.#wake = resolve; });
  };

  readonly #send = async (event: SendEvent): Promise<void> => {
    switch (event.type) {
      case 'lifespan.startup.complete':
      case 'lifespan.shutdown.complete':
        return this.#settle({ ok: true });
      case 'lifespan.startup.failed':
      case 'lifespan.shutdown.failed':
        return this.#settle({ ok: false, message: event.message ?? '' });
      default:
        this.#misused = true;
        throw new ProtocolError(`Unexpected ASGI message '${event.type}' for the lifespan scope`);
    }
  };

  #settle(outcome: Outcome): void {
    const settle = this.#outcome;
    this.#outcome = null;
    settle?.(outcome);
  }

  #step(event: ReceiveEvent): Promise<Outcome> {
    return new Promise<Outcome>((resolve) => {
      this.#outcome = resolve;
      this.#push(event);
    });
  }

  /** Runs startup; throws {@link LifespanError} when the app reports or raises a failure. */
  async startup(): Promise<void> {
    const scope: LifespanScope = { type: 'lifespan', asgi: { version: '3.0', spec_version: '2.0' }, state: this.state };
    this.#running = true;
    const outcome = this.#step({ type: 'lifespan.startup' });
    this.#task = this.#app(scope, this.#receive, this.#send).then(
      () => {
        // Returning without answering is how simple apps say "no lifespan here".
        if (this.#outcome !== null) {
          this.#unsupported = true;
          if (this.#mode === 'on') this.#settle({ ok: false, message: 'the application returned without answering lifespan.startup' });
          else {
            this.#logger.debug("ASGI 'lifespan' protocol appears unsupported (the application returned)");
            this.#settle({ ok: true });
          }
        }
      },
      (err: unknown) => {
        const noStartupHandler = err instanceof NoHandlerError && err.type === 'lifespan.startup';
        if ((!this.#received || this.#misused || noStartupHandler) && this.#mode === 'auto') {
          this.#unsupported = true;
          this.#logger.debug({ reason: (err as Error)?.message }, "ASGI 'lifespan' protocol appears unsupported");
          this.#settle({ ok: true });
          return;
        }
        this.#settle({ ok: false, message: (err as Error)?.message ?? String(err), cause: err });
      },
    );
    const result = await outcome;
    if (!result.ok) {
      throw new LifespanError(`Lifespan startup failed${result.message ? `: ${result.message}` : ''}`, { cause: result.cause });
    }
  }

  /** Runs shutdown (when startup ran and the app supports lifespan), bounded by `timeoutMs`. */
  async shutdown(timeoutMs: number): Promise<void> {
    if (!this.supported || this.#task === null) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<Outcome>((resolve) => {
      timer = setTimeout(() => resolve({ ok: false, message: `no answer within ${timeoutMs} ms` }), timeoutMs);
    });
    const result = await Promise.race([this.#step({ type: 'lifespan.shutdown' }), timeout]);
    clearTimeout(timer);
    if (!result.ok) {
      this.#logger.error({ err: result.cause }, `Lifespan shutdown failed${result.message ? `: ${result.message}` : ''}`);
    }
  }
}
