/**
 * Which channel layer an alias means (Django's `CHANNEL_LAYERS` and
 * `get_channel_layer()`).
 *
 * Layers are built lazily on first use and cached per alias. With no
 * configuration, the `default` alias comes from the `CHANNEL_LAYER_URL`
 * environment variable, `memory://` when it is unset. Backends register a URL
 * scheme: the in-memory one is built in; `switchyard/redis` registers
 * `redis:`, `rediss:` and the pub/sub flavours when it is imported, and
 * {@link prepareChannelLayers} imports it when the configuration needs it.
 */
import { ImproperlyConfigured, InvalidChannelLayerError } from '../errors.js';
import type { ChannelLayer } from './base.js';
import { GroupBatchingLayer, type GroupBatchingConfig } from './batching.js';
import { type GroupHistoryConfig, compileGroupHistory } from './history.js';
import { InMemoryChannelLayer } from './memory.js';

/** Builds a layer from a parsed URL (query parameters carry options). */
export type LayerFactory = (url: URL) => ChannelLayer;

/** How one alias is configured: a URL, a ready layer, or a factory. */
export type LayerConfig = string | ChannelLayer | { url: string } | (() => ChannelLayer);

/**
 * The registry's state, one per process: kept on `globalThis` under a
 * registered symbol, so that two copies of this module (an app bundling its
 * own copy, or `dist/` beside `src/`) still share one set of layers, instead
 * of one copy not knowing the backends the other loaded.
 */
interface RegistryState {
  factories: Map<string, LayerFactory>;
  configured: Record<string, LayerConfig> | null;
  instances: Map<string, ChannelLayer>;
}
const REGISTRY = Symbol.for('switchyard.channelLayers');
const state: RegistryState = ((globalThis as { [REGISTRY]?: RegistryState })[REGISTRY] ??= {
  factories: new Map(),
  configured: null,
  instances: new Map(),
});
const { factories, instances } = state;
/** Modules that register the backend of a scheme when imported. */
const backendModules: Record<string, string> = {
  'redis:': '../redis/index.js',
  'rediss:': '../redis/index.js',
  'redis+pubsub:': '../redis/index.js',
  'rediss+pubsub:': '../redis/index.js',
  'redis+cluster:': '../redis/index.js', 'rediss+cluster:': '../redis/index.js',
  'redis+pubsub+cluster:': '../redis/index.js', 'rediss+pubsub+cluster:': '../redis/index.js',
  'nats:': '../nats/index.js', 'nats+tls:': '../nats/index.js', 'tls:': '../nats/index.js',
};


/** Registers the factory for a URL scheme (with its colon: `"redis:"`). */
export function registerLayerBackend(scheme: string, factory: LayerFactory): void {
  factories.set(scheme, factory);
}

