/**
 * How the bench's Switchyard servers run: `serve()` on 127.0.0.1 with no
 * access log (as the references), ended by SIGTERM or SIGINT with a normal
 * exit, so that `--cpu-prof` writes its profile.
 */
import type { Application } from 'switchyard';
import { serve } from 'switchyard/server';

/** Serves `application` on 127.0.0.1:`port` until the process is told to stop. */
export async function serveUntilStopped(application: Application, port: number): Promise<void> {
  const server = await serve(application, { host: '127.0.0.1', port, accessLog: false, logLevel: 'warn' });
  const stop = () => {
    setTimeout(() => process.exit(0), 3000).unref();
    void server.close({ timeout: 1 }).finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
