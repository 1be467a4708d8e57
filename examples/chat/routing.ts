/**
 * The chat's WebSocket routes, as the tutorial's `chat/routing.py`. The pattern is the
 * tutorial's, in Python syntax, so `\w` means what it means in Django: letters and digits
 * of every script (`/ws/chat/聊天/` is a room).
 */
import { rePath } from 'switchyard';
import { ChatConsumer } from './consumers.js';

export const websocketUrlPatterns = [
  rePath('ws/chat/(?P<room_name>\\w+)/$', ChatConsumer.asApp()),
];
