// groupSend(group, message, { except }) (issue 14): the member named is left out, on the
// in-memory, Redis core and Redis pub/sub layers; in a group that keeps a history it still
// gets the message, marked, so that a recovering client's position moves (consumers skip it).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { InMemoryChannelLayer, InvalidNameError, type ChannelLayer } from 'switchyard';
import { RedisChannelLayer, RedisPubSubChannelLayer } from 'switchyard/redis';
import { guardRedisKeys } from '../helpers/redis-clean.js';
import { NOTHING, receiveWithin } from './conformance.js';

/** The next message of a channel within `ms`, as a plain record (fails when none comes). */
async function next(layer: ChannelLayer, channel: string, ms = 3000): Promise<Record<string, unknown>> {
  const message = await receiveWithin(layer, channel, ms);
  assert.notEqual(message, NOTHING, `a message on ${channel}`);
  return { ...(message as Record<string, unknown>) };
}

const PREFIX = `sy-except-${process.pid}-`;
const layers: Array<[string, () => ChannelLayer]> = [
  ['in-memory', () => new InMemoryChannelLayer({ groupHistory: ['kept.*'] })],
  ['Redis core', () => new RedisChannelLayer({ prefix: `${PREFIX}core-`, groupHistory: ['kept.*'] })],
  ['Redis pub/sub', () => new RedisPubSubChannelLayer({ prefix: `${PREFIX}ps-`, groupHistory: ['kept.*'] })],
];
const made: ChannelLayer[] = [];
after(async () => {
  for (const layer of made) {
    await layer.flush();
    await layer.close();
  }
});

for (const [name, make] of layers) {
  test(`${name}: groupSend with except leaves that member out, and only it`, async () => {
    const layer = make();
    made.push(layer);
    const [sender, other] = [await layer.newChannel(), await layer.newChannel()];
    await layer.groupAdd('room', sender);
    await layer.groupAdd('room', other);
    await layer.groupSend('room', { type: 'chat.message', text: 'hi' }, { except: sender });
    assert.deepEqual(await next(layer, other), { type: 'chat.message', text: 'hi', __switchyard_except__: sender });
    assert.equal(await receiveWithin(layer, sender, 300), NOTHING);
    await layer.groupSend('room', { type: 'chat.message', text: 'all' });
    assert.equal((await next(layer, sender)).text, 'all');
    assert.equal((await next(layer, other)).text, 'all');
    await assert.rejects(layer.groupSend('room', { type: 'x' }, { except: 'not a channel!!' }), InvalidNameError);
  });

  test(`${name}: in a group with history the member left out gets the message marked, with its offset`, async () => {
    const layer = make();
    made.push(layer);
    const [sender, other] = [await layer.newChannel(), await layer.newChannel()];
    await layer.groupAdd('kept.room', sender);
    await layer.groupAdd('kept.room', other);
    await layer.groupSend('kept.room', { type: 'chat.message', text: 'hi' }, { except: sender });
    const mine = await next(layer, sender);
    assert.equal(mine.__switchyard_except__, sender);
    assert.equal((mine.__switchyard_position__ as { offset: number }).offset, 1);
    assert.equal((await next(layer, other)).text, 'hi');
  });
}

guardRedisKeys(PREFIX);
