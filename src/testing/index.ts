/**
 * `switchyard/testing`: drive applications with no server, as Django
 * Channels' `channels.testing` does.
 *
 * Every `timeout` here is in milliseconds, where Django's communicators take
 * seconds: `await communicator.receive_from(timeout=1)` is
 * `await communicator.receiveFrom(1000)`. The default is 1000 (one second).
 */
export { ApplicationCommunicator, CancelledError, TimeoutError } from './application.js';
export { HttpCommunicator, WebsocketCommunicator } from './websocket.js';
export type { ConnectResult, DenialResponse, HttpBodyChunk, HttpResponse, WebsocketCommunicatorOptions } from './websocket.js';
