// `npm start` stopped as a container runtime stops it: one signal to the npm
// process only. The chat server under it must drain and every process exit.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { listening, runNpm, type Running } from '../helpers/processes.js';
import { delay } from '../helpers/time.js';
import { closedPort } from '../helpers/ports.js';

/** The live (not zombie) descendants of a process, from /proc. */
function descendants(root: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] !== 'Z') parents.set(Number(entry), Number(fields[1]));
    } catch { /* gone meanwhile */ }
  }
  const found: number[] = [];
  const walk = (pid: number): void => {
    for (const [child, parent] of parents) if (parent === pid) { found.push(child); walk(child); }
  };
  walk(root);
  return found;
}

/** Whether a process still runs (a zombie waiting for its reaper does not). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

async function answers(url: string): Promise<boolean> {
  try {
    await fetch(url, { signal: AbortSignal.timeout(1000) });
    return true;
  } catch {
    return false;
  }
}

describe('npm start and signals (processes)', () => {
  const running: Running[] = [];
  after(() => { for (const r of running) r.stop(); });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    test(`${signal} to the npm process alone: the server stops answering and every process exits within seconds`, async () => {
      const port = await closedPort();
      const npm = runNpm(['start'], { PORT: String(port), HOST: '127.0.0.1' });
      running.push(npm);
      const url = String((await npm.waitFor(listening, 30000)).url);
      assert.equal(url, `http://127.0.0.1:${port}`);
      assert.equal(await answers(url), true);
      const tree = descendants(npm.child.pid!);
      assert.ok(tree.length >= 1, 'npm runs the server in a child process');

      const sent = Date.now();
      npm.child.kill(signal);
      while (await answers(url)) {
        assert.ok(Date.now() - sent < 5000, `still answering ${Date.now() - sent} ms after ${signal}`);
        await delay(100);
      }
      await npm.exited;
      while ([npm.child.pid!, ...tree].some(alive)) {
        assert.ok(Date.now() - sent < 5000, `still running 5 s after ${signal}: ${[npm.child.pid!, ...tree].filter(alive).join(', ')}`);
        await delay(100);
      }
      assert.match(npm.output(), /Server stopped/);
    });
  }
});
