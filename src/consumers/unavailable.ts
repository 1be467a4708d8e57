/**
 * The log line of a consumer whose channel layer is away.
 *
 * While Redis is away every send of every connection fails the same way, so
 * the failures are logged per consumer class at warn: the first in full (its
 * error as `err`), then, while they go on, a count a minute; not one line
 * per message. A repeat is recognised by the error's code, not its message:
 * one outage fails with several messages ("reconnecting", "max retries per
 * request", "not connected within 2000 ms"), still one outage.
 */
import { RepeatedErrorLog } from '../backoff.js';
import type { LayerUnavailableError } from '../errors.js';
import { logger } from '../log.js';
import type { AsyncConsumer } from './base.js';

const logs = new WeakMap<object, RepeatedErrorLog>();

/** Logs one failure of `consumer`'s class; `next` says what happens now ("the connection is kept"). */
export function logLayerUnavailable(consumer: AsyncConsumer, error: LayerUnavailableError, event: { type: string }, next: string): void {
  const consumerClass = consumer.constructor;
  let log = logs.get(consumerClass);
  if (log === undefined) {
    log = new RepeatedErrorLog(() => logger, `channel layer unavailable: a ${consumerClass.name} handler failed`, 60_000, 'warn');
    logs.set(consumerClass, log);
  }
  log.failed(error.code, { err: error, path: 'path' in consumer.scope ? consumer.scope.path : undefined, event: event.type }, next);
}
