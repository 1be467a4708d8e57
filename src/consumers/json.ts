/**
 * `JsonWebsocketConsumer`: JSON in, JSON out, over text frames.
 *
 * Bad input has one defined outcome, and the connection survives it: a frame
 * that is not valid JSON, a binary frame or an empty frame never reaches
 * `receiveJson`; it goes to `receiveInvalid(problem, data)`, which by default
 * logs it and sends `{"type": "error", "message": ...}` to the client
 * (`"Invalid JSON format"` for unparsable text). Override `receiveInvalid` to
 * do otherwise (close with 1003, ignore...). Django raises instead, which
 * kills the consumer.
 *
 * Group events render as `WebsocketConsumer`'s do: by a method named for
 * the type, or by the class's static `renders` (rendered once per broadcast).
 */
import type { LayerMessage } from '../asgi.js';
import { logger } from '../log.js';
import { WebsocketConsumer } from './websocket.js';

/** Why a frame did not reach `receiveJson`. */
export type InvalidFrameProblem = 'invalid_json' | 'binary_frame' | 'empty_frame';

const problemMessages: Record<InvalidFrameProblem, string> = {
  invalid_json: 'Invalid JSON format',
  binary_frame: 'Binary frames are not accepted; send JSON text',
  empty_frame: 'Empty frame; send JSON text',
};

/**
 * A WebSocket consumer that speaks JSON.
 *
 * @example
 * ```ts
 * import { JsonWebsocketConsumer } from 'switchyard';
 *
 * class Echo extends JsonWebsocketConsumer {
 *   override async receiveJson(content: unknown) { await this.sendJson({ echo: content }); }
 * }
 * ```
 *
 * @example A declared render, as JSON
 * ```ts
 * import { JsonWebsocketConsumer } from 'switchyard';
 *
 * class Ticker extends JsonWebsocketConsumer {
 *   static override groups = ['ticks'];
 *   static override renders = { tick: (e: { type: 'tick'; value: number }) => JSON.stringify({ value: e.value }) };
 * }
 * ```
 */
export class JsonWebsocketConsumer extends WebsocketConsumer {
  override async receive(data: string | Uint8Array): Promise<void> {
    if (typeof data !== 'string') return this.receiveInvalid('binary_frame', data);
    if (data === '') return this.receiveInvalid('empty_frame', data);
    let content: unknown;
    try {
      content = this.decodeJson(data);
    } catch {
      return this.receiveInvalid('invalid_json', data);
    }
    await this.receiveDecoded(content);
  }

  /** Hands a decoded message on: to `receiveJson` here; `TypedJsonConsumer` validates it first. */
  protected receiveDecoded(content: unknown): Promise<void> {
    return this.receiveJson(content);
  }

  /** Called with each decoded message. */
  async receiveJson(_content: unknown): Promise<void> {}

  /** Called instead of `receiveJson` for a frame that is not JSON text; the connection stays open. */
  async receiveInvalid(problem: InvalidFrameProblem, data: string | Uint8Array): Promise<void> {
    logger.debug({ problem, size: typeof data === 'string' ? data.length : data.byteLength, path: this.scope.path }, 'invalid frame');
    await this.sendJson({ type: 'error', message: problemMessages[problem] });
  }

  /** Sends `content` as a JSON text frame; with `close`, closes afterwards. */
  sendJson(content: unknown, close: boolean | number = false): Promise<void> {
    let text: string;
    try {
      text = this.encodeJson(content);
    } catch (error) {
      return Promise.reject(error); // as from an async method: a value JSON cannot encode rejects
    }
    return this.send(text, close);
  }

  /**
   * Sends a layer event (or `pick(event)`) as JSON.
   *
   * @deprecated Declare the render instead (`static renders = { tick: (e) => JSON.stringify(...) }`),
   * or write the handler plainly (`await this.sendJson(pick(event))`).
   */
  async forwardJson<E extends LayerMessage>(event: E, pick?: (event: E) => unknown): Promise<void> {
    await this.sendJson(pick === undefined ? event : pick(event));
  }

  /** Parses a text frame; override for another format. */
  decodeJson(text: string): unknown {
    return JSON.parse(text);
  }

  /** Serializes a message; override for another format. */
  encodeJson(content: unknown): string {
    return JSON.stringify(content);
  }
}
