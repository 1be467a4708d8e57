/**
 * The chat's WebSocket routes, as the tutorial's `chat/routing.py`. The pattern is the
 * tutorial's, in Python syntax, so `\w` means what it means in Django: letters and digits
 * of every script (`/ws/chat/聊天/` is a room).
 */
import { rePath } from 'switchyard';
import { admin } from './admin.js';
import { ChatConsumer } from './consumers.js';

export const websocketUrlPatterns = [
  rePath('ws/chat/(?P<room_name>\\w+)/$', ChatConsumer.asApp()),
  // The realtime dashboard's live updates, when ADMIN_TOKEN is set (admin.ts).
  ...(admin === null ? [] : [admin.routes.websocket]),
];
