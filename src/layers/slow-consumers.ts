/**
 * Slow consumers: what a channel's mailbox does when its consumer cannot
 * keep up (Centrifugo's "slow" disconnect, Phoenix's fastlane drops).
 *
 * A consumer that cannot keep up (its socket does not drain, so its layer
 * lane waits, see the server's `websocket.send`) leaves messages queued on
 * its channel. By Django's rule a full channel skips group messages (and a
 * `send()` raises `ChannelFull`): the newest are lost. A consumer class can
 * choose instead, per group pattern (`static slowConsumer`):
 *
 * - `'drop-oldest'`: the oldest queued message makes room (a bounded queue
 *   that keeps the freshest); with recovery on, the client later gets what
 *   was dropped from the history, so nothing is lost while the window holds.
 * - `{ coalesce: 'symbol' }` (a field name, or a function of the message):
 *   a message replaces the queued one with the same key, latest value wins,
 *   for dashboards; past capacity the oldest goes.
 * - `'disconnect'`: the connection is closed with {@link SLOW_CONSUMER_CLOSE_CODE}
 *   and reason `slow consumer`, so the client reconnects (and recovers).
 * - `'drop-newest'`: Django's rule, the default.
 *
 * Memory stays bounded in every mode (the channel's capacity). Each action is
 * counted ({@link slowConsumerActions}); the server exports the counts.
 */
import type { LayerMessage } from '../asgi.js';
import { globToRegExp } from './base.js';
import { positionOf } from './history.js';

/** What a mailbox does with a message for a consumer that cannot keep up. */
export type SlowConsumerPolicy =
  | 'drop-newest'
  | 'drop-oldest'
  | 'disconnect'
  | { coalesce: string | ((message: LayerMessage) => unknown) };

/** Close code of a connection closed by the `disconnect` policy (private range). */
export const SLOW_CONSUMER_CLOSE_CODE = 4008;

/** The policy of a consumer class: one for every group, or one per group pattern (fnmatch globs, first match wins; `*` for the rest). */
export type SlowConsumerConfig = SlowConsumerPolicy | Readonly<Record<string, SlowConsumerPolicy>>;

/** The action names, as counted. */
export type SlowConsumerAction = 'drop-newest' | 'drop-oldest' | 'coalesce' | 'disconnect';

const counts: Record<SlowConsumerAction, number> = { 'drop-newest': 0, 'drop-oldest': 0, coalesce: 0, disconnect: 0 };

/** How many times each policy acted in this process since it started. */
export function slowConsumerActions(): Readonly<Record<SlowConsumerAction, number>> {
  return counts;
}

/** Counts an action (a layer's own drop of the newest message counts as `drop-newest`). */
export function countSlowConsumerAction(action: SlowConsumerAction): void {
  counts[action]++;
}

/** A policy made ready: its kind, and for `coalesce` the key of a message. */
export interface ResolvedPolicy {
  kind: SlowConsumerAction;
  key: ((message: LayerMessage) => unknown) | null;
}

/** What a tapped mailbox asks of its consumer. */
export interface SlowConsumer {
  /** The policy for a message (by its group: `group` when the layer knows it), or null for the layer's own rule. */
  policyFor(message: LayerMessage, group?: string): ResolvedPolicy | null;
  /** The `disconnect` policy acted: called once per message it refused. */
  tooSlow(): void;
}

function resolve(policy: SlowConsumerPolicy): ResolvedPolicy {
  if (typeof policy === 'string') {
    if (policy !== 'drop-newest' && policy !== 'drop-oldest' && policy !== 'disconnect') {
      throw new TypeError(`slowConsumer policy must be 'drop-newest', 'drop-oldest', 'disconnect' or { coalesce }, not ${JSON.stringify(policy)}`);
    }
    return { kind: policy, key: null };
  }
  const by = policy?.coalesce;
  if (typeof by === 'string') return { kind: 'coalesce', key: (message) => (message as Record<string, unknown>)[by] };
  if (typeof by === 'function') return { kind: 'coalesce', key: by };
  throw new TypeError('slowConsumer { coalesce } takes a field name or a function of the message');
}

const compiled = new WeakMap<object, (group: string | null) => ResolvedPolicy | null>();

/** Compiles a class's `slowConsumer` once: the policy of a message's group (see {@link groupOf}), or null. */
export function compileSlowConsumer(config: SlowConsumerConfig): (group: string | null) => ResolvedPolicy | null {
  if (typeof config === 'object' && config !== null && !('coalesce' in config)) {
    const cached = compiled.get(config);
    if (cached !== undefined) return cached;
    const rules = Object.entries(config).map(([pattern, policy]) => [globToRegExp(pattern), resolve(policy)] as const);
    const fallback = rules.find(([re]) => re.source === '^(?:.*)$')?.[1] ?? null;
    const byGroup = (group: string | null) => {
      if (group === null) return fallback;
      for (const [re, policy] of rules) if (re.test(group)) return policy;
      return null;
    };
    compiled.set(config, byGroup);
    return byGroup;
  }
  const single = resolve(config as SlowConsumerPolicy);
  return () => single;
}

/**
 * The group a message came through: as the layer knows it (the in-memory and
 * pub/sub layers do), else its history stamp, else the only group its
 * consumer is in (the core Redis layer's process keys do not say).
 */
export function groupOf(message: LayerMessage, joined: readonly string[], known?: string): string | null {
  return known ?? positionOf(message)?.group ?? (joined.length === 1 ? joined[0]! : null);
}
