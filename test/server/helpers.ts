// Shared helpers for the server's integration tests: a server on port 0 with
// its log lines captured, servers closed after a describe block, bytes and text.
import { after } from 'node:test';
import type { WebSocket } from 'ws';
import type { Application, ReceiveEvent, Send } from 'switchyard';
import { serve, type Server, type ServerOptions } from 'switchyard/server';
import { pinoInto, type LogLine } from '../helpers/logs.js';

export interface TestServer extends Server { logs: LogLine[]; port: number }

/** Starts `app` on 127.0.0.1:0 with logs captured in `server.logs`. */
export async function start(app: Application, options: ServerOptions = {}): Promise<TestServer> {
  const { logger, lines: logs } = pinoInto('debug');
  const server = await serve(app, { port: 0, logger, shutdownTimeout: 2, ...options });
  const port = typeof server.address === 'string' ? 0 : server.address.port;
  return Object.assign(server, { logs, port });
}

/**
 * A WebSocket app that accepts, then hands every event (the disconnect
 * included, last) to `onEvent`, one at a time, and returns after the disconnect.
 */
export function acceptingApp(onEvent: (event: ReceiveEvent, send: Send) => unknown): Application {
  return async (scope, receive, send) => {
    if (scope.type !== 'websocket') return;
    await receive();
    await send({ type: 'websocket.accept' });
    for (;;) {
      const event = await receive() as ReceiveEvent;
      await onEvent(event, send);
      if (event.type === 'websocket.disconnect') return;
    }
  };
}

/** A promise with its resolver exposed. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => { resolve = r; });
  return { promise, resolve };
}

export const text = (value: Uint8Array | undefined | null): string => Buffer.from(value ?? new Uint8Array()).toString('utf8');
export const bytes = (value: string): Uint8Array => Buffer.from(value, 'utf8');

/**
 * Servers and clients of one `describe` block, closed after it: `serve()`
 * starts a server, and clients pushed onto `clients` are terminated.
 */
export function serverPool(): { serve: (app: Application, options?: ServerOptions) => Promise<TestServer>; clients: WebSocket[] } {
  const servers: TestServer[] = [];
  const clients: WebSocket[] = [];
  after(async () => {
    for (const c of clients) c.terminate();
    await Promise.all(servers.map((s) => s.close({ timeout: 1 })));
  });
  const serve = async (app: Application, options: ServerOptions = {}): Promise<TestServer> => {
    const server = await start(app, options);
    servers.push(server);
    return server;
  };
  return { serve, clients };
}
