// Raw clients of the HTTP fallback's wire (no client library): an event
// stream reader, a long poller and a POST, so the server tests assert the
// wire itself. The browser and client tests use FallbackWebsocket instead.
import { SseParser, type SseEvent } from '../../src/client/fallback-sse.js';
import { eventually } from '../helpers/time.js';

export type Element = Record<string, unknown>;

/** A fallback session as the tests see it: its id, what came down so far, and how it ended. */
export interface RawSession {
  session: string;
  /** What came down after `open`, as poll elements (`{text}`, `{bytes}`, `{close}`). */
  elements: Element[];
  /** Resolves with the first element matching (now or later) and removes it. */
  next(match: (element: Element) => boolean, ms?: number): Promise<Element>;
  /** Stops reading (an SSE client leaving, or a poller that stops polling). */
  stop(): void;
}

function nextOf(elements: Element[]): RawSession['next'] {
  return async (match, ms = 5000) => {
    const found = await eventually(() => elements.find(match), ms, () => `an element; got ${JSON.stringify(elements)}`);
    elements.splice(elements.indexOf(found), 1);
    return found;
  };
}

/** `http://host/path?switchyard.transport=…` (plus `extra`). */
export function fallbackUrl(base: string, path: string, transport: 'sse' | 'poll', extra: Record<string, string> = {}): string {
  const url = new URL(path, base);
  url.searchParams.set('switchyard.transport', transport);
  for (const [key, value] of Object.entries(extra)) url.searchParams.set(key, value);
  return url.toString();
}

/** Opens an event stream; resolves once `open` came (rejects with the status when refused). */
export async function openSse(base: string, path: string, headers: Record<string, string> = {}): Promise<RawSession & { raw: SseEvent[] }> {
  const abort = new AbortController();
  const response = await fetch(fallbackUrl(base, path, 'sse'), { headers, signal: abort.signal });
  if (response.status !== 200) throw Object.assign(new Error(`HTTP ${response.status}: ${await response.text()}`), { status: response.status });
  const elements: Element[] = [];
  const raw: SseEvent[] = [];
  const parser = new SseParser();
  const reader = response.body!.getReader();
  let session = '';
  const opened = new Promise<void>((resolve, reject) => {
    void (async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          for (const event of parser.push(value)) {
            raw.push(event);
            if (event.event === 'open') {
              session = (JSON.parse(event.data) as { session: string }).session;
              resolve();
            } else if (event.event === 'message') elements.push({ text: event.data });
            else if (event.event === 'text') elements.push({ text: JSON.parse(event.data) });
            else if (event.event === 'binary') elements.push({ bytes: event.data });
            else if (event.event === 'close') elements.push({ close: JSON.parse(event.data) });
          }
        }
      } catch (err) {
        reject(err);
      }
    })();
  });
  await opened;
  return { session, elements, raw, next: nextOf(elements), stop: () => abort.abort() };
}

/** Opens a long-poll session and keeps polling until stopped or closed. */
export async function openPoll(base: string, path: string, headers: Record<string, string> = {}): Promise<RawSession & { polls: number }> {
  const first = await fetch(fallbackUrl(base, path, 'poll'), { headers });
  if (first.status !== 200) throw Object.assign(new Error(`HTTP ${first.status}: ${await first.text()}`), { status: first.status });
  const opening = (await first.json()) as Element[];
  const open = opening[0]!.open as { session: string };
  const elements: Element[] = opening.slice(1);
  let ack = opening.length;
  let stopped = false;
  const abort = new AbortController();
  const result = { session: open.session, elements, next: nextOf(elements), polls: 0, stop: () => { stopped = true; abort.abort(); } };
  void (async () => {
    while (!stopped) {
      try {
        const response = await fetch(fallbackUrl(base, path, 'poll', { 'switchyard.session': open.session, 'switchyard.ack': String(ack) }), { headers, signal: abort.signal });
        result.polls++;
        if (response.status !== 200) return;
        const batch = (await response.json()) as Element[];
        ack += batch.length;
        elements.push(...batch);
        if (batch.some((e) => 'close' in e)) return;
      } catch {
        return;
      }
    }
  })();
  return result;
}

/** POSTs frames to a session; resolves with the status and the JSON answer. */
export async function post(
  base: string, path: string, transport: 'sse' | 'poll', session: string, body: unknown, headers: Record<string, string> = {},
): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(fallbackUrl(base, path, transport, { 'switchyard.session': session }), {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}
