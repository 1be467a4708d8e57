// A Django Channels peer (channels 4.0.0 + channels_redis 4.0.0, no tracing)
// on the same Redis as a traced Switchyard layer: a traced groupSend reaches
// the Django consumer with its fields as sent plus one dict key it ignores,
// __switchyard_trace__ (W3C traceparent of the sender's span); and what Django
// sends back carries none, so the Switchyard side starts a new trace.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { context, trace } from '@opentelemetry/api';
import { RedisChannelLayer } from 'switchyard/redis';
import { TRACE_KEY, TracedLayer, disableTracing } from 'switchyard/tracing';
import { DjangoPeer, bytes } from '../interop/peer.js';
import { guardRedisKeys } from '../helpers/redis-clean.js';
import { tracingIntoMemory } from './helpers.js';

const { provider, spans } = tracingIntoMemory();
const prefix = `sy-trace-django-${process.pid}-`;
let peer: DjangoPeer;
let redis: RedisChannelLayer;
let node: TracedLayer;

before(async () => {
  redis = new RedisChannelLayer({ hosts: ['redis://127.0.0.1:6379/0'], prefix });
  node = new TracedLayer(redis);
  peer = await DjangoPeer.start({ backend: 'core', hosts: ['redis://127.0.0.1:6379/0'], prefix });
});
after(async () => {
  await peer.stop();
  await redis.flush();
  await redis.close();
  disableTracing();
});

test('a traced groupSend reaches a Django consumer unchanged but for the trace key; its reply starts a new trace', async () => {
  const theirs = await peer.call<string>('consumer', { group: 'room-traced' });
  const mine = await node.newChannel();
  await node.groupAdd('room-traced', mine);
  const handler = provider.getTracer('test').startSpan('handler');
  await context.with(trace.setSpan(context.active(), handler), () =>
    node.groupSend('room-traced', { type: 'chat.message', text: 'traced', raw: Buffer.from([1, 2]), n: 2 ** 40 }));
  handler.end();
  const groupSend = spans().find((span) => span.name === 'groupSend room-traced')!;
  assert.equal(groupSend.parentSpanId, handler.spanContext().spanId);

  const got = await peer.consumerEvent(theirs);
  assert.deepEqual(got, {
    type: 'chat.message', text: 'traced', raw: bytes('0102'), n: 2 ** 40,
    [TRACE_KEY]: { traceparent: `00-${groupSend.traceId}-${groupSend.spanId}-01` },
  });
  // The Switchyard member sees the same message, and its receive span continues the trace.
  const received = await node.receive(mine, AbortSignal.timeout(5000));
  assert.equal((received as Record<string, unknown>).text, 'traced');
  const receive = spans().find((span) => span.name === 'receive')!;
  assert.equal(receive.parentSpanId, groupSend.spanId);

  // Django's own group_send carries nothing of ours: received as sent, a receive span with no parent.
  await peer.call('group_send', { group: 'room-traced', message: { type: 'chat.message', text: 'from django' } });
  assert.deepEqual(await node.receive(mine, AbortSignal.timeout(5000)), { type: 'chat.message', text: 'from django' });
  assert.deepEqual(await peer.consumerEvent(theirs), { type: 'chat.message', text: 'from django' });
  const receives = spans().filter((span) => span.name === 'receive');
  assert.equal(receives.length, 2);
  assert.equal(receives[1]!.parentSpanId, null);
});

guardRedisKeys(prefix);
