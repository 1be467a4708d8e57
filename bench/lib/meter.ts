/**
 * CPU accounting for one measured window: the servers', Redis's, the load
 * generator's, and everything else on the machine (noise).
 */
import { cpuNs, cpuTicks, noiseMeter } from './proc.js';

export interface Window {
  seconds: number;
  serverCpuS: number;
  redisCpuS: number;
  loadCpuS: number;
  /** Average cores busy with processes that are not part of the benchmark. */
  otherCores: number;
  /** Cores the hypervisor gave to other guests during the window (steal time). */
  stealCores: number;
  load1: number;
  /** The servers' CPU time spent in the kernel, as a share of theirs (system calls: on loopback, mostly socket writes). */
  serverKernelShare: number;
}

export interface Pids { server: number[]; redis: number | null; load: number[] }

const sum = (pids: number[]) => pids.reduce((s, pid) => s + cpuNs(pid), 0);
const ticks = (pids: number[]) => pids.map(cpuTicks).reduce((a, b) => ({ user: a.user + b.user, system: a.system + b.system }), { user: 0, system: 0 });

export function startWindow(pids: Pids): { stop(): Window } {
  const redisPids = pids.redis === null ? [] : [pids.redis];
  const t0 = performance.now();
  const server0 = sum(pids.server);
  const redis0 = sum(redisPids);
  const load0 = sum(pids.load);
  const ticks0 = ticks(pids.server);
  const noise = noiseMeter(() => [...pids.server, ...redisPids, ...pids.load, process.pid]);
  return {
    stop() {
      const { otherCores, stealCores, load1 } = noise.stop();
      const ticks1 = ticks(pids.server);
      const user = ticks1.user - ticks0.user;
      const system = ticks1.system - ticks0.system;
      return {
        seconds: (performance.now() - t0) / 1000,
        serverCpuS: (sum(pids.server) - server0) / 1e9,
        redisCpuS: (sum(redisPids) - redis0) / 1e9,
        loadCpuS: (sum(pids.load) - load0) / 1e9,
        otherCores,
        stealCores,
        load1,
        serverKernelShare: user + system > 0 ? system / (user + system) : 0,
      };
    },
  };
}

/** Flags for a window: noisy machine, or a load generator near saturation. */
export function flagsOf(window: Window, loadCores: number): string[] {
  const flags: string[] = [];
  if (window.otherCores > 0.25) flags.push(`noisy: other processes used ${window.otherCores.toFixed(2)} cores`);
  if (window.stealCores > 0.25) flags.push(`noisy: the hypervisor took ${window.stealCores.toFixed(2)} cores (steal time)`);
  const loadUse = window.loadCpuS / window.seconds;
  if (loadUse > 0.85 * loadCores) flags.push(`load generator busy: ${loadUse.toFixed(2)} of ${loadCores} cores`);
  return flags;
}
