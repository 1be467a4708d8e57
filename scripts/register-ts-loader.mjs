// `node --import ./scripts/register-ts-loader.mjs file.ts` runs TypeScript
// through ts-loader.mjs (esbuild, no keepNames: see there why not tsx).
import { register } from 'node:module';

// Error stacks point at the .ts lines, through the inline source maps.
process.setSourceMapsEnabled(true);
register('./ts-loader.mjs', import.meta.url);
