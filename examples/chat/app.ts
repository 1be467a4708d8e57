/**
 * The chat room's ASGI application, as the tutorial's `asgi.py`: pages over
 * HTTP, the chat consumer over WebSocket.
 */
import { ProtocolTypeRouter, URLRouter } from '../../src/index.js';
import { chatHttpApp } from './http.js';
import { websocketUrlPatterns } from './routing.js';

export const application = ProtocolTypeRouter({
  http: chatHttpApp,
  websocket: URLRouter(websocketUrlPatterns),
});
