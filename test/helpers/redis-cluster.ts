/**
 * A throwaway Redis Cluster owned by one test file: 3 masters + 3 replicas,
 * `redis-server` processes on free ports (each also needs port + 10000 free,
 * its cluster bus), created with `redis-cli --cluster create`, a small
 * `cluster-node-timeout` so a killed master's replica takes over within a
 * few seconds. Stopped by pid, its temporary directory removed.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { delay } from './time.js';

const run = promisify(execFile);

/** True when a port can be bound on 127.0.0.1 right now. */
function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer().once('error', () => resolve(false)).listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Ports p with p and p + 10000 (the cluster bus) free, none within 10000 of another. */
async function clusterPorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < count) {
    const port = 20000 + Math.floor(Math.random() * 30000);
    if (ports.some((p) => Math.abs(p - port) < 2 || Math.abs(p + 10000 - port) < 2 || Math.abs(p - 10000 - port) < 2)) continue;
    if ((await bindable(port)) && (await bindable(port + 10000))) ports.push(port);
  }
  return ports;
}

/** One node of an {@link OwnedRedisCluster}. */
export interface ClusterNode {
  port: number;
  child: ChildProcess;
}

/** A Redis Cluster of 6 `redis-server` processes (3 masters, 3 replicas). */
export class OwnedRedisCluster {
  readonly nodes: ClusterNode[];
  readonly #dir: string;

  private constructor(nodes: ClusterNode[], dir: string) {
    this.nodes = nodes;
    this.#dir = dir;
  }

  /**
   * Starts and creates the cluster; resolves once every node says
   * `cluster_state:ok` and, with `replicas` (for failover tests; about 10 s
   * more), once every node knows each master's replica.
   */
  static async start({ nodeTimeoutMs = 1000, replicas = false }: { nodeTimeoutMs?: number; replicas?: boolean } = {}): Promise<OwnedRedisCluster> {
    const dir = mkdtempSync(join(tmpdir(), 'sy-cluster-'));
    const ports = await clusterPorts(6);
    const nodes = ports.map((port) => ({
      port,
      child: spawn('redis-server', [
        '--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`),
        '--cluster-node-timeout', String(nodeTimeoutMs), '--save', '', '--appendonly', 'no', '--dir', dir,
        // Replicas attach at once (the default waits 5 s for more replicas to share one transfer).
        '--repl-diskless-sync-delay', '0',
      ], { stdio: 'ignore' }),
    }));
    const cluster = new OwnedRedisCluster(nodes, dir);
    try {
      for (const node of nodes) await waitPing(node.port);
      await run('redis-cli', ['--cluster', 'create', ...ports.map((port) => `127.0.0.1:${port}`), '--cluster-replicas', '1', '--cluster-yes'], { timeout: 30_000 });
      await cluster.waitHealthy(30_000, { replicas });
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  /** Seed nodes for a client (all of them). */
  get seeds(): { host: string; port: number }[] {
    return this.nodes.map((node) => ({ host: '127.0.0.1', port: node.port }));
  }

  /** A `redis+cluster://` URL (core flavour; `redis+pubsub+cluster` for the other) naming every node. */
  url(scheme = 'redis+cluster'): string {
    const [first, ...rest] = this.nodes;
    return `${scheme}://127.0.0.1:${first!.port}?${rest.map((node) => `host=127.0.0.1:${node.port}`).join('&')}`;
  }

  /** The live nodes. */
  get alive(): ClusterNode[] {
    return this.nodes.filter((node) => node.child.exitCode === null && node.child.signalCode === null);
  }

  /**
   * Resolves once every live node reports `cluster_state:ok` and, with
   * `replicas`, every slot range lists a master and a replica whose link is
   * up on every node (a new cluster's replicas attach a moment after it is ok).
   */
  async waitHealthy(timeoutMs: number, { replicas = false }: { replicas?: boolean } = {}): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (await this.#healthy(replicas)) return;
      if (Date.now() > deadline) throw new Error(`the Redis Cluster is not healthy within ${timeoutMs} ms`);
      await delay(100);
    }
  }

  async #healthy(replicas: boolean): Promise<boolean> {
    try {
      for (const node of this.alive) {
        if (!String(await command(node.port, ['CLUSTER', 'INFO'])).includes('cluster_state:ok')) return false;
        if (!replicas) continue;
        const slots = (await command(node.port, ['CLUSTER', 'SLOTS'])) as unknown[][];
        if (slots.length === 0 || slots.some((range) => range.length < 4)) return false;
        const info = String(await command(node.port, ['INFO', 'replication']));
        if (info.includes('role:slave') && !info.includes('master_link_status:up')) return false;
      }
      return true;
    } catch {
      return false;
    }
  }

  /** The port of the master serving a key, as a live node sees it. */
  async masterOf(key: string): Promise<number> {
    return (await this.#rangeOf(key))[2]![1];
  }

  /** How many replicas the master of a key has, as a live node sees it. */
  async replicasOf(key: string): Promise<number> {
    return (await this.#rangeOf(key)).length - 3;
  }

  async #rangeOf(key: string): Promise<[number, number, ...[string, number][]]> {
    const port = this.alive[0]!.port;
    const slot = Number(await command(port, ['CLUSTER', 'KEYSLOT', key]));
    const slots = (await command(port, ['CLUSTER', 'SLOTS'])) as Array<[number, number, ...[string, number][]]>;
    const range = slots.find(([from, to]) => slot >= from && slot <= to);
    if (range === undefined) throw new Error(`no master serves slot ${slot}`);
    return range;
  }

  /** Kills a node with SIGKILL (a crash) and waits for it to exit. */
  async kill(port: number): Promise<void> {
    const node = this.nodes.find((each) => each.port === port);
    if (node === undefined || node.child.exitCode !== null || node.child.signalCode !== null) return;
    const exited = new Promise((resolve) => node.child.once('exit', resolve));
    node.child.kill('SIGKILL');
    await exited;
  }

  /** Kills every node it started (by pid) and removes its directory. */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((node) => this.kill(node.port)));
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

/** One command on one node, on a connection of its own (no cluster redirection). */
async function command(port: number, args: string[]): Promise<unknown> {
  const client = new Redis({ port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1000 });
  client.on('error', () => {});
  try {
    await client.connect();
    return await client.call(args[0]!, ...args.slice(1));
  } finally {
    client.disconnect();
  }
}

async function waitPing(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      await command(port, ['PING']);
      return;
    } catch {
      await delay(50);
    }
  }
  throw new Error(`redis-server did not start on port ${port}`);
}
