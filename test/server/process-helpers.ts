// Runs the real `switchyard` command in a child process and reads its JSON log lines.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';

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
export function runCommand(command: string, args: string[], options: SpawnOptions): Running {
  return watch(spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] }));
}

/** A port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function watch(child: ChildProcess, group = false): Running {
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
  const stop = (): void => {
    if (group) {
      try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* already gone */ }
    } else if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  return { child, lines, output: () => raw, waitFor, exited, stop };
}

export const listening = (line: Record<string, unknown>): boolean => typeof line.msg === 'string' && line.msg.startsWith('Listening on');
