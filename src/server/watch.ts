/**
 * Watches an app's source files for `switchyard serve --reload`.
 *
 * How it works: every directory under the roots gets its own non-recursive
 * `fs.watch`, except `node_modules`, `dist`, `build`, `coverage` and hidden
 * directories (`.git`...), which are never walked: a recursive watch would
 * put an inotify watch on each of the thousands of directories of
 * `node_modules`. A directory created later is walked when it appears.
 * Changes to source files (`.ts`, `.tsx`, `.mts`, `.cts`, `.js`, `.jsx`,
 * `.mjs`, `.cjs`, `.json`) are collected for a short quiet period, so an
 * editor's write-rename-chmod burst, or a `git checkout` of many files, is
 * one change.
 */
import { type FSWatcher, readdirSync, statSync, watch } from 'node:fs';
import { join, resolve } from 'node:path';

/** Directory names never watched. */
const IGNORED_DIRECTORIES = new Set(['node_modules', 'dist', 'build', 'coverage', '__pycache__']);
/** Files whose change restarts the app. */
const SOURCE_FILE = /\.(?:[cm]?[jt]sx?|json)$/;

/** Options of {@link watchSources}. */
export interface WatchOptions {
  /** Directories to watch, recursively. */
  roots: readonly string[];
  /** Called with the changed files (absolute paths) after a quiet period. */
  onChange: (files: string[]) => void;
  /** The quiet period, ms. Default 150. */
  debounceMs?: number;
}

/** Whether a directory is skipped (dependencies, build output, VCS and other hidden directories). */
export function isIgnoredDirectory(name: string): boolean {
  return IGNORED_DIRECTORIES.has(name) || name.startsWith('.');
}

/**
 * Starts watching; `close()` stops.
 *
 * @example
 * ```ts
 * import { watchSources } from './watch.js';
 *
 * const watcher = watchSources({ roots: [process.cwd()], onChange: (files) => console.log('changed:', files) });
 * watcher.close();
 * ```
 */
export function watchSources(options: WatchOptions): { close(): void } {
  const watchers = new Map<string, FSWatcher>();
  let changed = new Set<string>();
  let timer: NodeJS.Timeout | null = null;
  let closed = false;

  const flush = (): void => {
    timer = null;
    const files = [...changed];
    changed = new Set();
    if (files.length > 0 && !closed) options.onChange(files);
  };

  const add = (dir: string): void => {
    if (watchers.has(dir) || closed) return;
    let watcher: FSWatcher;
    try {
      watcher = watch(dir, (_event, name) => {
        if (name === null) return;
        const path = join(dir, name.toString());
        if (SOURCE_FILE.test(path)) {
          changed.add(path);
          if (timer !== null) clearTimeout(timer);
          timer = setTimeout(flush, options.debounceMs ?? 150);
          return;
        }
        // A new directory (a new package of the app, a checkout): watch it too.
        if (!isIgnoredDirectory(name.toString())) {
          try {
            if (statSync(path).isDirectory()) walk(path);
          } catch { /* gone already */ }
        }
      });
    } catch {
      return; // unreadable or vanished: nothing to watch
    }
    watcher.on('error', () => {
      watcher.close();
      watchers.delete(dir);
    });
    watchers.set(dir, watcher);
  };

  const walk = (dir: string): void => {
    add(dir);
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      if (entry.isDirectory() && !isIgnoredDirectory(entry.name)) walk(join(dir, entry.name));
    }
  };

  for (const root of options.roots) walk(resolve(root));
  return {
    close() {
      closed = true;
      if (timer !== null) clearTimeout(timer);
      for (const watcher of watchers.values()) watcher.close();
      watchers.clear();
    },
  };
}
