// Runs the real `switchyard` command in a child process and reads its JSON log lines.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';

export interface Running {
  child: ChildProcess;
  lines: Array<Record<string, unknown>>;
  output: () => string;
  /** Resolves with the first line that matches. */
  waitFor: (match: (line: Record<string, unknown>) => boolean, ms?: number) => Promise<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop: () => void;
}

/** Starts `node bin/switchyard.js ...args`. */
export function run(args: string[], env: Record<string, string> = {}): Running {
  const child = spawn(process.execPath, ['bin/switchyard.js', ...args], {
    env: { ...process.env, NODE_ENV: 'production', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Array<Record<string, unknown>> = [];
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
      try { lines.push(JSON.parse(line) as Record<string, unknown>); } catch { lines.push({ text: line }); }
    }
    for (const watch of [...watchers]) watch();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
  const waitFor = (match: (line: Record<string, unknown>) => boolean, ms = 15000): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out; output so far:\n${raw}`)), ms);
      const check = (): void => {
        const found = lines.find(match);
        if (found !== undefined) {
          clearTimeout(timer);
          watchers.splice(watchers.indexOf(check), 1);
          resolve(found);
        }
      };
      watchers.push(check);
      void exited.then(() => setTimeout(() => { if (!lines.some(match)) { clearTimeout(timer); reject(new Error(`exited; output:\n${raw}`)); } }, 50));
      check();
    });
  const stop = (): void => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); };
  return { child, lines, output: () => raw, waitFor, exited, stop };
}

export const listening = (line: Record<string, unknown>): boolean => typeof line.msg === 'string' && line.msg.startsWith('Listening on');