/** Reads numeric, boolean and JSON options from a URL's query string, unchecked (see {@link queryOptions}). */
export function optionsFromQuery(url: URL): Record<string, unknown> {
  const options: Record<string, unknown> = {};
  for (const [key, value] of url.searchParams) {
    if (/^-?\d+(\.\d+)?$/.test(value)) options[key] = Number(value);
    else if (value === 'true' || value === 'false') options[key] = value === 'true';
    else if (/^[[{]/.test(value)) options[key] = JSON.parse(value);
    else options[key] = value;
  }
  return options;
}

/** The type of one option a layer URL's query string may carry. */
export type QueryOptionKind =
  | 'string' | 'boolean' | 'number' | 'positive integer' | 'non-negative integer' | 'positive number' | 'non-negative number'
  | 'JSON object' | 'string or JSON list of strings'
  /** `chat_*`, a JSON list of patterns, or a JSON object of pattern → options (`groupHistory`). */
  | 'JSON object or list of patterns';

function parseOption(name: string, value: string, kind: QueryOptionKind): unknown {
  const bad = (): never => {
    throw new ImproperlyConfigured(`option ${name} must be a ${kind}, not ${JSON.stringify(value)}`);
  };
  switch (kind) {
    case 'string':
      return value;
    case 'boolean':
      return value === 'true' ? true : value === 'false' ? false : bad();
    case 'positive integer':
    case 'non-negative integer': {
      if (!/^\d+$/.test(value)) return bad();
      const n = Number(value);
      return kind === 'positive integer' && n === 0 ? bad() : n;
    }
    case 'number':
      // The range is the layer constructor's to check (it says which one it wants).
      return /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : bad();
    case 'positive number':
    case 'non-negative number': {
      if (!/^\d+(\.\d+)?$/.test(value)) return bad();
      const n = Number(value);
      return kind === 'positive number' && n === 0 ? bad() : n;
    }
    case 'JSON object':
    case 'string or JSON list of strings':
    case 'JSON object or list of patterns': {
      if (kind === 'JSON object or list of patterns' && !/^[[{]/.test(value)) return value.split(',');
      if (kind === 'string or JSON list of strings' && !value.startsWith('[')) return [value];
      let parsed: unknown;
      try {
        parsed = JSON.parse(value);
      } catch {
        return bad();
      }
      const isObject = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed);
      if (kind === 'JSON object') return isObject ? parsed : bad();
      if (kind === 'JSON object or list of patterns' && isObject) return parsed;
      return Array.isArray(parsed) && parsed.every((v) => typeof v === 'string') ? parsed : bad();
    }
  }
}

/**
 * Reads a layer URL's query options against the backend's list of known
 * options and their types, so a misspelt or mistyped option stops startup
 * instead of being ignored. `skip` names parameters the caller reads itself.
 *
 * @example
 * ```ts
 * import { queryOptions } from './registry.js';
 *
 * queryOptions(new URL('memory://?capacity=10'), { capacity: 'positive integer' }); // { capacity: 10 }
 * queryOptions(new URL('memory://?capacity=ten'), { capacity: 'positive integer' }); // throws ImproperlyConfigured
 * ```
 */
export function queryOptions(url: URL, known: Record<string, QueryOptionKind>, skip: readonly string[] = []): Record<string, unknown> {
  const options: Record<string, unknown> = {};
  for (const [name, value] of url.searchParams) {
    if (skip.includes(name)) continue;
    const kind = Object.hasOwn(known, name) ? known[name] : undefined;
    if (kind === undefined) {
      const names = [...skip, ...Object.keys(known)].join(', ');
      throw new ImproperlyConfigured(`unknown option ${JSON.stringify(name)} for ${url.protocol}// layers (known: ${names})`);
    }
    if (Object.hasOwn(options, name)) throw new ImproperlyConfigured(`option ${name} is given twice`);
    options[name] = parseOption(name, value, kind);
  }
  return options;
}

/** The query options of `memory://` (the in-memory layer; its constructor checks the ranges). */
const MEMORY_OPTIONS: Record<string, QueryOptionKind> = {
  capacity: 'number',
  expiry: 'number',
  groupExpiry: 'number',
  channelCapacity: 'JSON object',
  validateMessages: 'boolean',
  groupHistory: 'JSON object or list of patterns',
};

registerLayerBackend('memory:', (url) => new InMemoryChannelLayer(queryOptions(url, MEMORY_OPTIONS)));

/**
 * Sets the layers by alias, replacing earlier configuration and forgetting
 * built layers (as Django does when `CHANNEL_LAYERS` changes).
 *
 * @example
 * ```ts
 * import { configureChannelLayers, InMemoryChannelLayer } from 'switchyard';
 *
 * configureChannelLayers({ default: 'redis://127.0.0.1:6379/0', local: new InMemoryChannelLayer() });
 * ```
 */
export function configureChannelLayers(config: Record<string, LayerConfig>): void {
  state.configured = { ...config };
  instances.clear();
}

/** Forgets configuration and built layers: the default alias comes from `CHANNEL_LAYER_URL` again. */
export function resetChannelLayers(): void {
  state.configured = null;
  instances.clear();
}

function configFor(alias: string): LayerConfig | undefined {
  if (state.configured !== null) return state.configured[alias];
  if (alias === 'default') return process.env.CHANNEL_LAYER_URL || 'memory://';
  return undefined;
}

function urlOf(config: LayerConfig): string | null {
  if (typeof config === 'string') return config;
  if (typeof config === 'object' && config !== null && 'url' in config && typeof config.url === 'string') return config.url;
  return null;
}

function parseLayerUrl(raw: string): URL {
  try {
    return new URL(raw);
  } catch {
    throw new ImproperlyConfigured('not a valid URL (is the port over 65535, or the host malformed?); expected memory://, redis://host:port/db, redis+pubsub://...');
  }
}

/** Builds a layer from its configuration. */
export function buildChannelLayer(config: LayerConfig): ChannelLayer {
  if (typeof config === 'function') return config();
  const raw = urlOf(config);
  if (raw === null) return config as ChannelLayer;
  const url = parseLayerUrl(raw);
  const factory = factories.get(url.protocol);
  if (factory !== undefined) return withBatching(url, factory);
  if (url.protocol in backendModules) {
    throw new InvalidChannelLayerError(
      `The ${url.protocol}// channel layer is not loaded: import 'switchyard/${backendModules[url.protocol]!.split('/')[1]}' or await prepareChannelLayers() first`,
    );
  }
  const known = [...new Set([...factories.keys(), ...Object.keys(backendModules)])].map((scheme) => `${scheme}//`);
  throw new InvalidChannelLayerError(`No channel layer backend for ${url.protocol}// (known: ${known.join(', ')})`);
}

/**
 * Builds the backend's layer; with the `groupBatching` option (any backend),
 * wrapped in a {@link GroupBatchingLayer} that leaves the groups of
 * `groupHistory` alone.
 */
function withBatching(url: URL, factory: LayerFactory): ChannelLayer {
  const values = url.searchParams.getAll('groupBatching');
  if (values.length === 0) return factory(url);
  if (values.length > 1) throw new ImproperlyConfigured('option groupBatching is given twice');
  url.searchParams.delete('groupBatching');
  const groups = parseOption('groupBatching', values[0]!, 'JSON object or list of patterns') as GroupBatchingConfig;
  const history = url.searchParams.get('groupHistory');
  const historyOf = compileGroupHistory(history === null ? undefined : parseOption('groupHistory', history, 'JSON object or list of patterns') as GroupHistoryConfig);
  const inner = factory(url);
  try {
    return new GroupBatchingLayer(inner, { groups, keepsHistory: (group) => historyOf(group) !== null });
  } catch (error) {
    void inner.close();
    throw new ImproperlyConfigured(error instanceof Error ? error.message : String(error));
  }
}

/**
 * The channel layer of an alias, built on first use; `null` when the alias is
 * not configured (as Django's `get_channel_layer()`).
 */
export function getChannelLayer(alias = 'default'): ChannelLayer | null {
  const existing = instances.get(alias);
  if (existing !== undefined) return existing;
  const config = configFor(alias);
  if (config === undefined) return null;
  const layer = buildChannelLayer(config);
  instances.set(alias, layer);
  return layer;
}

/** Replaces the layer of an alias (handy in tests) and returns the previous one. */
export function setChannelLayer(alias: string, layer: ChannelLayer): ChannelLayer | null {
  const previous = instances.get(alias) ?? null;
  instances.set(alias, layer);
  return previous;
}

/** A layer URL with its password hidden, for messages and logs. */
export function redactLayerUrl(raw: string): string {
  try {
    const url = new URL(raw);
    if (url.password === '') return raw;
    url.password = '***';
    return url.href;
  } catch {
    return raw.replace(/:[^:@/]*@/, ':***@');
  }
}

/** The configured aliases with their URL (aliases configured with a ready layer or a factory are left out). */
export function channelLayerUrls(): Array<{ alias: string; url: string; source: string }> {
  const entries: Array<[string, LayerConfig]> = state.configured !== null ? Object.entries(state.configured) : [['default', configFor('default')!]];
  const urls: Array<{ alias: string; url: string; source: string }> = [];
  for (const [alias, config] of entries) {
    const url = urlOf(config);
    if (url === null) continue;
    const fromEnv = state.configured === null && process.env.CHANNEL_LAYER_URL;
    urls.push({ alias, url, source: fromEnv ? `CHANNEL_LAYER_URL=${redactLayerUrl(url)}` : `channel layer "${alias}" (${redactLayerUrl(url)})` });
  }
  return urls;
}

/**
 * Imports the backend modules the configured URLs need and builds their
 * layers, so a bad URL stops startup (call once at startup; `serve()` and
 * the CLI do). Building connects to nothing: a Redis that does not answer
 * is not an error here (see the server's readiness endpoint).
 *
 * @throws ImproperlyConfigured naming the variable (or alias) and what is
 * wrong: an unknown scheme, a database that is not an integer, a bad port,
 * an unknown or mistyped query option.
 */
export async function prepareChannelLayers(): Promise<void> {
  for (const { alias, url: raw, source } of channelLayerUrls()) {
    try {
      const scheme = parseLayerUrl(raw).protocol;
      const module = backendModules[scheme];
      if (!factories.has(scheme) && module !== undefined) await import(module);
      if (!instances.has(alias)) instances.set(alias, buildChannelLayer(raw));
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new ImproperlyConfigured(`${source} is invalid: ${reason}`);
    }
  }
}

/** Closes every built layer and forgets them. */
export async function closeChannelLayers(): Promise<void> {
  const layers = [...instances.values()];
  instances.clear();
  await Promise.allSettled(layers.map((layer) => layer.close()));
}
