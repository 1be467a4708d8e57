// The naming rule on the public surface: every export of every subpath
// (`switchyard`, `switchyard/server`...) is camelCase, PascalCase or
// UPPER_SNAKE_CASE, and spells WebSocket the way Django does in class and
// type names: `Websocket` (`WebsocketConsumer`, `WebsocketCommunicator`).
// An old spelling may stay only as a @deprecated alias of the new one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { publicExports, subpathIndexes } from './exports.js';

const root = resolve(import.meta.dirname, '../..');
const exports = publicExports(root);
const label = (e: { module: string; name: string }) => `${e.module}: ${e.name}`;

test('the scan sees every subpath and the names it should', () => {
  const modules = new Set(exports.map((e) => e.module));
  for (const { module } of subpathIndexes(root)) assert.ok(modules.has(module), `no exports read from ${module}`);
  for (const name of ['WebsocketConsumer', 'JsonWebsocketConsumer', 'WebsocketScope']) {
    assert.ok(exports.some((e) => e.module === 'switchyard' && e.name === name), name);
  }
  assert.ok(exports.some((e) => e.module === 'switchyard/testing' && e.name === 'WebsocketCommunicator'));
  assert.ok(exports.some((e) => e.module === 'switchyard/client' && e.name === 'ReconnectingWebsocket'));
});

test('no public name spells it WebSocket, unless it is a @deprecated alias', () => {
  const offending = exports.filter((e) => /WebSocket/.test(e.name) && !e.deprecated).map(label);
  assert.deepEqual(offending, []);
});

test('every deprecated WebSocket name has its Websocket replacement beside it', () => {
  const missing = exports
    .filter((e) => /WebSocket/.test(e.name))
    .filter((e) => !exports.some((o) => o.module === e.module && o.name === e.name.replaceAll('WebSocket', 'Websocket') && !o.deprecated))
    .map(label);
  assert.deepEqual(missing, []);
});

test('public names are camelCase, PascalCase or UPPER_SNAKE_CASE', () => {
  const offending = exports.filter((e) => !/^(?:[a-zA-Z][a-zA-Z0-9]*|[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*)$/.test(e.name)).map(label);
  assert.deepEqual(offending, []);
});

test('a deprecated value alias is the very same value as its replacement', async () => {
  const aliases = exports.filter((e) => e.deprecated && e.isValue && /WebSocket/.test(e.name));
  assert.ok(aliases.length >= 1, 'the client keeps ReconnectingWebSocket');
  for (const alias of aliases) {
    const module = (await import(alias.module)) as Record<string, unknown>;
    assert.equal(module[alias.name], module[alias.name.replaceAll('WebSocket', 'Websocket')], label(alias));
  }
});
