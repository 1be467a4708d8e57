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
import { InMemoryChannelLayer } from './memory.js';

/** Builds a layer from a parsed URL (query parameters carry options). */
export type LayerFactory = (url: URL) => ChannelLayer;

/** How one alias is configured: a URL, a ready layer, or a factory. */
export type LayerConfig = string | ChannelLayer | { url: string } | (() => ChannelLayer);

const factories = new Map<string, LayerFactory>();
/** Modules that register the backend of a scheme when imported. */
const backendModules: Record<string, string> = {
  'redis:': '../redis/index.js',
  'rediss:': '../redis/index.js',
  'redis+pubsub:': '../redis/index.js',
  'rediss+pubsub:': '../redis/index.js',
};

let configured: Record<string, LayerConfig> | null = null;
const instances = new Map<string, ChannelLayer>();

/** Registers the factory for a URL scheme (with its colon: `"redis:"`). */
export function registerLayerBackend(scheme: string, factory: LayerFactory): void {
  factories.set(scheme, factory);
}

/** Reads numeric, boolean and JSON options from a URL's query string. */
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

registerLayerBackend('memory:', (url) => new InMemoryChannelLayer(optionsFromQuery(url)));

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
  configured = { ...config };
  instances.clear();
}

/** Forgets configuration and built layers: the default alias comes from `CHANNEL_LAYER_URL` again. */
export function resetChannelLayers(): void {
  configured = null;
  instances.clear();
}

function configFor(alias: string): LayerConfig | undefined {
  if (configured !== null) return configured[alias];
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
    throw new ImproperlyConfigured(`Channel layer URL ${JSON.stringify(raw)} is not a URL (expected memory://, redis://host:port/db...)`);
  }
}

/** Builds a layer from its configuration. */
export function buildChannelLayer(config: LayerConfig): ChannelLayer {
  if (typeof config === 'function') return config();
  const raw = urlOf(config);
  if (raw === null) return config as ChannelLayer;
  const url = parseLayerUrl(raw);
  const factory = factories.get(url.protocol);
  if (factory !== undefined) return factory(url);
  if (url.protocol in backendModules) {
    throw new InvalidChannelLayerError(
      `The ${url.protocol}// channel layer is not loaded: import 'switchyard/redis' or await prepareChannelLayers() first`,
    );
  }
  throw new InvalidChannelLayerError(`No channel layer backend for ${url.protocol}// (known: ${[...factories.keys()].join(', ')})`);
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

/** Imports the backend modules the configured URLs need (call once at startup). */
export async function prepareChannelLayers(): Promise<void> {
  const configs = configured !== null ? Object.values(configured) : [configFor('default')!];
  for (const config of configs) {
    const raw = urlOf(config);
    if (raw === null) continue;
    const scheme = parseLayerUrl(raw).protocol;
    const module = backendModules[scheme];
    if (!factories.has(scheme) && module !== undefined) await import(module);
  }
}

/** Closes every built layer and forgets them. */
export async function closeChannelLayers(): Promise<void> {
  const layers = [...instances.values()];
  instances.clear();
  await Promise.allSettled(layers.map((layer) => layer.close()));
}
