/**
 * Child processes for tests: spawn one, read its output as log lines (JSON
 * lines parsed, other lines as `{ text }`), wait for a line, stop it. Every
 * child still running when the test process exits is killed.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { once } from 'node:events';

/** A log line of a child: its JSON object, or `{ text }` for a line that is not JSON. */
export type Line = Record<string, unknown>;

/** A child process started by {@link run}, {@link runNpm} or {@link runCommand}, with its output read as lines. */
export interface Running {
  child: ChildProcess;
  /** Every line of stdout and stderr so far, in order. */
  lines: Line[];
  /** stdout and stderr so far, as text. */
  output: () => string;
  /**
   * Resolves with the first line that matches (now or later); rejects after
   * `ms`, or when the child exits without one, naming `what` (default: the
   * predicate's name or source) and the output so far.
   */
  waitFor: (match: (line: Line) => boolean, ms?: number, what?: string) => Promise<Line>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL (the whole process group for {@link runNpm}). */
  stop: () => void;
}

/** Starts `node bin/switchyard.js ...args`. */
export function run(args: string[], env: Record<string, string> = {}): Running {
  return watch(spawn(process.execPath, ['bin/switchyard.js', ...args], {
    env: { ...process.env, NODE_ENV: 'production', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  }));
}

/** Starts `npm ...args` in this checkout, in its own process group (so `stop()` ends the whole tree). */
export function runNpm(args: string[], env: Record<string, string> = {}): Running {
  return watch(spawn('npm', args, {
    env: { ...process.env, NODE_ENV: 'development', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  }), true);
}

/** Starts any command (`options.env` is used as given) and reads its output as `run()` does. */
export function runCommand(command: string, args: string[], options: SpawnOptions = {}): Running {
  return watch(spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] }));
}

/** Matches the server's "Listening on <url>" line. */
export const listening = (line: Line): boolean => typeof line.msg === 'string' && line.msg.startsWith('Listening on');

const alive = new Set<Running>();
process.once('exit', () => { for (const running of alive) running.stop(); });

function watch(child: ChildProcess, group = false): Running {
  const lines: Line[] = [];
  let raw = '';
  let pending = '';
  const watchers: Array<() => void> = [];
  const onData = (chunk: Buffer): void => {
    raw += chunk.toString();
    pending += chunk.toString();
    let nl: number;
    while ((nl = pending.indexOf('\n')) !== -1) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      try { lines.push(JSON.parse(line) as Line); } catch { lines.push({ text: line }); }
    }
    for (const watch of [...watchers]) watch();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
  const waitFor = (match: (line: Line) => boolean, ms = 15000, what = match.name || `a line matching ${String(match)}`): Promise<Line> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}; output so far:\n${raw}`)), ms);
      const check = (): void => {
        const found = lines.find(match);
        if (found !== undefined) {
          clearTimeout(timer);
          watchers.splice(watchers.indexOf(check), 1);
          resolve(found);
        }
      };
      watchers.push(check);
      void exited.then(() => setTimeout(() => { if (!lines.some(match)) { clearTimeout(timer); reject(new Error(`exited before ${what}; output:\n${raw}`)); } }, 50));
      check();
    });
  const stop = (): void => {
    if (group) {
      try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* already gone */ }
    } else if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  const running: Running = { child, lines, output: () => raw, waitFor, exited, stop };
  alive.add(running);
  if (!group) void exited.then(() => alive.delete(running)); // a group may outlive its leader
  return running;
}
