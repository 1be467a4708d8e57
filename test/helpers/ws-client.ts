/** WebSocket clients for tests: one that opens, and one that collects the frames it receives and waits for one. */
import WebSocket from 'ws';

/** Opens a WebSocket to `url`; resolves once it is open, rejects on an error (a refused handshake). */
export function openSocket(url: string, options: WebSocket.ClientOptions = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

/** A received frame: the JSON object it carried, or `{ text }` for one that is not JSON. */
export type Frame = Record<string, unknown>;

/** A client collecting its frames in `frames`, in order. */
export interface FrameClient {
  ws: WebSocket;
  frames: Frame[];
  /** Resolves with the close code once the connection is closed. */
  closed: Promise<number>;
  /**
   * Resolves with the first frame matching `match` (now or later) and takes it
   * out of `frames`; rejects after `ms` (default 5000), or once the connection
   * is closed without one, naming `what` (default: the predicate's source) and
   * the frames received.
   */
  next(match: (frame: Frame) => boolean, ms?: number, what?: string): Promise<Frame>;
  /** Starts the closing handshake. */
  close(): void;
}

/**
 * Connects a {@link FrameClient} to `url`; resolves once the socket is open,
 * rejects when the handshake is refused (naming the HTTP status) or fails.
 *
 * @example const client = await frameClient(url); await client.next((f) => f.type === 'connection_established');
 */
export async function frameClient(url: string, options: WebSocket.ClientOptions = {}): Promise<FrameClient> {
  const ws = new WebSocket(url, options);
  const frames: Frame[] = [];
  const waiters = new Set<() => void>();
  const wake = (): void => { for (const waiter of [...waiters]) waiter(); };
  ws.on('message', (data: Buffer) => {
    const text = data.toString();
    try { frames.push(JSON.parse(text) as Frame); } catch { frames.push({ text }); }
    wake();
  });
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => { resolve(code); wake(); }));
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('unexpected-response', (_req, res) => { reject(new Error(`handshake refused: ${res.statusCode}`)); res.resume(); });
    ws.once('error', reject);
  });
  const next = (match: (frame: Frame) => boolean, ms = 5000, what = `a frame matching ${String(match)}`): Promise<Frame> =>
    new Promise((resolve, reject) => {
      const fail = (why: string): void => {
        waiters.delete(check);
        clearTimeout(timer);
        reject(new Error(`${why} waiting for ${what}; frames received: ${JSON.stringify(frames)}`));
      };
      const check = (): void => {
        const index = frames.findIndex(match);
        if (index !== -1) {
          waiters.delete(check);
          clearTimeout(timer);
          resolve(frames.splice(index, 1)[0]!);
        } else if (ws.readyState === WebSocket.CLOSED) fail('closed');
      };
      const timer = setTimeout(() => fail(`timed out after ${ms} ms`), ms);
      waiters.add(check);
      check();
    });
  return { ws, frames, closed, next, close: () => ws.close() };
}
