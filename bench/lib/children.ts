/**
 * Every child process the run starts, so that an interrupted run (Ctrl-C,
 * SIGTERM, a crash) leaves no server, load worker or Redis behind.
 */
import type { ChildProcess } from 'node:child_process';

const children = new Set<ChildProcess>();

export function adopt(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

export function killAll(): void {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
}

process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    killAll();
    process.exit(130);
  });
}
