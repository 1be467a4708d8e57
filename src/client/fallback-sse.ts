/**
 * A server-sent events reader over a `fetch` body (EventSource cannot be
 * told not to reconnect, nor send headers, and Node 20 has none): bytes in,
 * `{ event, data }` out, by the rules of the HTML standard (lines end with
 * CRLF, LF or CR; `data:` lines join with LF; comments and `id`/`retry`
 * are skipped; an event is dispatched at a blank line).
 */

/** One dispatched event. */
export interface SseEvent { event: string; data: string }

export class SseParser {
  readonly #decoder = new TextDecoder();
  #buffer = '';
  #event = '';
  #data: string[] = [];
  /** A CR ended the last chunk: a LF starting the next belongs to it. */
  #pendingCr = false;

  /** Feeds a chunk; returns the events it completed. */
  push(chunk: Uint8Array): SseEvent[] {
    let text = this.#decoder.decode(chunk, { stream: true });
    if (this.#pendingCr && text.startsWith('\n')) text = text.slice(1);
    this.#pendingCr = false;
    this.#buffer += text;
    const events: SseEvent[] = [];
    let start = 0;
    for (let i = 0; i < this.#buffer.length; i++) {
      const c = this.#buffer.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      this.#line(this.#buffer.slice(start, i), events);
      if (c === 13) {
        if (i + 1 === this.#buffer.length) this.#pendingCr = true;
        else if (this.#buffer.charCodeAt(i + 1) === 10) i++;
      }
      start = i + 1;
    }
    this.#buffer = this.#buffer.slice(start);
    return events;
  }

  #line(line: string, events: SseEvent[]): void {
    if (line === '') {
      if (this.#data.length > 0) events.push({ event: this.#event || 'message', data: this.#data.join('\n') });
      this.#event = '';
      this.#data = [];
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.#event = value;
    else if (field === 'data') this.#data.push(value);
  }
}
