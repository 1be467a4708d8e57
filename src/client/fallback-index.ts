/** The HTTP fallback's public names, re-exported by `switchyard/client` in one line. */
export { FallbackWebsocket, fallbackWebsocket, type FallbackOptions } from './fallback.js';
export { withFallback, type AutoFallbackOptions } from './fallback-auto.js';
