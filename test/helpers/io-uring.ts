// Whether this process may set up io_uring (the native writer's road; see native/ring.c), asked of the
// kernel itself by another program: Debian's python3, as the interop tests run it, calls
// io_uring_setup(1, params) through ctypes (syscall 425 on x86-64 and arm64). So a kernel setting,
// a seccomp profile and a missing syscall all count.
import { spawnSync } from 'node:child_process';

const PROBE = `
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
fd = libc.syscall(425, 1, ctypes.create_string_buffer(120))
print('yes' if fd >= 0 else 'no')
if fd >= 0: os.close(fd)
`;

let answer: boolean | undefined;

/** True when io_uring_setup succeeds here (asked once per process). */
export function ioUringAllowed(): boolean {
  if (answer === undefined) {
    if (process.platform !== 'linux' || !['x64', 'arm64'].includes(process.arch)) return (answer = false);
    const probe = spawnSync('/usr/bin/python3', ['-c', PROBE], { encoding: 'utf8' });
    if (probe.status !== 0) throw new Error(`the io_uring probe failed: ${probe.stderr || probe.error?.message}`);
    answer = probe.stdout.trim() === 'yes';
  }
  return answer;
}
