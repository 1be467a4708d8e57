/**
 * A tiny typed event emitter, the same in browsers and Node.
 *
 * Why not `EventTarget`: its listeners receive `Event` objects, so typed
 * payloads need `CustomEvent` subclasses and casts at every call site. Here a
 * listener gets the payload itself, typed by the event name.
 *
 * A listener that throws does not stop the others: the error is rethrown in a
 * microtask, where it surfaces as an uncaught error (as `EventTarget` reports
 * it), instead of unwinding the socket callback that emitted the event.
 *
 * @internal
 */
export type Listener<T> = (payload: T) => void;

export class Emitter<Events extends object> {
  #listeners = new Map<keyof Events, Set<Listener<never>>>();

  /**
   * Calls `listener` every time `type` is emitted. Returns a function that removes it.
   *
   * @example
   * ```ts
   * import { ReconnectingWebsocket } from 'switchyard/client';
   *
   * const client = new ReconnectingWebsocket('wss://chat.example.com/ws/chat/lobby/');
   * const stop = client.on('message', ({ data }) => console.log(data));
   * stop(); // no more calls
   * ```
   */
  on<K extends keyof Events>(type: K, listener: Listener<Events[K]>): () => void {
    let set = this.#listeners.get(type);
    if (!set) this.#listeners.set(type, (set = new Set()));
    set.add(listener as Listener<never>);
    return () => this.off(type, listener);
  }

  /** Calls `listener` the next time `type` is emitted, once. Returns a function that removes it. */
  once<K extends keyof Events>(type: K, listener: Listener<Events[K]>): () => void {
    const off = this.on(type, (payload) => {
      off();
      listener(payload);
    });
    return off;
  }

  /** Removes a listener added with {@link on}. Removing one that is not there does nothing. */
  off<K extends keyof Events>(type: K, listener: Listener<Events[K]>): void {
    this.#listeners.get(type)?.delete(listener as Listener<never>);
  }

  /** @internal */
  protected emit<K extends keyof Events>(type: K, payload: Events[K]): void {
    const set = this.#listeners.get(type);
    if (!set) return;
    // Copy first: a listener may add or remove listeners while we iterate.
    for (const listener of [...set] as Listener<Events[K]>[]) {
      try {
        listener(payload);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}
