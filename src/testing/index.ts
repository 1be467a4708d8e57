/**
 * `switchyard/testing`: drive applications with no server, as Django
 * Channels' `channels.testing` does.
 */
export { ApplicationCommunicator, CancelledError, TimeoutError } from './application.js';
export { HttpCommunicator, WebsocketCommunicator } from './websocket.js';
export type { ConnectResult, DenialResponse, HttpBodyChunk, HttpResponse, WebsocketCommunicatorOptions } from './websocket.js';
