// A fixture that must NOT compile (excluded from the main typecheck): a typed
// consumer's groupSend with a misspelt field, then with a field of the wrong
// type. test/core/typed-types.test.ts runs tsc on it and asserts both errors.
// Its schemas are hand-written Standard Schemas (no library: a faster tsc run).
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { TypedJsonConsumer } from '../../src/consumers/typed.js';
import { defineProtocol } from '../../src/consumers/schema.js';

declare function object<T>(): StandardSchemaV1<T>;
const room = defineProtocol({ events: { chat_message: object<{ text: string; user: string }>() } });

export class Room extends TypedJsonConsumer<typeof room> {
  static override protocol = room;

  override async receiveJson() {
    await this.groupSend('room', { type: 'chat_message', txt: 'hello', user: 'ada' });
    await this.groupSend('room', { type: 'chat_message', text: 42, user: 'ada' });
  }
}
