/** TCP ports for tests: one to listen on, one nothing listens on. */
import { createServer } from 'node:net';

/** A TCP port free on 127.0.0.1 right now (the OS picks it, then it is released), for a server a test starts in another process. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().once('error', reject).listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** A port nothing listens on (bound, then released): a connection to it is refused. */
export const closedPort = freePort;
