/**
 * HDR histograms of latencies in microseconds, and their transport between
 * processes (compressed base64, merged by the coordinator).
 */
import * as hdr from 'hdr-histogram-js';

export type Histogram = hdr.Histogram;

/** A histogram for 1 µs .. 1 hour, 3 significant digits, growing if needed. */
export function newHistogram(): Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3, autoResize: true });
}

export function encode(histogram: Histogram): string {
  return hdr.encodeIntoCompressedBase64(histogram);
}

export function decode(text: string): Histogram {
  return hdr.decodeFromCompressedBase64(text);
}

/** Latency summary in milliseconds. */
export interface LatencySummary { count: number; p50: number; p90: number; p99: number; max: number }

export function summarize(histogram: Histogram): LatencySummary {
  const ms = (us: number) => Math.round(us) / 1000;
  return {
    count: histogram.totalCount,
    p50: ms(histogram.getValueAtPercentile(50)),
    p90: ms(histogram.getValueAtPercentile(90)),
    p99: ms(histogram.getValueAtPercentile(99)),
    max: ms(histogram.maxValue),
  };
}
