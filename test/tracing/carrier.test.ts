// The W3C Trace Context carrier a traced message holds: written as W3C
// writes it, read back; what is not valid W3C is read as "no parent".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TraceFlags } from '@opentelemetry/api';
import { carrierOf, parseTraceparent } from 'switchyard/tracing';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';

test('a span context round-trips through its carrier, tracestate included', () => {
  const carrier = carrierOf({ traceId: TRACE, spanId: SPAN, traceFlags: TraceFlags.SAMPLED });
  assert.deepEqual(carrier, { traceparent: `00-${TRACE}-${SPAN}-01` });
  const back = parseTraceparent(carrier.traceparent, 'vendor=abc,other=1');
  assert.equal(back?.traceId, TRACE);
  assert.equal(back?.spanId, SPAN);
  assert.equal(back?.traceFlags, 1);
  assert.equal(back?.isRemote, true);
  assert.equal(back?.traceState?.get('vendor'), 'abc');
  const unsampled = carrierOf({ traceId: TRACE, spanId: SPAN, traceFlags: TraceFlags.NONE, traceState: back!.traceState });
  assert.deepEqual(unsampled, { traceparent: `00-${TRACE}-${SPAN}-00`, tracestate: 'vendor=abc,other=1' });
});

test('a later version with more fields is read; what W3C forbids is not', () => {
  assert.equal(parseTraceparent(`01-${TRACE}-${SPAN}-01-what-comes-next`)?.spanId, SPAN);
  for (const bad of [
    `ff-${TRACE}-${SPAN}-01`, // version ff is invalid
    `00-${TRACE}-${SPAN}-01-extra`, // version 00 has exactly four fields
    `00-${'0'.repeat(32)}-${SPAN}-01`, // all-zero trace id
    `00-${TRACE}-${'0'.repeat(16)}-01`, // all-zero span id
    `00-${TRACE.toUpperCase()}-${SPAN}-01`, // upper-case hex
    `00-${TRACE}-${SPAN}`, // no flags
    '', 'garbage',
  ]) assert.equal(parseTraceparent(bad), null, bad);
  for (const notText of [undefined, null, 42, { traceparent: `00-${TRACE}-${SPAN}-01` }]) assert.equal(parseTraceparent(notText), null);
});
