/**
 * Where the NATS layer puts things: subjects, the JetStream stream of the
 * group histories and the KV bucket of the leases, all under the layer's
 * `prefix`, so layers with different prefixes never meet on one server.
 *
 * A channel or group name becomes ONE subject token (its `.` written `:`):
 * Django allows names such as `a..b` or `jobs.` whose dots would make empty
 * tokens, which NATS refuses, and one token keeps a name from ever matching
 * a wildcard meant for another. `:` is in no valid channel or group name, so
 * the mapping is one to one.
 *
 * | what | subject |
 * |---|---|
 * | a process's channels (`specific.<id>!*`) | `<prefix>.p.<specific:id!>` |
 * | a general channel (queue group `switchyard`) | `<prefix>.c.<name>` |
 * | a group | `<prefix>.g.<group>` |
 * | a group's history (JetStream) | `<prefix>.h.<group>` in stream `SY_HISTORY_<prefix>` |
 * | leases (JetStream KV) | bucket `SY_LEASES_<prefix>`, key = lease name |
 */
import { createHash } from 'node:crypto';
import { nonLocalName } from '../layers/base.js';

/** A prefix is one or more tokens of letters, digits, `-` and `_`, joined by dots. */
const PREFIX = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/** Throws a `TypeError` unless `prefix` can start every subject of a layer. */
export function requireValidPrefix(prefix: unknown): asserts prefix is string {
  if (typeof prefix !== 'string' || !PREFIX.test(prefix)) {
    throw new TypeError(`NATS layer option 'prefix' must be subject tokens of letters, digits, '-' and '_' joined by dots (e.g. "switchyard"), not ${JSON.stringify(prefix)}`);
  }
}

/** A channel or group name as one subject token. */
export function token(name: string): string {
  return name.replaceAll('.', ':');
}

/**
 * The subject a channel's messages are published to: its process's subject
 * for a process-specific name, else the general channel's own.
 *
 * @example
 * ```ts
 * import { channelSubject } from 'switchyard/nats';
 *
 * channelSubject('switchyard', 'specific.AbCd!x1'); // 'switchyard.p.specific:AbCd!'
 * channelSubject('switchyard', 'thumbnails'); // 'switchyard.c.thumbnails'
 * ```
 */
export function channelSubject(prefix: string, channel: string): string {
  return channel.includes('!') ? `${prefix}.p.${token(nonLocalName(channel))}` : `${prefix}.c.${token(channel)}`;
}

/**
 * The subject a group is published on.
 *
 * @example
 * ```ts
 * import { groupSubject } from 'switchyard/nats';
 *
 * groupSubject('switchyard', 'chat_lobby'); // 'switchyard.g.chat_lobby'
 * ```
 */
export function groupSubject(prefix: string, group: string): string {
  return `${prefix}.g.${token(group)}`;
}

/** The subject of a group's history in the history stream. */
export function historySubject(prefix: string, group: string): string {
  return `${prefix}.h.${token(group)}`;
}

/** The prefix as a stream or bucket name part (`[A-Za-z0-9_-]`); a hash keeps `a.b` and `a_b` apart. */
function namePart(prefix: string): string {
  if (!prefix.includes('.')) return prefix;
  return `${prefix.replaceAll('.', '_')}_${createHash('sha256').update(prefix).digest('hex').slice(0, 8)}`;
}

/**
 * The JetStream stream holding the group histories of a prefix.
 *
 * @example
 * ```ts
 * import { historyStreamName } from 'switchyard/nats';
 *
 * historyStreamName('switchyard'); // 'SY_HISTORY_switchyard'
 * ```
 */
export function historyStreamName(prefix: string): string {
  return `SY_HISTORY_${namePart(prefix)}`;
}

/**
 * The JetStream KV bucket holding the leases of a prefix.
 *
 * @example
 * ```ts
 * import { leaseBucketName } from 'switchyard/nats';
 *
 * leaseBucketName('switchyard'); // 'SY_LEASES_switchyard'
 * ```
 */
export function leaseBucketName(prefix: string): string {
  return `SY_LEASES_${namePart(prefix)}`;
}

/** The queue group general channels are received in (one receiving process gets each message). */
export const QUEUE_GROUP = 'switchyard';
