/**
 * Switchyard serving the chat protocol with the seeds' 003 ChatConsumer
 * translated plainly, in one of two forms (issue 12's broadcast seam):
 *
 * - `BENCH_CONSUMER=declared` (default): `chat_message` is a declared render
 *   (`static renders`), rendered once per broadcast for every member;
 * - `BENCH_CONSUMER=plain`: `async chat_message(event) { await
 *   this.send(JSON.stringify(...)) }`, as a Django user would port it.
 *
 * No presence, no name checks: the consumer the seam is measured on, and
 * nothing else. The in-memory layer; access logs off, as for the references.
 */
import { type LayerMessage, URLRouter, WebsocketConsumer, ProtocolTypeRouter, configureChannelLayers, InMemoryChannelLayer, rePath } from 'switchyard';
import { serveUntilStopped } from './serve-app.js';

interface ChatEvent extends LayerMessage { type: 'chat_message'; message: string; username: string }

class ChatConsumer extends WebsocketConsumer {
  roomGroupName = '';

  override async connect() {
    this.roomGroupName = `chat_${String(this.scope.urlRoute?.kwargs.room_name)}`;
    await this.channelLayer!.groupAdd(this.roomGroupName, this.channelName);
    await this.accept();
    await this.send(JSON.stringify({ type: 'connection_established', message: 'Connected to chat room' }));
  }

  override async disconnect() {
    await this.channelLayer!.groupDiscard(this.roomGroupName, this.channelName);
  }

  override async receive(data: string | Uint8Array) {
    let content: { message?: unknown; username?: unknown };
    try {
      content = JSON.parse(typeof data === 'string' ? data : Buffer.from(data).toString('utf8'));
    } catch {
      return this.send(JSON.stringify({ type: 'error', message: 'Invalid JSON format' }));
    }
    const message = content.message;
    if (typeof message !== 'string' || message === '' || message.length > 1000) {
      return this.send(JSON.stringify({ type: 'error', message: 'Invalid message' }));
    }
    const username = typeof content.username === 'string' && content.username.trim() !== '' ? content.username : 'Anonymous';
    await this.channelLayer!.groupSend(this.roomGroupName, { type: 'chat_message', message, username });
  }
}

class DeclaredChatConsumer extends ChatConsumer {
  static override renders = {
    chat_message: (e: ChatEvent) => JSON.stringify({ message: e.message, username: e.username }),
  };
}

class PlainChatConsumer extends ChatConsumer {
  async chat_message(event: ChatEvent) {
    await this.send(JSON.stringify({ message: event.message, username: event.username }));
  }
}

const consumer = process.env.BENCH_CONSUMER === 'plain' ? PlainChatConsumer : DeclaredChatConsumer;
configureChannelLayers({ default: new InMemoryChannelLayer() });
const application = ProtocolTypeRouter({
  websocket: URLRouter([rePath('ws/chat/(?P<room_name>\\w+)/$', consumer.asApp())]),
});
const port = Number(process.env.PORT ?? 8003);
await serveUntilStopped(application, port);
