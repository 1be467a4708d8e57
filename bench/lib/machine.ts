/** The machine and the versions of everything measured, recorded with every run. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function pkgVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(`${ROOT}node_modules/${name}/package.json`, 'utf8')) as { version: string }).version;
  } catch {
    return 'missing';
  }
}

function run(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unavailable';
  }
}

export function machineInfo() {
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    nofile: run('sh', ['-c', 'ulimit -n']),
  };
}

export function versions(redisVersion: string) {
  return {
    node: process.version,
    switchyard: run('git', ['rev-parse', '--short', 'HEAD']) + (run('git', ['status', '--porcelain', 'src', 'examples']) === '' ? '' : '+dirty'),
    ws: pkgVersion('ws'),
    socketio: pkgVersion('socket.io'),
    socketioRedisAdapter: pkgVersion('@socket.io/redis-adapter'),
    ioredis: pkgVersion('ioredis'),
    uws: pkgVersion('@trufflesuite/uws-js-unofficial'),
    bun: run(`${ROOT}node_modules/@oven/bun-linux-x64/bin/bun`, ['--version']),
    redis: redisVersion,
    python: run('/usr/bin/python3', ['-c', 'import sys; print(sys.version.split()[0])']),
    django: run('/usr/bin/python3', ['-c',
      'import django, channels, channels_redis, daphne; print(django.__version__, channels.__version__, channels_redis.__version__, daphne.__version__)']),
  };
}
