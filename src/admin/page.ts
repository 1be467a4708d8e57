/**
 * The dashboard page's files (`page/`: plain HTML, JS and CSS, no build),
 * read once and kept.
 *
 * They are found next to this module (`src/admin/page/` when running from
 * source); compiled code in `dist/src/admin/` falls back to the package's
 * own `src/admin/page/` (the package ships `src`), so the build needs no
 * copy step.
 */
import { readFile } from 'node:fs/promises';

/** A served file. */
export interface PageFile { body: Uint8Array; contentType: string }

const FILES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'dashboard.js': 'text/javascript; charset=utf-8',
  'dashboard.css': 'text/css; charset=utf-8',
};

const PLACES = [new URL('./page/', import.meta.url), new URL('../../../src/admin/page/', import.meta.url)];

const cache = new Map<string, Promise<PageFile>>();

/** Whether `name` is one of the page's files. */
export function isPageFile(name: string): boolean {
  return Object.hasOwn(FILES, name);
}

/** One of the page's files (rejects for another name, or when it cannot be read). */
export function pageFile(name: string): Promise<PageFile> {
  if (!isPageFile(name)) return Promise.reject(new Error(`Not a dashboard file: ${name}`));
  let loading = cache.get(name);
  if (loading === undefined) {
    loading = (async () => {
      let lastError: unknown;
      for (const place of PLACES) {
        try {
          return { body: await readFile(new URL(name, place)), contentType: FILES[name]! };
        } catch (error) {
          lastError = error;
        }
      }
      throw lastError;
    })();
    loading.catch(() => cache.delete(name)); // a failed read is tried again next time
    cache.set(name, loading);
  }
  return loading;
}
