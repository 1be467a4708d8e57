/** The chat's WebSocket routes, as the tutorial's `chat/routing.py`. */
import { rePath } from 'switchyard';
import { ChatConsumer } from './consumers.js';

export const websocketUrlPatterns = [
  rePath(/^ws\/chat\/(?<room_name>\w+)\/$/, ChatConsumer.asApp()),
];
