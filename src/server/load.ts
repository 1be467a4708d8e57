/**
 * Loads `MODULE:EXPORT` for the CLI, the way Daphne reads `myproject.asgi:application`.
 *
 * MODULE is a file path (`./app.ts`, `examples/chat/app.ts`, `dist/app.js`)
 * or a package specifier; EXPORT defaults to `application` (then `default`).
 * TypeScript files are loaded through tsx's ESM loader, registered once;
 * tsx is a development dependency, so a production install without it gets
 * one line saying what to install or how to compile instead. `.js` apps need
 * nothing extra.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Application } from '../asgi.js';
import { ImproperlyConfigured } from '../errors.js';

const TSX_REGISTERED = Symbol.for('switchyard.tsxRegistered');

/**
 * Registers tsx's ESM loader unless this process already has one.
 *
 * @throws ImproperlyConfigured when tsx is not installed, naming `module`.
 */
export async function ensureTypeScript(module = 'a TypeScript module'): Promise<void> {
  const flags = globalThis as { [TSX_REGISTERED]?: boolean };
  if (flags[TSX_REGISTERED] === true) return;
  let api: typeof import('tsx/esm/api');
  try {
    api = await import('tsx/esm/api');
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    if (code !== 'ERR_MODULE_NOT_FOUND' || !/'tsx'|tsx\//.test(String((error as Error).message))) throw error;
    throw new ImproperlyConfigured(
      `Cannot load ${module}: TypeScript apps need tsx, which is not installed here. Install it (npm install -D tsx), `
        + 'or compile the app to JavaScript (npx tsc) and serve the .js file',
    );
  }
  api.register();
  flags[TSX_REGISTERED] = true;
}

/** Splits `path/to/app.ts:application` (the last `:` separates the export). */
export function parseTarget(target: string): { module: string; exportName: string } {
  const at = target.lastIndexOf(':');
  // `C:\...` on Windows has a colon at index 1; a one-letter module is not a thing.
  if (at > 1) return { module: target.slice(0, at), exportName: target.slice(at + 1) || 'application' };
  return { module: target, exportName: 'application' };
}

/**
 * Imports a module and returns the named export, checking it is callable.
 *
 * @example
 * ```ts
 * import { loadApplication } from 'switchyard/server';
 *
 * const app = await loadApplication('examples/chat/app.ts:application');
 * ```
 */
export async function loadApplication(target: string): Promise<Application> {
  const { module, exportName } = parseTarget(target);
  const isPath = module.startsWith('.') || module.startsWith('/') || /\.[cm]?[jt]sx?$/.test(module) || existsSync(module);
  if (isPath && !existsSync(resolve(module))) {
    throw new ImproperlyConfigured(`Cannot load ${JSON.stringify(target)}: no file ${resolve(module)}`);
  }
  if (/\.[cm]?tsx?$/.test(module)) await ensureTypeScript(module);
  const namespace = (await import(isPath ? pathToFileURL(resolve(module)).href : module)) as Record<string, unknown>;
  const found = namespace[exportName] ?? (exportName === 'application' ? namespace.default : undefined);
  if (typeof found !== 'function') {
    const names = Object.keys(namespace).join(', ') || '(none)';
    throw new ImproperlyConfigured(
      `${module} has no application export named '${exportName}' (exports: ${names}); use MODULE:EXPORT`,
    );
  }
  return found as Application;
}
