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
  /**
   * Resolves with the first frame matching `match` (now or later) and takes it
   * out of `frames`; rejects after `ms` (default 5000) naming `what` (default:
   * the predicate's source) and the frames received.
   */
  next(match: (frame: Frame) => boolean, ms?: number, what?: string): Promise<Frame>;
}

/**
 * Connects a {@link FrameClient} to `url`; resolves once the socket is open.
 *
 * @example const client = await frameClient(url); await client.next((f) => f.type === 'connection_established');
 */
export async function frameClient(url: string, options: WebSocket.ClientOptions = {}): Promise<FrameClient> {
  const ws = new WebSocket(url, options);
  const frames: Frame[] = [];
  const waiters = new Set<() => void>();
  ws.on('message', (data: Buffer) => {
    const text = data.toString();
    try { frames.push(JSON.parse(text) as Frame); } catch { frames.push({ text }); }
    for (const wake of [...waiters]) wake();
  });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const next = (match: (frame: Frame) => boolean, ms = 5000, what = `a frame matching ${String(match)}`): Promise<Frame> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const index = frames.findIndex(match);
        if (index === -1) return;
        waiters.delete(check);
        clearTimeout(timer);
        resolve(frames.splice(index, 1)[0]!);
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`timed out after ${ms} ms waiting for ${what}; frames received: ${JSON.stringify(frames)}`));
      }, ms);
      waiters.add(check);
      check();
    });
  return { ws, frames, next };
}
