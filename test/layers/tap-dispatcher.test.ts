// The tap dispatcher hands a stretch's deliveries out in one microtask, in order; deliveries a
// listener makes while a batch runs come in the next batch. Its arrays are reused from batch to
// batch, so these also check that reuse loses, repeats and reorders nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LayerMessage } from 'switchyard';
import { TapDispatcher } from '../../src/layers/tap.js';

const message = (n: number): LayerMessage => ({ type: 'test.n', n });

test('a stretch of deliveries is handed out after the stretch, in order, in one microtask', async () => {
  const taps = new TapDispatcher();
  const seen: number[] = [];
  const listener = (m: LayerMessage) => seen.push(m.n as number);
  for (let n = 0; n < 5; n++) taps.deliver(listener, message(n));
  assert.deepEqual(seen, [], 'nothing runs inside the stretch');
  await Promise.resolve();
  assert.deepEqual(seen, [0, 1, 2, 3, 4]);
});

test('deliveries made by a listener during a batch come after it; batches of different sizes lose nothing', async () => {
  const taps = new TapDispatcher();
  const seen: string[] = [];
  const echo = (m: LayerMessage) => seen.push(`echo ${String(m.n)}`);
  const first = (m: LayerMessage) => {
    seen.push(`first ${String(m.n)}`);
    if ((m.n as number) % 2 === 0) taps.deliver(echo, m);
  };
  for (const size of [6, 2, 9, 0, 4]) {
    seen.length = 0;
    for (let n = 0; n < size; n++) taps.deliver(first, message(n));
    await new Promise((resolve) => setImmediate(resolve));
    const expected = [
      ...Array.from({ length: size }, (_, n) => `first ${n}`),
      ...Array.from({ length: size }, (_, n) => n).filter((n) => n % 2 === 0).map((n) => `echo ${n}`),
    ];
    assert.deepEqual(seen, expected, `a batch of ${size}`);
  }
});
