export { AsyncConsumer, handlerName, reserveFrameworkMethods, requireGroupLayer } from './base.js';
export type { ConsumerApplication, ConsumerClass, ConsumerEvent, InitKwargs } from './base.js';
export { WebsocketConsumer, renderOnce } from './websocket.js';
export { JsonWebsocketConsumer } from './json.js';
export type { InvalidFrameProblem } from './json.js';
export { HttpConsumer } from './http.js';
export type { SendBodyOptions } from './http.js';
