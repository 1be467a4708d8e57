/**
 * A server that npm started stops when npm does.
 *
 * `npm start`, `npm run …` and `npx switchyard` run the command through a
 * shell. On SIGTERM (a container runtime stopping the service, Ctrl-C in a
 * supervisor) npm signals that shell, and a shell that did not `exec` its
 * command (Debian's dash does not) dies without passing the signal on: the
 * server is orphaned and keeps serving with no one left to stop it. So a
 * process started by npm watches its parent, and when the parent is gone it
 * sends itself SIGTERM: the same graceful drain as a direct signal.
 *
 * Outside npm nothing is watched: `nohup switchyard serve &` outlives its shell
 * on purpose.
 */
import cluster from 'node:cluster';

const POLL_MS = 250;
let watching = false;

/** Starts the watch once per process, if npm started this process (and it is not a cluster worker, which follows its primary). */
export function stopWithNpmParent(): void {
  const underNpm = process.env.npm_lifecycle_event !== undefined || process.env.npm_command !== undefined;
  if (watching || !underNpm || cluster.isWorker) return;
  watching = true;
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    process.kill(process.pid, 'SIGTERM');
  }, POLL_MS);
  timer.unref();
}
