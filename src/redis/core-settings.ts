/**
 * The core layer's options (`core-options.ts`) resolved in one block: the
 * defaults applied, the numbers checked (a misused option throws a
 * `TypeError` naming it), and the message format built (serializer, the
 * message check that goes with it, and the Fernet crypter). `core.ts` then
 * only wires its parts together with these values.
 */
import type { LayerMessage } from '../asgi.js';
import { baseDefaults, compileCapacities } from '../layers/base.js';
import type { RedisChannelLayerOptions } from './core-options.js';
import { MultiFernet } from './fernet.js';
import { type MessageSerializer, getSerializer, messageCheckFor } from './serializers.js';

/** {@link RedisChannelLayerOptions} with defaults applied and checked. */
export interface CoreSettings {
  expiry: number;
  groupExpiry: number;
  capacity: number;
  prefix: string;
  capacityFor: (channel: string) => number;
  /** True when no `channelCapacity` pattern gives some channel a capacity of its own. */
  uniformCapacity: boolean;
  /** `processCapacity`, never below `capacity`. */
  processCapacity: number;
  /** The liveness lease's life in ms; null for no lease (`processTtl: null`). */
  processTtlMs: number | null;
  serializer: MessageSerializer;
  /** The shared message rules for that serializer (`layers/validate.ts`). */
  checkMessage: (message: LayerMessage) => void;
  crypter: MultiFernet | null;
}

export function coreSettings(options: RedisChannelLayerOptions): CoreSettings {
  const { expiry, groupExpiry, capacity } = baseDefaults(options);
  const processCapacity = options.processCapacity ?? 1000;
  if (!Number.isInteger(processCapacity) || processCapacity < 1) {
    throw new TypeError(`Channel layer option 'processCapacity' must be a positive integer, not ${String(processCapacity)}`);
  }
  const processTtl = options.processTtl === undefined ? 30 : options.processTtl;
  if (processTtl !== null && !(typeof processTtl === 'number' && processTtl > 0)) {
    throw new TypeError(`Channel layer option 'processTtl' must be a positive number of seconds or null, not ${String(processTtl)}`);
  }
  const channelCapacity = options.channelCapacity;
  const keys = options.symmetricEncryptionKeys;
  const serializer = getSerializer(options.serializerFormat ?? 'msgpack');
  return {
    expiry,
    groupExpiry,
    capacity,
    prefix: options.prefix ?? 'asgi',
    capacityFor: compileCapacities(capacity, channelCapacity),
    uniformCapacity: channelCapacity === undefined || (Array.isArray(channelCapacity) ? channelCapacity.length === 0 : Object.keys(channelCapacity).length === 0),
    processCapacity: Math.max(processCapacity, capacity),
    processTtlMs: processTtl === null ? null : processTtl * 1000,
    serializer,
    checkMessage: messageCheckFor(serializer),
    crypter: keys !== undefined && keys !== null && keys.length > 0 ? MultiFernet.fromSecrets(keys) : null,
  };
}
