// Group history beside Django (issue 13), the same on both Redis layers: a Django consumer
// on the same Redis and prefix receives a Switchyard groupSend to a group with history,
// stamped (one more key it can ignore); a Django group_send reaches Switchyard members
// unstamped, and is not kept.
import assert from 'node:assert/strict';
import type { ChannelLayer } from 'switchyard';
import { DjangoPeer } from './peer.js';

export const HISTORY_BESIDE_DJANGO =
  'a Django consumer receives a stamped groupSend (the extra key); a Django group_send reaches Switchyard members unstamped and unkept';

/** Runs the check against a layer made with `make(prefix)` (a prefix of its own, flushed after). */
export async function historyBesideDjango(backend: 'core' | 'pubsub', make: (prefix: string) => ChannelLayer): Promise<void> {
  const prefix = `sy-interop-${backend === 'core' ? 'core' : 'ps'}-${process.pid}-history-`; // under each file's guarded prefix
  const node = make(prefix);
  const peer = await DjangoPeer.start({ backend, hosts: ['redis://127.0.0.1:6379/0'], prefix });
  try {
    const theirs = await peer.call<string>('consumer', { group: 'chat_mixed' });
    const mine = await node.newChannel();
    await node.groupAdd('chat_mixed', mine);
    await node.groupSend('chat_mixed', { type: 'chat.message', text: 'kept' });
    const { epoch } = (await node.readHistory!('chat_mixed', null))!;
    const position = { group: 'chat_mixed', epoch, offset: 1 };
    assert.deepEqual(await peer.consumerEvent(theirs), { type: 'chat.message', text: 'kept', __switchyard_position__: position });
    assert.deepEqual({ ...(await node.receive(mine, AbortSignal.timeout(5000))) }, { type: 'chat.message', text: 'kept', __switchyard_position__: position });
    await peer.call('group_send', { group: 'chat_mixed', message: { type: 'chat.message', text: 'live only' } });
    assert.deepEqual(await node.receive(mine, AbortSignal.timeout(5000)), { type: 'chat.message', text: 'live only' });
    assert.deepEqual(await peer.consumerEvent(theirs), { type: 'chat.message', text: 'live only' });
    const read = await node.readHistory!('chat_mixed', { epoch, offset: 0 });
    assert.deepEqual({ top: read!.top, recovered: read!.recovered, texts: read!.messages.map((m) => m.text) }, { top: 1, recovered: true, texts: ['kept'] });
  } finally {
    await peer.stop();
    await node.flush();
    await node.close();
  }
}
