// Compile-time checks of typed messages: this file passes `tsc` (it is in the
// typecheck) only if every line marked @ts-expect-error IS an error. So a
// wrong field in groupSend, a wrong request name or input, a misused reply...
// stay type errors. The error text of the groupSend case is asserted by
// test/core/typed-types.test.ts on fail-group-send.ts.
import { z } from 'zod';
import * as v from 'valibot';
import { type } from 'arktype';
import { type EventOf, type ReceivedMessage, type RequestHandlers, TypedJsonConsumer, defineProtocol, groupSender } from 'switchyard';
import { ReconnectingWebsocket } from 'switchyard/client';

export const room = defineProtocol({
  messages: { say: z.object({ text: z.string() }), move: type({ x: 'number', y: 'number' }) },
  events: { chat_message: z.object({ text: z.string(), user: z.string() }), joined: v.object({ user: v.string() }) },
  requests: {
    rename: { input: z.object({ name: z.string() }), output: z.object({ name: z.string() }) },
    who: z.object({}),
  },
  frames: { said: z.object({ text: z.string() }) },
});

export class Room extends TypedJsonConsumer<typeof room> {
  static override protocol = room;

  override async receiveJson(message: ReceivedMessage<typeof room>) {
    if (message.type === 'say') {
      const text: string = message.text;
      await this.groupSend('room', { type: 'chat_message', text, user: 'u' });
      await this.groupSend('room', { type: 'joined', user: 'u' });
      // @ts-expect-error a misspelt field
      await this.groupSend('room', { type: 'chat_message', txt: text, user: 'u' });
      // @ts-expect-error a field of the wrong type
      await this.groupSend('room', { type: 'chat_message', text: 42, user: 'u' });
      // @ts-expect-error a missing field
      await this.groupSend('room', { type: 'chat_message', text });
      // @ts-expect-error an event type the protocol does not declare
      await this.groupSend('room', { type: 'chat_mesage', text, user: 'u' });
    } else {
      const x: number = message.x;
      // @ts-expect-error move has no text
      void message.text;
      void x;
    }
  }

  async chat_message(event: EventOf<typeof room, 'chat_message'>) {
    await this.sendJson({ type: 'said', text: event.text });
    // @ts-expect-error a frame the protocol does not declare
    await this.sendJson({ type: 'shouted', text: event.text });
    await this.sendJson({ type: 'error', message: 'error frames are always allowed' });
  }

  override requests: RequestHandlers<typeof room> = {
    rename: ({ name }) => ({ name: name.trim() }),
    who: () => ['a', 'b'],
  };
}

export class WrongReply extends TypedJsonConsumer<typeof room> {
  static override protocol = room;
  override requests: RequestHandlers<typeof room> = {
    // @ts-expect-error the reply does not match the output schema
    rename: ({ name }) => ({ nom: name }),
    who: () => null,
  };
}

export class Unanswered extends TypedJsonConsumer<typeof room> {
  static override protocol = room;
  // @ts-expect-error a request declared but not handled
  override requests: RequestHandlers<typeof room> = { who: () => [] };
}

export async function client(): Promise<void> {
  // Typed from the consumer class, importing nothing but its type.
  const typed = new ReconnectingWebsocket<typeof Room>('ws://example.com/ws/');
  typed.sendJson({ type: 'say', text: 'hi' });
  typed.sendJson({ type: 'move', x: 1, y: 2 });
  // @ts-expect-error a wrong field type
  typed.sendJson({ type: 'say', text: 1 });
  // @ts-expect-error an undeclared message type
  typed.sendJson({ type: 'shout', text: 'hi' });
  const { name } = await typed.request('rename', { name: 'ada' });
  const trimmed: string = name;
  // @ts-expect-error the reply has no such field
  void (await typed.request('rename', { name: 'ada' })).nom;
  // @ts-expect-error a wrong input
  await typed.request('rename', { nom: 'ada' });
  // @ts-expect-error an undeclared request
  await typed.request('renam', { name: 'ada' });
  await typed.request('who', {}, { timeout: 1000, retry: 'once' });
  typed.on('message', (detail) => {
    if (!detail.json) return;
    if (detail.data.type === 'said') { const text: string = detail.data.text; void text; }
    else { const message: string = detail.data.message; void message; }
  });
  // Typed from the protocol value's type as well.
  const byProtocol = new ReconnectingWebsocket<typeof room>('ws://example.com/ws/');
  // @ts-expect-error a wrong input
  await byProtocol.request('rename', { name: 1 });
  // Untyped: exactly as before.
  const untyped = new ReconnectingWebsocket('ws://example.com/ws/');
  untyped.sendJson({ anything: [1, 2] });
  const reply: unknown = await untyped.request('whatever', 42);
  untyped.on('message', ({ data }) => void data);
  void trimmed;
  void reply;
}

export async function outside(layer: import('switchyard').ChannelLayer): Promise<void> {
  const send = groupSender(layer, room);
  await send('room', { type: 'joined', user: 'u' });
  // @ts-expect-error a field of the wrong type
  await send('room', { type: 'joined', user: 1 });
}
