// Starts a throwaway redis-server on a port when nothing answers there.
// Used by the test runner and the benchmarks; the machine's own Redis wins when it is up.
import { createConnection } from 'node:net';
import { spawnSync } from 'node:child_process';

function answers(port) {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.write('PING\r\n');
      socket.once('data', (d) => { socket.destroy(); resolve(d.toString().startsWith('+PONG')); });
    });
    socket.once('error', () => resolve(false));
    socket.setTimeout(1000, () => { socket.destroy(); resolve(false); });
  });
}

export async function ensureRedis(port = 6379) {
  if (await answers(port)) return;
  const r = spawnSync('redis-server', ['--daemonize', 'yes', '--bind', '127.0.0.1', '--port', String(port),
    '--save', '', '--appendonly', 'no'], { stdio: 'inherit' });
  if (r.error || r.status !== 0) {
    throw new Error(`Redis is not answering on 127.0.0.1:${port} and redis-server could not start: ${r.error?.message ?? `exit ${r.status}`}`);
  }
  for (let i = 0; i < 50; i++) {
    if (await answers(port)) return;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`redis-server started but does not answer on 127.0.0.1:${port}`);
}
