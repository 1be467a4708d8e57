/**
 * The promise a send answers with when it was complete before it returned.
 *
 * Why one shared promise. A group broadcast calls `send()` once per local
 * member, and Switchyard's server writes each frame before `send()` returns:
 * the promise it gives back is already settled. Answering every such send
 * with this one object costs no promise per frame, and lets the consumer's
 * layer lane see that the handler is done and serve the next message at
 * once, instead of waiting a microtask on `.then()` (`consumers/lanes.ts`).
 *
 * This is a convention between Switchyard's own server, middleware and
 * consumers, invisible to the ASGI contract: to any other code it is a
 * resolved promise like any other, and a send that answers with a promise
 * of its own is simply waited for.
 */
export const SETTLED: Promise<void> = Promise.resolve();
