// Writers queued for a turn are flushed once at its end, in order; a writer queued while a turn
// ends (from inside a flush) is flushed at the end of the next turn, not lost. The writers'
// array is reused from turn to turn: these check that reuse drops and repeats nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { queueForTurn, writeTurn } from '../../src/server/write-turns.js';

const turnEnd = () => new Promise((resolve) => setImmediate(resolve));

test('every writer queued in a turn is flushed once, in order, at the end of the turn', async () => {
  for (const size of [3, 500, 1, 40]) {
    const flushed: number[] = [];
    for (let i = 0; i < size; i++) queueForTurn({ endTurn: () => flushed.push(i) });
    assert.deepEqual(flushed, [], 'nothing is written inside the turn');
    await turnEnd();
    assert.deepEqual(flushed, Array.from({ length: size }, (_, i) => i), `a turn of ${size}`);
  }
});

test('a writer queued while a turn ends is flushed at the end of the next turn', async () => {
  const flushed: string[] = [];
  const late = { endTurn: () => flushed.push('late') };
  const startTurn = writeTurn();
  queueForTurn({ endTurn: () => { flushed.push('early'); queueForTurn(late); } });
  await turnEnd();
  assert.deepEqual(flushed, ['early']);
  assert.ok(writeTurn() > startTurn, 'the turn number moved on');
  await turnEnd();
  assert.deepEqual(flushed, ['early', 'late']);
});
