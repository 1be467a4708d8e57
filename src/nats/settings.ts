/**
 * The NATS layer's options (`config.ts`) resolved in one block: defaults
 * applied, every number and choice checked (a misused option throws a
 * `TypeError` naming it, before anything connects), and the message codec
 * built (msgpack or a registered serializer, optional Fernet, framed as
 * channels_redis frames pub/sub messages). `layer.ts` then only wires its
 * parts together with these values.
 */
import { baseDefaults } from '../layers/base.js';
import { MultiFernet } from '../redis/fernet.js';
import { getSerializer } from '../redis/serializers.js';
import { MessageCodec } from '../redis/wire.js';
import type { NatsChannelLayerOptions } from './config.js';
import { requireValidPrefix } from './subjects.js';

/** {@link NatsChannelLayerOptions} with defaults applied and checked. */
export interface NatsSettings {
  expiry: number;
  groupExpiry: number;
  /** An integer: a mailbox counts messages. */
  capacity: number;
  prefix: string;
  servers: readonly string[];
  connectTimeout: number;
  requestTimeout: number;
  unsubscribeDelay: number;
  historyStorage: 'file' | 'memory';
  codec: MessageCodec;
}

export function natsSettings(options: NatsChannelLayerOptions): NatsSettings {
  const { expiry, groupExpiry, capacity } = baseDefaults(options);
  if (!Number.isInteger(capacity)) throw new TypeError(`Channel layer option 'capacity' must be a positive integer, not ${capacity}`);
  const prefix = options.prefix ?? 'switchyard';
  requireValidPrefix(prefix);
  for (const key of ['connectTimeout', 'requestTimeout', 'unsubscribeDelay'] as const) {
    const value = options[key];
    if (value !== undefined && !(typeof value === 'number' && value >= (key === 'unsubscribeDelay' ? 0 : 1))) {
      throw new TypeError(`NATS layer option '${key}' must be a ${key === 'unsubscribeDelay' ? 'non-negative' : 'positive'} number of ms, not ${String(value)}`);
    }
  }
  if (options.historyStorage !== undefined && options.historyStorage !== 'file' && options.historyStorage !== 'memory') {
    throw new TypeError(`NATS layer option 'historyStorage' must be 'file' or 'memory', not ${String(options.historyStorage)}`);
  }
  const keys = options.symmetricEncryptionKeys;
  const codec = new MessageCodec({
    serializer: getSerializer(options.serializerFormat ?? 'msgpack'),
    randomPrefixLength: 0,
    crypter: keys !== undefined && keys !== null && keys.length > 0 ? MultiFernet.fromSecrets(keys) : null,
  });
  const servers = options.servers ?? ['127.0.0.1:4222'];
  if (servers.length === 0) throw new TypeError('NATS layer option \'servers\' must name at least one server');
  return {
    expiry, groupExpiry, capacity, prefix, servers, codec,
    connectTimeout: options.connectTimeout ?? 2000,
    requestTimeout: options.requestTimeout ?? 5000,
    unsubscribeDelay: options.unsubscribeDelay ?? 5000,
    historyStorage: options.historyStorage ?? 'file',
  };
}
