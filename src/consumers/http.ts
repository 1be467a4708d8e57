/**
 * `HttpConsumer`: Django's `AsyncHttpConsumer`, for responses that stream.
 *
 * The request body is collected from `http.request` events and `handle(body)`
 * is called once it is complete. Unlike Django, the instance lives on while
 * the response is still open: `handle()` may send headers and a first chunk
 * with `moreBody: true` and return, and later layer events (a `chat_message`
 * handler) continue the response. That is what Server-Sent Events and
 * long-polling need (Django's documented long-poll example cannot work
 * because its consumer stops when `handle()` returns). The instance ends when
 * the last body chunk is sent (`moreBody: false`) or the client goes away.
 *
 * A channel layer that is away (`LayerUnavailableError` escaping `handle()`
 * or a layer event's handler) is answered 503 while the response has not
 * started, and logged at warn once per outage; a response under way cannot
 * change its status, so the instance ends with the error (the server cuts
 * the response short).
 */
import { type HeadersInit, type HttpRequestEvent, toHeaders } from '../asgi.js';
import { type LayerUnavailableError, ProtocolError, StopConsumer } from '../errors.js';
import { AsyncConsumer, type ConsumerEvent } from './base.js';
import { logLayerUnavailable } from './unavailable.js';

/** Options of {@link HttpConsumer.sendBody}. */
export interface SendBodyOptions {
  /** More chunks follow (ASGI's `more_body`): the response stays open. Default `false`. */
  moreBody?: boolean;
  /** @deprecated Renamed `moreBody` (ASGI's `more_body`, in camelCase). */
  more?: boolean;
}

/**
 * An HTTP consumer: implement `handle(body)`.
 *
 * @example Server-Sent Events fed by a group
 * ```ts
 * import { HttpConsumer } from 'switchyard';
 *
 * class Ticker extends HttpConsumer {
 *   override async handle() {
 *     await this.sendHeaders({ headers: { 'content-type': 'text/event-stream' } });
 *     await this.sendBody('', { moreBody: true });
 *     await this.channelLayer!.groupAdd('ticks', this.channelName);
 *   }
 *   async tick(event: { value: number }) {
 *     await this.sendBody(`data: ${event.value}\n\n`, { moreBody: true });
 *   }
 * }
 * ```
 */
export class HttpConsumer extends AsyncConsumer {
  #chunks: Uint8Array[] = [];
  #started = false;
  #finished = false;

  /** Collects the body; once complete, calls `handle()` and ends the instance if the response is done. */
  async http_request(event: HttpRequestEvent): Promise<void> {
    if (event.body !== undefined && event.body.byteLength > 0) this.#chunks.push(event.body);
    if (event.more_body) return;
    // Layer events may continue the response while handle() is still running.
    this.openLayerLane();
    try {
      await this.handle(Buffer.concat(this.#chunks));
    } catch (error) {
      await this.disconnect();
      throw error;
    }
    if (this.#finished) {
      await this.disconnect();
      throw new StopConsumer();
    }
  }

  /** The client went away: calls `disconnect()` and ends the instance. */
  async http_disconnect(): Promise<void> {
    await this.disconnect();
    throw new StopConsumer();
  }

  /** Produces the response. The default answers 405, as a view with no method handler would. */
  async handle(_body: Uint8Array): Promise<void> {
    await this.sendResponse(405, 'Method Not Allowed', { headers: { 'content-type': 'text/plain; charset=utf-8' } });
  }

  /** Called when the instance ends (response done or client gone). Do not send from it. */
  async disconnect(): Promise<void> {}

  /**
   * Called when a handler lets a `LayerUnavailableError` escape (Redis away).
   * The default answers 503 if the response has not started, else ends the
   * instance with the error. Override to answer otherwise.
   */
  override async layerUnavailable(error: LayerUnavailableError, event: ConsumerEvent): Promise<void> {
    if (this.#started) throw error;
    logLayerUnavailable(this, error, event, 'answered 503');
    await this.sendResponse(503, 'Service Unavailable\n', { headers: { 'content-type': 'text/plain; charset=utf-8' } });
  }

  /** Starts the response. */
  async sendHeaders({ status = 200, headers }: { status?: number; headers?: HeadersInit } = {}): Promise<void> {
    if (this.#started) throw new ProtocolError('Response headers were already sent');
    this.#started = true;
    await this.baseSend({ type: 'http.response.start', status, headers: toHeaders(headers) });
  }

  /**
   * Sends a body chunk; `moreBody: true` (ASGI's `more_body`) keeps the
   * response open for more chunks.
   */
  async sendBody(body: string | Uint8Array, options: SendBodyOptions = {}): Promise<void> {
    const more = options.moreBody ?? options.more ?? false;
    if (!this.#started) throw new ProtocolError('sendBody() before sendHeaders()');
    if (this.#finished) throw new ProtocolError('The response is already complete');
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    await this.baseSend({ type: 'http.response.body', body: bytes, more_body: more });
    if (!more) {
      this.#finished = true;
      // Finished from a layer event after handle() returned: end once this handler returns.
      this.stopAfterHandler();
    }
  }

  /** Sends a complete response in one go. */
  async sendResponse(status: number, body: string | Uint8Array, options: { headers?: HeadersInit } = {}): Promise<void> {
    await this.sendHeaders({ status, headers: options.headers });
    await this.sendBody(body);
  }
}
