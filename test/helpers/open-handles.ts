/**
 * Preloaded into every test file's process (`scripts/run-tests.mjs`): the runner
 * ends a file's process once its tests are done (`--test-force-exit`), so a
 * handle left open (a socket, a timer, a reconnecting client) no longer hangs
 * the file until its time limit with every test passed and nothing named. It
 * is still said out loud: at exit, what would have kept the process alive is
 * written to stderr with the file's name: sockets, servers and child
 * processes; not those already closing (a server whose `close()` was
 * called, a destroyed socket), nor timers (a test's `delay()` raced against
 * a close is one, and ends by itself).
 */
import { ChildProcess } from 'node:child_process';
import { Server, Socket } from 'node:net';
import { relative } from 'node:path';

/** A handle that keeps the event loop alive and is not on its way out, described; null otherwise. */
function describe(handle: unknown): string | null {
  if (handle === process.stdin || handle === process.stdout || handle === process.stderr) return null;
  if (handle instanceof Server) return handle.listening ? `a server on ${JSON.stringify(handle.address())}` : null;
  if (handle instanceof Socket) {
    // Ended (closing gracefully), destroyed, or neither connected nor connecting: on its way out.
    if (handle.destroyed || handle.writableEnded) return null;
    if (handle.connecting) return 'a socket connecting';
    return handle.remoteAddress === undefined ? null : `a socket to ${handle.remoteAddress}:${handle.remotePort}`;
  }
  if (handle instanceof ChildProcess) return handle.exitCode === null && handle.signalCode === null ? `child process ${handle.pid} (${handle.spawnfile})` : null;
  return (handle as { constructor?: { name?: string } }).constructor?.name ?? 'a handle';
}

process.on('exit', () => {
  const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
  const open = handles.map(describe).filter((what): what is string => what !== null);
  if (open.length === 0) return;
  process.stderr.write(`open handles: ${relative(process.cwd(), process.argv[1] ?? '?')} ended with ${open.length} not closed yet (a leak, or a close still in flight): ${open.join('; ')}\n`);
});
