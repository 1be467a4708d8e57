// Starts a nats-server with JetStream on a port when nothing answers there.
// Used by the test runner; the machine's own NATS wins when it is up (CI starts one).
import { createConnection } from 'node:net';
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** True when a NATS server greets on the port (its first line is `INFO {...}`). */
function answers(port) {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('data', (d) => { socket.destroy(); resolve(d.toString().startsWith('INFO ')); });
    socket.once('error', () => resolve(false));
    socket.setTimeout(1000, () => { socket.destroy(); resolve(false); });
  });
}

export async function ensureNats(port = 4222) {
  if (await answers(port)) return;
  const storeDir = join(tmpdir(), `switchyard-nats-${port}`);
  mkdirSync(storeDir, { recursive: true });
  const binary = process.env.NATS_SERVER ?? 'nats-server';
  // Detached and unreferenced: it outlives this run, as the redis-server of redis-up.mjs does.
  const child = spawn(binary, ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', storeDir], { stdio: 'ignore', detached: true });
  const failed = new Promise((resolve) => child.once('error', (error) => resolve(error)));
  child.unref();
  for (let i = 0; i < 50; i++) {
    const error = await Promise.race([failed, new Promise((res) => setTimeout(() => res(null), 100))]);
    if (error) throw new Error(`NATS is not answering on 127.0.0.1:${port} and ${binary} could not start: ${error.message} (Debian: apt-get install nats-server)`);
    if (await answers(port)) return;
  }
  throw new Error(`nats-server started but does not answer on 127.0.0.1:${port}`);
}
