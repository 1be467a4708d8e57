import { AsyncConsumer } from './base.js';
import { frameworkClasses } from './handlers.js';
import { HttpConsumer } from './http.js';
import { JsonWebsocketConsumer } from './json.js';
import { TypedJsonConsumer } from './typed.js';
import { WebsocketConsumer } from './websocket.js';

// The one list of the framework's consumer classes: a message type may name
// only their event handlers (websocket_*, http_*, lifespan_*), never `close` or `send`.
frameworkClasses(AsyncConsumer, WebsocketConsumer, JsonWebsocketConsumer, TypedJsonConsumer, HttpConsumer);

// requireGroupLayer (base.js) stays internal: the consumers' own check before a group call.
export { AsyncConsumer } from './base.js';
export type { ConsumerApplication, ConsumerClass, ConsumerEvent, InitKwargs } from './base.js';
export { handlerName } from './handlers.js';
export type { Render, Renders } from './broadcast.js';
export { WebsocketConsumer } from './websocket.js';
export { JsonWebsocketConsumer } from './json.js';
export type { InvalidFrameProblem } from './json.js';
export { TypedJsonConsumer, groupSender } from './typed.js';
export type { RequestHandlers } from './typed.js';
export { defineProtocol } from './schema.js';
export type { ErrorFrame, EventOf, GroupEvent, ProtocolSpec, ReceivedMessage } from './schema.js';
export { RequestError } from './requests.js';
export { HttpConsumer } from './http.js';
export type { SendBodyOptions } from './http.js';
