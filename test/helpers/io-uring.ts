// Whether this kernel lets a process set up io_uring (the native writer's road; see native/ring.c).
import { existsSync, readFileSync } from 'node:fs';

/** False where `kernel.io_uring_disabled` forbids it; true elsewhere on Linux (this machine kind's kernels have it). */
export function ioUringAllowed(): boolean {
  const setting = '/proc/sys/kernel/io_uring_disabled';
  return process.platform === 'linux' && (!existsSync(setting) || readFileSync(setting, 'utf8').trim() === '0');
}
