/**
 * Which Redis host (shard) a key lives on, exactly as channels_redis decides.
 *
 * How it works: the value is UTF-8 encoded, hashed with the zlib/IEEE CRC-32,
 * and its low 12 bits (0..4095) are mapped onto the host list by dividing the
 * 4096 slots into `ringSize` equal ranges (a float division, then truncation).
 * Every process sharing a layer must list its hosts in the same order, since
 * the mapping is positional. Spec §2.9.
 */

const TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

const encoder = new TextEncoder();

/**
 * The zlib/IEEE CRC-32 of a string (UTF-8 encoded) or of bytes, as an unsigned integer.
 *
 * @example
 * ```ts
 * import { crc32 } from 'switchyard/redis';
 *
 * crc32('key_one') & 0xfff; // 2849
 * ```
 */
export function crc32(value: string | Uint8Array): number {
  const bytes = typeof value === 'string' ? encoder.encode(value) : value;
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = TABLE[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/**
 * channels_redis's `consistent_hash`: the index of the host that owns `value`
 * among `ringSize` hosts.
 *
 * @example
 * ```ts
 * import { shardIndex } from 'switchyard/redis';
 *
 * shardIndex('key_one', 10); // 6
 * shardIndex('specific.abc!', 4); // 3
 * ```
 */
export function shardIndex(value: string | Uint8Array, ringSize: number): number {
  if (ringSize <= 1) return 0;
  return Math.floor((crc32(value) & 0xfff) / (4096 / ringSize));
}
