/**
 * Reading a process's CPU time and memory from /proc, and the machine's load.
 *
 * CPU comes from `/proc/<pid>/task/<tid>/schedstat` (nanoseconds on the CPU,
 * summed over threads) rather than `/proc/<pid>/stat` (10 ms ticks), because
 * a 5-second phase at low rates uses only a few ticks of CPU.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';

/** Nanoseconds of CPU used so far by every live thread of `pid` (0 when it is gone). */
export function cpuNs(pid: number): number {
  let total = 0;
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return 0;
  }
  for (const tid of tasks) {
    try {
      total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'latin1').split(' ')[0]);
    } catch {
      // the thread ended between readdir and read
    }
  }
  return total;
}

/** Clock ticks of `pid` in user and in kernel mode so far (/proc/<pid>/stat; 10 ms ticks: for shares, not totals). */
export function cpuTicks(pid: number): { user: number; system: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { user: Number(fields[11]), system: Number(fields[12]) };
  } catch {
    return { user: 0, system: 0 };
  }
}

/** Resident set size of `pid` in bytes (VmRSS). */
export function rssBytes(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/**
 * Jiffies of the whole machine, from the first line of /proc/stat: busy
 * (processes, kernel, interrupts), steal (time the hypervisor gave to other
 * guests: this machine's cores were not ours) and total. Guest time is
 * already counted in user time, so it is left out.
 */
export function machineJiffies(): { busy: number; steal: number; total: number } {
  const fields = readFileSync('/proc/stat', 'latin1').split('\n', 1)[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  const steal = fields[7] ?? 0;
  return { busy: total - idle - steal, steal, total };
}

/** Pins every thread of `pid` to the given CPU list (`taskset -a -p -c`); false when taskset fails. */
export function pin(pid: number, cpuList: string | null): boolean {
  if (cpuList === null) return false;
  try {
    execFileSync('taskset', ['-a', '-p', '-c', cpuList, String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The cores used for servers and for the load generator (different when there are two or more). */
export function corePlan(): { server: string | null; load: string | null; cores: number } {
  const cores = cpus().length;
  if (cores < 2) return { server: null, load: null, cores };
  // Servers get the last core; the load generator, Redis and the orchestrator share the others.
  return { server: String(cores - 1), load: cores === 2 ? '0' : `0-${cores - 2}`, cores };
}

/**
 * Watches how busy the machine is besides our own processes. `stop()` returns
 * the average number of cores used by everything else during the window.
 */
export function noiseMeter(ownPids: () => number[]): { stop(): { otherCores: number; stealCores: number; load1: number } } {
  const hz = 100; // USER_HZ on Linux
  const start = machineJiffies();
  const ownStart = ownPids().reduce((sum, pid) => sum + cpuNs(pid), 0);
  const t0 = performance.now();
  return {
    stop() {
      const end = machineJiffies();
      const seconds = (performance.now() - t0) / 1000;
      const busy = (end.busy - start.busy) / hz;
      const own = (ownPids().reduce((sum, pid) => sum + cpuNs(pid), 0) - ownStart) / 1e9;
      const span = Math.max(seconds, 1e-3);
      return { otherCores: Math.max(0, (busy - own) / span), stealCores: (end.steal - start.steal) / hz / span, load1: loadavg()[0]! };
    },
  };
}
