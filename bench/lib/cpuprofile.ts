/**
 * Summarises a V8 `.cpuprofile` (written by `node --cpu-prof`): self time by
 * area of the code (Switchyard's consumers, layer, server; ws; Node's
 * streams and sockets; GC) and the hottest functions, for samples inside a
 * time window (CLOCK_MONOTONIC µs, the clock V8 stamps samples with).
 */
import { readFileSync } from 'node:fs';

interface ProfileNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }
interface Profile { nodes: ProfileNode[]; startTime: number; endTime: number; samples: number[]; timeDeltas: number[] }

/** Which part of the stack a function belongs to. */
export function areaOf(url: string, name: string): string {
  if (name === '(garbage collector)') return 'GC';
  if (name === '(program)') return 'V8/native (program)';
  if (name === '(idle)') return 'idle';
  if (url.includes('/node_modules/ws/')) return 'ws (framing, socket writes)';
  if (url.includes('/src/consumers/')) return 'Switchyard consumers';
  if (url.includes('/src/layers/')) return 'Switchyard in-memory layer';
  if (url.includes('/src/redis/')) return 'Switchyard Redis layer';
  if (url.includes('/src/server/')) return 'Switchyard server bridge';
  if (url.includes('/src/')) return 'Switchyard other (routing, asgi, middleware)';
  if (url.includes('/examples/')) return 'chat example (ChatConsumer)';
  if (url.startsWith('node:') || url === '') return name === '' ? 'V8/native (program)' : 'Node core (net, streams) and builtins';
  if (url.includes('/node_modules/')) return `other packages (${/node_modules\/((@[^/]+\/)?[^/]+)/.exec(url)?.[1] ?? '?'})`;
  return 'other';
}

export interface ProfileSummary {
  sampledMs: number;
  busyMs: number;
  areas: Array<{ area: string; ms: number; percent: number }>;
  top: Array<{ fn: string; where: string; area: string; ms: number; percent: number }>;
}

export function summarizeProfile(path: string, windowUs?: [number, number]): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  let t = profile.startTime;
  let inWindow = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i]!;
    if (windowUs && (t < windowUs[0] || t > windowUs[1])) continue;
    const dt = profile.timeDeltas[i + 1] ?? 0;
    inWindow++;
    selfUs.set(profile.samples[i]!, (selfUs.get(profile.samples[i]!) ?? 0) + dt);
  }
  if (windowUs && inWindow === 0) return summarizeProfile(path); // clocks did not line up: use everything
  const areas = new Map<string, number>();
  const fns = new Map<string, { fn: string; where: string; area: string; us: number }>();
  let sampled = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id)!;
    const { functionName, url, lineNumber } = node.callFrame;
    const area = areaOf(url, functionName);
    sampled += us;
    if (area === 'idle') { idle += us; continue; }
    areas.set(area, (areas.get(area) ?? 0) + us);
    const where = url ? `${url.replace(/^.*\/(node_modules|src|examples)\//, '$1/').replace(/^file:\/\//, '')}:${lineNumber + 1}` : '';
    const key = `${functionName}@${where}`;
    const entry = fns.get(key) ?? { fn: functionName || '(anonymous)', where, area, us: 0 };
    entry.us += us;
    fns.set(key, entry);
  }
  const busy = sampled - idle;
  const pct = (us: number) => Math.round((us / Math.max(1, busy)) * 1000) / 10;
  return {
    sampledMs: Math.round(sampled / 1000),
    busyMs: Math.round(busy / 1000),
    areas: [...areas].sort((a, b) => b[1] - a[1]).map(([area, us]) => ({ area, ms: Math.round(us / 1000), percent: pct(us) })),
    top: [...fns.values()].sort((a, b) => b.us - a.us).slice(0, 20)
      .map((f) => ({ fn: f.fn, where: f.where, area: f.area, ms: Math.round(f.us / 1000), percent: pct(f.us) })),
  };
}
