/**
 * (e) Layer micro-benchmarks: Switchyard's in-memory, Redis core and Redis
 * pub/sub layers against channels' in-memory layer and channels_redis's core
 * and pub/sub layers (Python, the same measurements, the same Redis), each
 * in its own process on the server core.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { RunContext } from '../lib/context.js';
import { built } from '../lib/build.js';
import { adopt } from '../lib/children.js';
import { pin } from '../lib/proc.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function runJson(cmd: string, args: string[], env: Record<string, string>, cpus: string | null): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = adopt(spawn(cmd, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }));
    pin(child.pid!, cpus);
    let out = '';
    let err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr!.on('data', (d: Buffer) => { err = (err + d.toString()).slice(-2000); });
    child.on('exit', (code) => {
      clearTimeout(timer);
      const line = out.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(line) as Record<string, unknown>);
      } catch {
        reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err.trim().slice(-500)}`));
      }
    });
  });
}

export async function scenarioE(ctx: RunContext): Promise<void> {
  const env = { BENCH_REDIS_URL: ctx.redis.url };
  for (const layer of ['memory', 'redis', 'pubsub']) {
    for (const impl of ['switchyard', 'django']) {
      if (!ctx.wants(impl)) continue;
      ctx.log(`(e) ${impl} ${layer} layer`);
      await ctx.redis.flush();
      try {
        const result = impl === 'switchyard'
          ? await runJson(process.execPath, [built('bench/layers/micro.ts'), layer], env, ctx.plan.server)
          : await runJson('/usr/bin/python3', ['bench/django/layer_bench.py', layer], env, ctx.plan.server);
        ctx.log(`  ${JSON.stringify(result)}`);
        ctx.record('e', `${impl}-${layer}`, result);
      } catch (error) {
        ctx.log(`  failed: ${(error as Error).message}`);
        ctx.record('e', `${impl}-${layer}`, { layer, error: (error as Error).message });
      }
    }
  }
}
