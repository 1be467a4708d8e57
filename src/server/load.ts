/**
 * Loads `MODULE:EXPORT` for the CLI, the way Daphne reads `myproject.asgi:application`.
 *
 * MODULE is a file path (`./app.ts`, `examples/chat/app.ts`, `dist/app.js`)
 * or a package specifier; EXPORT defaults to `application` (then `default`).
 * TypeScript files are loaded through tsx's ESM loader, registered once.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Application } from '../asgi.js';
import { ImproperlyConfigured } from '../errors.js';

const TSX_REGISTERED = Symbol.for('switchyard.tsxRegistered');

/** Registers tsx's ESM loader unless this process already has one. */
export async function ensureTypeScript(): Promise<void> {
  const flags = globalThis as { [TSX_REGISTERED]?: boolean };
  if (flags[TSX_REGISTERED] === true) return;
  const { register } = await import('tsx/esm/api');
  register();
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
  if (/\.[cm]?tsx?$/.test(module)) await ensureTypeScript();
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
