// The shared message rules (src/layers/validate.ts) outside the conformance suite:
// the in-memory layer's opt-out, the serializers, and that the message is walked once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InMemoryChannelLayer, InvalidMessageError, buildChannelLayer, requireValidMessage, type LayerMessage } from 'switchyard';
import { RedisChannelLayer, RedisPubSubChannelLayer, getSerializer, jsonSerializer, msgpackSerializer } from 'switchyard/redis';
import { checkMessageValues, isWideInteger } from '../../src/layers/validate.js';
import { refusedMessages } from './conformance.js';

test('validateMessages: false lets the in-memory layer carry anything, still checking the shape', async () => {
  for (const layer of [new InMemoryChannelLayer({ validateMessages: false }), buildChannelLayer('memory://?validateMessages=false')]) {
    assert.equal((layer as InMemoryChannelLayer).validateMessages, false);
    const channel = await layer.newChannel();
    const at = new Date(0);
    await layer.send(channel, { type: 'x', at, nick: undefined, id: 10n } as unknown as LayerMessage);
    const got = await layer.receive(channel);
    assert.equal(got.at, at);
    assert.ok('nick' in got && got.nick === undefined);
    assert.ok(Object.isFrozen(got));
    await assert.rejects(layer.send(channel, { text: 'no type' } as unknown as LayerMessage), InvalidMessageError);
  }
  assert.equal(new InMemoryChannelLayer().validateMessages, true);
  assert.equal((buildChannelLayer('memory://') as InMemoryChannelLayer).validateMessages, true);
  assert.throws(() => new InMemoryChannelLayer({ validateMessages: 'no' as unknown as boolean }), TypeError);
});

test('a refused message is left unfrozen where it holds the bad value, so it can be fixed and resent', async () => {
  const layer = new InMemoryChannelLayer();
  const channel = await layer.newChannel();
  const message: Record<string, unknown> = { type: 'x', ok: { a: 1 }, user: { joined: new Date() } };
  await assert.rejects(layer.send(channel, message as LayerMessage), /message\.user\.joined: Date/);
  assert.ok(!Object.isFrozen(message) && !Object.isFrozen(message.user));
  (message.user as Record<string, unknown>).joined = 0;
  await layer.send(channel, message as LayerMessage);
  assert.deepEqual(await layer.receive(channel), { type: 'x', ok: { a: 1 }, user: { joined: 0 } });
});

test('requireValidMessage and every serializer refuse the same values with the same error', () => {
  for (const [bad, error] of refusedMessages()) {
    assert.throws(() => requireValidMessage(bad), (e) => e instanceof InvalidMessageError && error.test(e.message));
    assert.throws(() => msgpackSerializer.serialize(bad), (e) => e instanceof InvalidMessageError && error.test(e.message));
  }
  // The json serializer alone writes NaN as Python's json.dumps does; the layers check before it.
  assert.equal(Buffer.from(jsonSerializer.serialize({ n: NaN })).toString(), '{"n": NaN}');
  assert.equal(getSerializer('msgpack'), msgpackSerializer);
});

test('integers: wide ones are flagged for int64, past 64 bits they stay floats; -0 packs as 0', () => {
  assert.ok(isWideInteger(2 ** 32) && isWideInteger(-(2 ** 31) - 1) && isWideInteger(2 ** 63));
  assert.ok(!isWideInteger(2 ** 32 - 1) && !isWideInteger(-(2 ** 31)) && !isWideInteger(2 ** 64) && !isWideInteger(1.5));
  assert.equal(checkMessageValues({ a: [1, { b: 2 ** 40 }] }), 1);
  assert.equal(checkMessageValues({ a: [1, { b: 2 ** 31 }] }), 0);
  assert.equal(Buffer.from(msgpackSerializer.serialize({ z: -0 })).toString('hex'), '81a17a00');
  assert.deepEqual(msgpackSerializer.deserialize(msgpackSerializer.serialize({ big: 1e20, n: -(2 ** 40) })), { big: 1e20, n: -(2 ** 40) });
});

test('the check walks a message once: each value is read once per send', async () => {
  const layer = new InMemoryChannelLayer();
  const channel = await layer.newChannel();
  let reads = 0;
  const inner: Record<string, unknown> = {};
  Object.defineProperty(inner, 'v', { enumerable: true, get: () => { reads++; return 1; } });
  await layer.send(channel, { type: 'x', inner });
  assert.equal(reads, 1);
});

test('Redis layers with the json serializer refuse the same values (NaN included) before talking to Redis', async () => {
  for (const layer of [
    new RedisChannelLayer({ hosts: ['redis://127.0.0.1:6379/0'], prefix: `sy-validation-${process.pid}-`, serializerFormat: 'json' }),
    new RedisPubSubChannelLayer({ hosts: ['redis://127.0.0.1:6379/0'], prefix: `sy-validation-${process.pid}-`, serializerFormat: 'json' }),
  ]) {
    for (const [bad, error] of refusedMessages()) {
      await assert.rejects(layer.send('worker-tasks', bad), (e) => e instanceof InvalidMessageError && error.test(e.message));
      await assert.rejects(layer.groupSend('g', bad), (e) => e instanceof InvalidMessageError && error.test(e.message));
    }
    await layer.close();
  }
});
