/**
 * Renders BENCHMARKS.md from bench/results/results.jsonl: for every scenario
 * and server, the latest record. Runnable alone: `npx tsx bench/render.ts`.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Step } from './scenarios/fanout.js';

const RESULTS = fileURLToPath(new URL('./results/results.jsonl', import.meta.url));
const OUT = fileURLToPath(new URL('../BENCHMARKS.md', import.meta.url));

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Rec = Record<string, any>;

const LABELS: Record<string, string> = {
  rawws: 'raw ws', switchyard: 'Switchyard', 'switchyard-app': 'Switchyard (full app stack)', socketio: 'Socket.IO 4',
  django: 'Django Channels', 'rawws-redis': 'raw ws + PUBLISH', 'switchyard-redis': 'Switchyard (Redis core)',
  'switchyard-pubsub': 'Switchyard (Redis pub/sub)', 'socketio-redis': 'Socket.IO + Redis adapter',
  'switchyard-4-redis': 'Redis, pub/sub layer', 'switchyard-4-cluster': 'Redis Cluster (3 masters), sharded pub/sub', 'switchyard-4-nats': 'NATS',
  uws: 'uWebSockets.js', bun: 'Bun', tunedws: 'tuned ws', 'chat-js': 'chat demo (JS)', 'chat-npmstart': 'chat demo (npm start)',
  'sy-asgi': 'Switchyard server alone', 'sy-declared': 'declared render', 'sy-plain': 'plainly written handler',
};
const ORDER_SINGLE = ['rawws', 'switchyard', 'switchyard-app', 'sy-asgi', 'sy-declared', 'sy-plain', 'socketio', 'django', 'uws', 'bun', 'tunedws', 'chat-js', 'chat-npmstart'];
const ORDER_D = ['rawws-redis', 'switchyard-pubsub', 'switchyard-redis', 'socketio-redis', 'django'];

const fmt = (v: unknown, digits = 2): string => (v === null || v === undefined ? '—' : typeof v === 'number' ? String(Math.round(v * 10 ** digits) / 10 ** digits) : String(v));
const ratio = (v: number | null | undefined, ref: number | null | undefined): string =>
  v == null || ref == null || ref === 0 ? '—' : `${(v / ref).toFixed(2)}×`;
const row = (cells: string[]) => `| ${cells.join(' | ')} |`;
const table = (head: string[], rows: string[][]) => [row(head), row(head.map(() => '---')), ...rows.map(row)].join('\n');

export function latest(): Map<string, Rec> {
  const byKey = new Map<string, Rec>();
  if (!existsSync(RESULTS)) return byKey;
  for (const line of readFileSync(RESULTS, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    const rec = JSON.parse(line) as Rec;
    byKey.set(`${rec.scenario}/${rec.server}`, rec);
  }
  return byKey;
}

function flagsOf(rec: Rec | undefined): string[] {
  if (rec === undefined) return [];
  const flags = new Set<string>();
  const add = (list?: string[]) => list?.forEach((f) => flags.add(f.replace(/[\d.]+ cores/, 'n cores').replace(/: .*$/, '')));
  add(rec.flags);
  rec.steps?.forEach((s: Step) => add(s.flags));
  add(rec.rooms?.flags);
  rec.fanout?.steps?.forEach((s: Step) => add(s.flags));
  return [...flags];
}

function sectionA(recs: Map<string, Rec>): string {
  const servers = ORDER_SINGLE.filter((s) => recs.has(`a/${s}`));
  if (servers.length === 0) return '';
  const get = (s: string) => recs.get(`a/${s}`)!;
  const raw = recs.get('a/rawws');
  const rows: string[][] = [
    ['highest rate with p99 < 100 ms, nothing lost (msg/s)', ...servers.map((s) => fmt(get(s).maxRate ?? (get(s).error ? 'error' : 'none')))],
    ['deliveries/s at that rate', ...servers.map((s) => fmt(get(s).maxRate != null ? get(s).maxRate * get(s).members : null))],
    ['p99 at 200 msg/s (ms)', ...servers.map((s) => fmt(get(s).p99At200))],
    ['  ratio to raw ws', ...servers.map((s) => ratio(get(s).p99At200, raw?.p99At200))],
    ['server CPU per delivery at 100 msg/s (µs)', ...servers.map((s) => fmt(get(s).cpuUsPerDeliveryAt100))],
    ['server CPU per delivery at 200 msg/s (µs)', ...servers.map((s) => fmt(get(s).cpuUsPerDeliveryAt200))],
    ['  ratio to raw ws (200 msg/s)', ...servers.map((s) => ratio(get(s).cpuUsPerDeliveryAt200, raw?.cpuUsPerDeliveryAt200))],
    ['server RSS after the run (MB)', ...servers.map((s) => fmt(get(s).serverRssMB, 1))],
    ['flags', ...servers.map((s) => flagsOf(get(s)).join('; ') || '—')],
  ];
  const rates = [...new Set(servers.flatMap((s) => (get(s).steps ?? []).map((st: Step) => st.rate)))].sort((a, b) => a - b);
  const detail = rates.map((rate) => [String(rate), ...servers.map((s) => {
    const st = (get(s).steps ?? []).find((x: Step) => x.rate === rate) as Step | undefined;
    if (st === undefined) return '—';
    return `${st.pass ? '' : '**✗** '}p50 ${fmt(st.p50, 1)} / p99 ${fmt(st.p99, 1)} ms, ${fmt(st.cpuUsPerDelivery, 1)} µs, ${fmt(st.serverCores)} cores${st.lost > 0 ? `, lost ${st.lost}` : ''}`;
  })]);
  return `## (a) Fan-out: 1 room × 500 clients, 1 sender at rising rates

Each step lasts ${get(servers[0]!).stepMs / 1000} s; a step passes with p99 < 100 ms at every receiver and nothing lost. The ladder stops at the first failing step. CPU is the server process's (all threads), divided by deliveries.

${table(['', ...servers.map((s) => LABELS[s] ?? s)], rows)}

Per step (p50 / p99 at every receiver, server CPU µs per delivery, server cores used; ✗ = failed):

${table(['msg/s', ...servers.map((s) => LABELS[s] ?? s)], detail)}
`;
}

function sectionInterleaved(recs: Map<string, Rec>): string {
  const servers = ORDER_SINGLE.filter((s) => recs.has(`a-interleaved/${s}`));
  if (servers.length === 0) return '';
  const at = (s: string, rate: number) => (recs.get(`a-interleaved/${s}`)!.results as Rec[]).find((r) => r.rate === rate);
  const rates = [...new Set(servers.flatMap((s) => (recs.get(`a-interleaved/${s}`)!.results as Rec[]).map((r) => r.rate)))].sort((a, b) => a - b);
  const rows: string[][] = [];
  for (const rate of rates) {
    rows.push([`${rate} msg/s: server CPU per delivery (µs)`, ...servers.map((s) => fmt(at(s, rate)?.cpuUsPerDelivery))]);
    rows.push(['  ratio to raw ws', ...servers.map((s) => ratio(at(s, rate)?.cpuUsPerDelivery, at('rawws', rate)?.cpuUsPerDelivery))]);
    rows.push([`${rate} msg/s: server cores used`, ...servers.map((s) => {
      const cores = ((at(s, rate)?.steps ?? []) as Step[]).map((st) => st.serverCores).sort((x, y) => x - y);
      return cores.length ? fmt(cores[cores.length >> 1], 2) : '—';
    })]);
    rows.push([`${rate} msg/s: p50 / p99 (ms)`, ...servers.map((s) => `${fmt(at(s, rate)?.p50)} / ${fmt(at(s, rate)?.p99)}`)]);
    rows.push(['  p99 ratio to raw ws', ...servers.map((s) => ratio(at(s, rate)?.p99, at('rawws', rate)?.p99))]);
    rows.push([`${rate} msg/s: lost (all rounds)`, ...servers.map((s) => fmt(at(s, rate)?.lost))]);
  }
  const rounds = at(servers[0]!, rates[0]!)?.rounds ?? '?';
  return `### (a) interleaved: the same rates, servers taking turns

All these servers run at once, pinned to the server core, each with its 500 clients connected; ${rounds} rounds of 3 s steps go round the servers in turn, each round starting with the next server, so that each sees the same machine noise and none always follows the same one. Medians over the rounds. **The targets use these figures.**

${table(['', ...servers.map((s) => LABELS[s] ?? s)], rows)}
`;
}

function sectionB(recs: Map<string, Rec>): string {
  const servers = ORDER_SINGLE.filter((s) => recs.has(`b/${s}`));
  if (servers.length === 0) return '';
  const get = (s: string) => recs.get(`b/${s}`)!;
  const raw = recs.get('b/rawws');
  const rows = [
    ['sent / lost', ...servers.map((s) => (get(s).error ? 'error' : `${get(s).sent} / ${get(s).lost}`))],
    ['p50 (ms)', ...servers.map((s) => fmt(get(s).p50))],
    ['p99 (ms)', ...servers.map((s) => fmt(get(s).p99))],
    ['server CPU (cores)', ...servers.map((s) => fmt(get(s).serverCores, 3))],
    ['  ratio to raw ws', ...servers.map((s) => ratio(get(s).serverCores, raw?.serverCores))],
    ['server CPU per delivery (µs)', ...servers.map((s) => fmt(get(s).cpuUsPerDelivery, 1))],
    ['Redis CPU (cores)', ...servers.map((s) => fmt(get(s).redisCores, 3))],
    ['flags', ...servers.map((s) => flagsOf(get(s)).join('; ') || '—')],
  ];
  const rounds = Math.max(...servers.map((s) => Number(get(s).rounds ?? 1)));
  const method = rounds > 1
    ? `The Node servers run at once, each with its 1,000 clients connected; ${rounds} rounds of ${fmt(get(servers[0]!).seconds)} s steps go round them, each round starting with the next server; medians over the rounds (sent and lost: all rounds). Django Channels runs alone, once.`
    : `One ${fmt(get(servers[0]!).seconds)} s step per server.`;
  return `## (b) 100 rooms × 10 clients, 1 sender per room at 5 msg/s

${method}

${table(['', ...servers.map((s) => LABELS[s] ?? s)], rows)}
`;
}

function sectionC(recs: Map<string, Rec>): string {
  const servers = ORDER_SINGLE.filter((s) => recs.has(`c/${s}`));
  if (servers.length === 0) return '';
  const get = (s: string) => recs.get(`c/${s}`)!;
  const raw = recs.get('c/rawws');
  const rows = [
    ['connections (failed)', ...servers.map((s) => `${fmt(get(s).connections)} (${fmt(get(s).failed ?? 0)})`)],
    ['RSS per idle connection (KB)', ...servers.map((s) => fmt(get(s).rssPerConnectionKB, 1))],
    ['  ratio to raw ws', ...servers.map((s) => ratio(get(s).rssPerConnectionKB, raw?.rssPerConnectionKB))],
    ['RSS per connection once settled (KB)', ...servers.map((s) => fmt(get(s).rssSettledPerConnectionKB, 1))],
    ['RSS before → after (MB)', ...servers.map((s) => `${fmt(get(s).rssBeforeMB, 0)} → ${fmt(get(s).rssAfterMB, 0)}`)],
    ['connect rate (connections/s)', ...servers.map((s) => fmt(get(s).connectPerSecond, 0))],
  ];
  return `## (c) 10,000 idle connections (100 rooms of 100)

RSS per connection = (server RSS 3 s after the last connect − RSS before the first) / connections; no forced GC. Connections are opened 50 at a time per load worker. "Once settled" is the same after the connections have idled 45 s (\`BENCH_IDLE_SETTLE\`): by then a server that pings its clients (Switchyard every 20 s) has collected garbage while allocating little, and V8 has given back the young generation the connect storm grew; a server whose idle connections allocate nothing keeps it.

${table(['', ...servers.map((s) => LABELS[s] ?? s)], rows)}
`;
}

function sectionD(recs: Map<string, Rec>): string {
  const servers = ORDER_D.filter((s) => recs.has(`d/${s}`));
  if (servers.length === 0) return '';
  const get = (s: string) => recs.get(`d/${s}`)!;
  const sio = recs.get('d/socketio-redis');
  const perBroadcast = (m?: Record<string, number>) => (m ? Object.entries(m).filter(([, v]) => v >= 0.05).map(([k, v]) => `${k} ${v}`).join(', ') : '—');
  const rows: string[][] = [
    ['rooms: sent / lost', ...servers.map((s) => (get(s).error ? 'error' : `${get(s).rooms.sent} / ${get(s).rooms.lost}`))],
    ['rooms: p50 / p99 (ms)', ...servers.map((s) => (get(s).rooms ? `${fmt(get(s).rooms.p50)} / ${fmt(get(s).rooms.p99)}` : '—'))],
    ['  p99 ratio to Socket.IO + adapter', ...servers.map((s) => ratio(get(s).rooms?.p99, sio?.rooms?.p99))],
    ['rooms: CPU of both servers / Redis (cores)', ...servers.map((s) => (get(s).rooms ? `${fmt(get(s).rooms.serverCores, 3)} / ${fmt(get(s).rooms.redisCores, 3)}` : '—'))],
    ['rooms: Redis commands per broadcast', ...servers.map((s) => perBroadcast(get(s).rooms?.redisPerBroadcast))],
  ];
  for (const rate of [50, 100, 200]) {
    rows.push([`fan-out 500 at ${rate} msg/s: lost, p99 (ms)`, ...servers.map((s) => {
      const st = (get(s).fanout?.steps ?? []).find((x: Step) => x.rate === rate) as Step | undefined;
      return st ? `${st.lost}, ${st.received > 0 ? fmt(st.p99, 1) : 'nothing received'}${st.pass ? '' : ' ✗'}` : '—';
    })]);
    rows.push([`  p99 ratio to Socket.IO + adapter`, ...servers.map((s) => {
      const st = (get(s).fanout?.steps ?? []).find((x: Step) => x.rate === rate) as Step | undefined;
      const ref = (sio?.fanout?.steps ?? []).find((x: Step) => x.rate === rate) as Step | undefined;
      return st?.received ? ratio(st.p99, ref?.p99) : '—';
    })]);
  }
  rows.push(['fan-out: Redis commands per broadcast', ...servers.map((s) => perBroadcast(get(s).fanout?.redisPerBroadcast))]);
  rows.push(['flags', ...servers.map((s) => flagsOf(get(s)).join('; ') || (get(s).error ?? '—'))]);
  return `## (d) Two server processes on one Redis

Clients alternate between the two processes (both pinned to the server core), so every room has members on both. Rooms: (b)'s shape, senders alternating between the processes. Fan-out: 1 room × 500 (250 per process), the sender on the first process, 4 s per rate. Redis commands are counted with \`INFO commandstats\` on the run's private Redis.

${table(['', ...servers.map((s) => LABELS[s] ?? s)], rows)}
`;
}

const ORDER_F = ['switchyard-4-redis', 'switchyard-4-cluster', 'switchyard-4-nats'];

function sectionF(recs: Map<string, Rec>): string {
  const servers = ORDER_F.filter((s) => recs.has(`f/${s}`));
  if (servers.length === 0) return '';
  const get = (s: string) => recs.get(`f/${s}`)!;
  const engine = (e?: { cores: number; inPerBroadcast: number; outPerBroadcast: number }) =>
    (e ? `${fmt(e.cores, 3)} cores; in ${fmt(e.inPerBroadcast)}${e.outPerBroadcast > 0 ? `, out ${fmt(e.outPerBroadcast)}` : ''}` : '—');
  const rows: string[][] = [
    ['rooms: sent / lost', ...servers.map((s) => (get(s).error ? 'error' : `${get(s).rooms.sent} / ${get(s).rooms.lost}`))],
    ['rooms: p50 / p99 (ms)', ...servers.map((s) => (get(s).rooms ? `${fmt(get(s).rooms.p50)} / ${fmt(get(s).rooms.p99)}` : '—'))],
    ['rooms: CPU of the 4 servers (cores)', ...servers.map((s) => fmt(get(s).rooms?.serverCores, 3))],
    ['rooms: engine CPU; messages in / out per broadcast', ...servers.map((s) => engine(get(s).rooms?.engine))],
  ];
  for (const rate of [50, 100, 200]) {
    rows.push([`fan-out 500 at ${rate} msg/s: lost, p99 (ms)`, ...servers.map((s) => {
      const st = (get(s).fanout?.steps ?? []).find((x: Step) => x.rate === rate) as Step | undefined;
      return st ? `${st.lost}, ${st.received > 0 ? fmt(st.p99, 1) : 'nothing received'}${st.pass ? '' : ' ✗'}` : '—';
    })]);
  }
  rows.push(['fan-out: engine CPU; messages in / out per broadcast', ...servers.map((s) => engine(get(s).fanout?.engine))]);
  rows.push(['flags', ...servers.map((s) => flagsOf(get(s)).join('; ') || (get(s).error ?? '—'))]);
  return `## (f) Four server processes on each engine

(d)'s shapes with four Switchyard processes (the chat consumer, all pinned to the server core) on an engine the run starts for itself: the run's private Redis with the pub/sub layer, a Redis Cluster of three masters with the pub/sub layer on sharded pub/sub, NATS on core subjects. Members are spread over the four processes. Engine CPU sums all its processes; "in" counts publishes into the engine (PUBLISH, SPUBLISH on every node, NATS \`in_msgs\`) per broadcast, "out" the messages the engine sent to subscribers (NATS \`out_msgs\`): one per process holding members, whatever the number of members. The four processes share the one server core, so from 100 msg/s the fan-out steps measure that core's saturation (about 23 µs of CPU per delivery with four processes on it, the same for every engine), not the engine: compare the engines' own CPU and traffic.

${table(['', ...servers.map((s) => LABELS[s] ?? s)], rows)}
`;
}

function sectionE(recs: Map<string, Rec>): string {
  const rows: string[][] = [];
  for (const layer of ['memory', 'redis', 'pubsub']) {
    const sy = recs.get(`e/switchyard-${layer}`);
    const dj = recs.get(`e/django-${layer}`);
    if (!sy && !dj) continue;
    const name = { memory: 'in-memory', redis: 'Redis core', pubsub: 'Redis pub/sub' }[layer]!;
    rows.push([name,
      `${fmt(sy?.roundTrip?.usPerOp, 1)} / ${fmt(dj?.roundTrip?.usPerOp, 1)}`, ratio(dj?.roundTrip?.usPerOp, sy?.roundTrip?.usPerOp),
      `${fmt(sy?.groupSend?.msPerGroupSend, 3)} / ${fmt(dj?.groupSend?.msPerGroupSend, 3)}`, ratio(dj?.groupSend?.msPerGroupSend, sy?.groupSend?.msPerGroupSend)]);
  }
  if (rows.length === 0) return '';
  return `## (e) Channel layer micro-benchmarks (Switchyard / channels + channels_redis)

Round trip: \`send\` then \`receive\` on one channel, awaited in turn. groupSend: a group of 1,000 channels, each with a \`receive\` waiting, timed until all 1,000 have resolved. Python runs channels 4 / channels_redis 4 on the same Redis; each side in its own process on the server core, 2 s per measurement.

${table(['layer', 'round trip µs (Switchyard / Django)', 'Django ÷ Switchyard', 'groupSend to 1,000, ms (Switchyard / Django)', 'Django ÷ Switchyard'], rows)}
`;
}

function sectionMemory(recs: Map<string, Rec>): string {
  const rec = recs.get('m/switchyard');
  if (!rec?.rows) return '';
  const labels: Record<string, string> = {
    rawws: 'raw ws (room sets)', asgi: 'Switchyard server + bare ASGI app', consumer: '+ ChatConsumer (layer, group, tap lane)', router: '+ ProtocolTypeRouter / URLRouter',
  };
  let previous: number | null = null;
  const rows = (rec.rows as Rec[]).map((r) => {
    const delta = previous === null ? '—' : `+${fmt(r.heapKB - previous, 2)}`;
    previous = r.heapKB;
    return [labels[r.probe] ?? r.probe, fmt(r.heapKB, 2), delta, fmt(r.externalKB, 2), fmt(r.rssKB, 2)];
  });
  return `## Where an idle connection's memory goes

${rec.connections} connections, JS heap per connection after two forced GCs (\`--expose-gc\`), each row one more part of the stack (scenario m).

${table(['server', 'heap KB/conn', 'difference', 'external KB/conn', 'RSS KB/conn'], rows)}
`;
}

function sectionProfile(recs: Map<string, Rec>): string {
  const rec = recs.get('p/switchyard');
  if (!rec?.profile) return '';
  const p = rec.profile;
  return `## CPU profile of Switchyard in (a)

\`node --cpu-prof\` on the server while the room of 500 receives ${rec.rates.join(' then ')} msg/s; samples inside the sending window only (${p.busyMs} ms busy of ${p.sampledMs} ms sampled). Self time:

${table(['area', 'share of busy time'], p.areas.slice(0, 10).map((a: Rec) => [a.area, `${a.percent}%`]))}

Hottest functions (self time):

${table(['function', 'where', 'share'], p.top.slice(0, 15).map((f: Rec) => [`\`${f.fn}\``, f.where || '(native)', `${f.percent}%`]))}
`;
}

function sectionReliability(recs: Map<string, Rec>): string {
  const servers = ['chat-recover', 'chat-recover-redis', 'chat-recover-pubsub', 'socketio-recovery', 'chat-plain'].filter((s) => recs.has(`r/${s}`));
  if (servers.length === 0) return '';
  const labels: Record<string, string> = {
    'chat-recover': 'Switchyard chat demo, `recover: true`', 'chat-recover-redis': 'the same on the Redis core layer', 'chat-recover-pubsub': 'the same on the Redis pub/sub layer',
    'socketio-recovery': 'Socket.IO 4, connection state recovery',
    'chat-plain': 'Switchyard chat demo, no recovery',
  };
  const first = recs.get(`r/${servers[0]}`)!;
  const runs = [...new Set(servers.map((s) => recs.get(`r/${s}`)!.run))].join(', ');
  const history = servers.map((s) => recs.get(`r/${s}`)!.historySize).find((size) => size != null);
  const rows = servers.map((s) => {
    const r = recs.get(`r/${s}`)!;
    if (r.error) return [labels[s]!, `error: ${r.error}`, '', '', '', '', '', '', '', ''];
    return [labels[s]!, `${fmt(r.deliveredShare * 100, 3)}%`, fmt(r.lost), fmt(r.duplicates), fmt(r.outOfOrder),
      // Without recovery nothing is replayed (what it counts there are live messages sent during the handshake).
      r.replay?.count && s !== 'chat-plain' ? `${fmt(r.replay.p50)} / ${fmt(r.replay.p99)} (${r.replay.count})` : '—', `${fmt(r.notRecovered)} of ${fmt(r.reconnects)}`,
      fmt(r.offline?.p50, 0), `${fmt(r.serverCores)} / ${fmt(r.loadCores)}`, flagsOf(r).join('; ') || '—'];
  });
  return `## (r) Reliability: 1 room × ${first.clients} clients on flaky connections

After AnyCable's reliability test. ${first.clients} clients in one room; one sender sends numbered messages at ${first.rate} msg/s for ${first.seconds} s, then a drain. Each client is cut off about every ${first.periodSeconds} s (±25%, the first cut at a random moment): its TCP connection is destroyed without a closing handshake and, for ${first.offlineSeconds} s, its connection attempts fail at once, so the client's own reconnect logic runs (both clients retry after 250 ms, then at most 1 s apart). Expected: every message sent since the client's first connection (all of them: every client connects before the first). Replay latency: from the reconnection's WebSocket open to each message sent before it (while away, or in flight when the link died); it includes the clients' own event-loop delays, so its p99 moves by tens of ms between runs on a busy machine. Not recovered: reconnections told \`recovered: false\` (Switchyard) or with \`socket.recovered\` false (Socket.IO). The chat demo keeps the last ${history ?? '?'} messages of each \`chat_*\` room for 5 minutes in the in-memory layer (\`CHANNEL_LAYER_URL=memory://?groupHistory=…\`), or in a Redis Stream per room on the Redis core layer (the run's private Redis); Socket.IO keeps sessions and packets 2 minutes. The clients run in one process on the load core (\`bench/lib/reliability-load.ts\`); scenario r, run ${runs}.

${table(['server', 'delivered', 'lost', 'duplicates', 'out of order', 'replay p50 / p99 (ms) (messages)', 'not recovered', 'offline p50 (ms)', 'cores: server / clients', 'flags'], rows)}
`;
}

function targets(recs: Map<string, Rec>): string {
  const a = recs.get('a/switchyard');
  const aRaw = recs.get('a/rawws');
  const aSio = recs.get('a/socketio');
  // Prefer the interleaved medians at 200 msg/s (same noise for every server).
  const i200 = (server: string) => ((recs.get(`a-interleaved/${server}`)?.results ?? []) as Rec[]).find((r) => r.rate === 200);
  const iSy = i200('switchyard');
  const iRaw = i200('rawws');
  const iSio = i200('socketio');
  const cpu = (inter: Rec | undefined, ladder: Rec | undefined): number | null => inter?.cpuUsPerDelivery ?? ladder?.cpuUsPerDeliveryAt200 ?? null;
  const p99 = (inter: Rec | undefined, ladder: Rec | undefined): number | null => (inter && inter.lost === 0 ? inter.p99 : ladder?.p99At200 ?? null);
  const b = recs.get('b/switchyard');
  const bRaw = recs.get('b/rawws');
  const c = recs.get('c/switchyard');
  const d = recs.get('d/switchyard-pubsub');
  const dSio = recs.get('d/socketio-redis');
  const check = (ok: boolean | null) => (ok === null ? 'not measured' : ok ? '**met**' : '**not met**');
  const lines: string[] = [];
  const [cSy, cRaw, cSio] = [cpu(iSy, a), cpu(iRaw, aRaw), cpu(iSio, aSio)];
  const source = iSy ? 'interleaved medians' : 'ladder';
  const cpuRatio = cSy && cRaw ? cSy / cRaw : null;
  lines.push(row([`(a) CPU per delivery ≤ 1.2× raw ws (200 msg/s, ${source})`, cpuRatio ? `${cpuRatio.toFixed(2)}× (${fmt(cSy)} vs ${fmt(cRaw)} µs)` : '—', check(cpuRatio === null ? null : cpuRatio <= 1.2)]));
  const belowSio = cSy && cSio ? cSy < cSio : null;
  lines.push(row(['(a) CPU per delivery below Socket.IO', cSy && cSio ? `${fmt(cSy)} vs ${fmt(cSio)} µs` : '—', check(belowSio)]));
  const [pSy, pRaw] = [p99(iSy, a), p99(iRaw, aRaw)];
  const p99Ratio = pSy && pRaw ? pSy / pRaw : null;
  lines.push(row([`(a) p99 at 200 msg/s ≤ 2× raw ws (${source})`, p99Ratio ? `${p99Ratio.toFixed(2)}× (${fmt(pSy)} vs ${fmt(pRaw)} ms)` : '—', check(p99Ratio === null ? null : p99Ratio <= 2)]));
  // Loss at the rates raw ws sustains: the interleaved rates (all rounds), and the ladder's.
  const rawRates = ((recs.get('a-interleaved/rawws')?.results ?? []) as Rec[]).filter((r) => r.lost === 0).map((r) => r.rate as number);
  const syLost = ((recs.get('a-interleaved/switchyard')?.results ?? []) as Rec[]).filter((r) => rawRates.includes(r.rate)).reduce((n, r) => n + r.lost, 0);
  const ladderLost = ((a?.steps ?? []) as Step[]).filter((st) => st.rate <= (aRaw?.maxRate ?? 0)).reduce((n, st) => n + st.lost, 0);
  const noLoss = a || rawRates.length > 0 ? syLost === 0 && ladderLost === 0 : null;
  lines.push(row(['(a) no loss at any rate raw ws sustains',
    `interleaved (${rawRates.join(', ') || '—'} msg/s): ${syLost} lost; ladder up to ${fmt(aRaw?.maxRate)} msg/s: ${ladderLost} lost `
    + `(highest rate with p99 < 100 ms: Switchyard ${fmt(a?.maxRate)}, raw ws ${fmt(aRaw?.maxRate)})`, check(noLoss)]));
  const bRatio = b?.serverCores && bRaw?.serverCores ? b.serverCores / bRaw.serverCores : null;
  lines.push(row(['(b) server CPU ≤ 1.5× raw ws', bRatio ? `${bRatio.toFixed(2)}×` : '—', check(bRatio === null ? null : bRatio <= 1.5)]));
  lines.push(row(['(c) ≤ 10 KB RSS per idle connection', c ? `${fmt(c.rssPerConnectionKB, 1)} KB` : '—', check(c?.rssPerConnectionKB == null ? null : c.rssPerConnectionKB <= 10)]));
  const dLost = d ? d.rooms?.lost + (d.fanout?.steps ?? []).reduce((s: number, x: Step) => s + x.lost, 0) : null;
  lines.push(row(['(d) nothing lost (pub/sub layer)', d ? `${dLost} lost` : '—', check(dLost === null ? null : dLost === 0)]));
  const dRatio = d?.rooms?.p99 && dSio?.rooms?.p99 ? d.rooms.p99 / dSio.rooms.p99 : null;
  lines.push(row(['(d) rooms p99 within 2× Socket.IO + adapter', dRatio ? `${dRatio.toFixed(2)}×` : '—', check(dRatio === null ? null : dRatio <= 2)]));
  const publishes = d?.rooms?.redisPerBroadcast?.publish;
  lines.push(row(['(d) one Redis publish per broadcast', publishes != null ? `${publishes} PUBLISH per broadcast` : '—', check(publishes == null ? null : publishes <= 1.01)]));
  return `## Targets (issue 7), from the tables below\n\n${row(['target', 'measured', ''])}\n${row(['---', '---', '---'])}\n${lines.join('\n')}\n`;
}

/** Issue 12's targets: the broadcast seam against the fastest JavaScript servers, in the interleaved run at 200 msg/s. */
function seamTargets(recs: Map<string, Rec>): string {
  const i200 = (server: string) => ((recs.get(`a-interleaved/${server}`)?.results ?? []) as Rec[]).find((r) => r.rate === 200);
  const uws = i200('uws');
  if (uws === undefined) return '';
  const check = (ok: boolean | null) => (ok === null ? 'not measured' : ok ? '**met**' : '**not met**');
  const lines: string[] = [];
  const cpuAgainstUws = (server: string, label: string, limit: number) => {
    const own = i200(server)?.cpuUsPerDelivery;
    const r = own != null ? own / uws.cpuUsPerDelivery : null;
    lines.push(row([`(a) ${label}: CPU per delivery ≤ ${limit}× uWebSockets.js`, r === null ? '—' : `${r.toFixed(2)}× (${fmt(own)} vs ${fmt(uws.cpuUsPerDelivery)} µs)`, check(r === null ? null : r <= limit)]));
  };
  cpuAgainstUws('sy-declared', 'declared render', 1.15);
  cpuAgainstUws('sy-plain', 'plainly written handler', 1.3);
  const ours = ['sy-declared', 'sy-plain', 'chat-npmstart'].filter((s) => i200(s) !== undefined);
  const worstP99 = Math.max(...ours.map((s) => i200(s)!.p99 / uws.p99));
  lines.push(row(['(a) p99 ≤ 2× uWebSockets.js (declared, plain, `npm start`)', ours.length ? `at most ${worstP99.toFixed(2)}×` : '—', check(ours.length ? worstP99 <= 2 : null)]));
  const lost = ['sy-asgi', ...ours].reduce((n, s) => n + ((recs.get(`a-interleaved/${s}`)?.results ?? []) as Rec[]).reduce((m, r) => m + r.lost, 0), 0);
  lines.push(row(['(a) nothing lost (every Switchyard form, every rate and round)', `${lost} lost`, check(lost === 0)]));
  const idle = recs.get('c/chat-npmstart')?.rssPerConnectionKB;
  lines.push(row(['(c) idle connection of the chat demo under `npm start` ≤ 8 KB', idle != null ? `${fmt(idle)} KB` : '—', check(idle == null ? null : idle <= 8)]));
  return `## Targets (issue 12), from the tables below

${row(['target', 'measured', ''])}
${row(['---', '---', '---'])}
${lines.join('\n')}
`;
}

function notes(): string {
  return `## Reading these numbers

- **CPU per delivery is the robust figure.** It counts CPU time, not wall time, so other jobs on the machine change it little (they still evict caches: expect ±10% between runs). Latency and the highest sustained rate depend on scheduling and move much more on a shared machine; noisy steps are flagged, a noisy failing step of the ladder is tried again, and the targets use the interleaved runs, where every server sees the same noise.
- **The kernel is most of the cost.** On loopback, the send of each frame makes the sending process pay for the TCP stack on both sides: 70 to 95% of the server CPU per delivery. Every server here enters the kernel once per socket per turn (a \`write\`, \`writev\` or \`send\`) except Switchyard, whose native writer hands a turn's sends for all sockets to Linux in one io_uring submission: that is why its server alone costs about what uWebSockets.js does per delivery (0.9 to 1.0× in the runs so far). What separates the others is the rest.
- **The load generator has one core.** Around 100,000 deliveries/s (200 msg/s × 500) its worker processes use most of it ("load generator busy"), so at 200 msg/s and above the fan-out latency of every server includes queueing in the load generator, and the ladder cannot tell servers apart beyond that rate.
- **Django Channels loses messages by design of channels_redis**: all the consumers of one daphne process share one Redis inbox (\`specific.<process>!\`) with the default capacity of 100, and \`group_send\` drops what does not fit (channels_redis#62 and #83); its numbers are those of the tutorial's configuration, not a tuned one.
- **(d) puts both server processes on the one server core** (2-core machine): each process gets about half a core.
- **p99 near saturation.** At 200 msg/s × 500 a server needs most of its core ("server cores used" in the interleaved table); there, a few percent more CPU per delivery means much longer queues, so p99 ratios at 200 msg/s are far more sensitive than at 100 msg/s.
`;
}

/** The machines the shown results ran on, with the runs of each when there are several (tables mix runs; ratios hold within a run). */
function machines(recs: Map<string, Rec>, latest: Rec['machine']): string {
  const describe = (m: Rec['machine']) => `${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Linux ${m.kernel}, open files limit ${m.nofile}`;
  const byMachine = new Map<string, Set<string>>();
  for (const rec of recs.values()) {
    if (rec.machine === undefined) continue;
    const key = describe(rec.machine);
    if (!byMachine.has(key)) byMachine.set(key, new Set());
    byMachine.get(key)!.add(String(rec.run));
  }
  if (byMachine.size <= 1) return describe(latest);
  return [...byMachine].map(([machine, runs]) => `${machine} (runs ${[...runs].sort().join(', ')})`).join('; ');
}

export function render(): void {
  const recs = latest();
  const any = [...recs.values()].sort((x, y) => String(y.time).localeCompare(String(x.time)))[0];
  if (any === undefined) return;
  const runs = [...new Set([...recs.values()].map((r) => r.run))].sort();
  const v = any.versions ?? {};
  const m = any.machine ?? {};
  const text = `# Benchmarks

Rendered by \`bench/render.ts\` from \`bench/results/results.jsonl\` (the latest result of each scenario and server; runs ${runs.join(', ')}). Reproduce with \`npm run bench\` (all scenarios and servers, about 45 minutes) or \`npm run bench -- a\` (one), \`BENCH_SERVERS=…\` for some servers; see \`bench/run.ts\`.

**Machine**: ${machines(recs, m)}.
**Versions**: Node ${v.node}, Switchyard ${v.switchyard}, ws ${v.ws}, socket.io ${v.socketio} (+ @socket.io/redis-adapter ${v.socketioRedisAdapter}), ioredis ${v.ioredis}, Redis ${v.redis}${v.uws ? `, uWebSockets.js ${v.uws} (@trufflesuite/uws-js-unofficial), Bun ${v.bun}` : ''}; Python ${v.python}, Django / channels / channels_redis / daphne ${v.django}.
**Date**: ${String(any.time).slice(0, 10)}.

**Method.** Servers run one at a time (except in the interleaved comparisons of (a) and (b), where they run together and take turns), pinned with \`taskset\` to core ${any.plan?.server ?? '?'}; the load generator (${'3'} worker processes of lean WebSocket clients that parse frames without decoding them), the orchestrator and a private Redis (port 6399, no persistence, so its CPU and command counts are the benchmark's alone) share core ${any.plan?.load ?? '?'}. The machine is shared with other jobs (browser tests, test suites), so the run puts itself in its own session and raises its autogroup priority (${any.autogroup ?? '?'}; processes at nice ${any.nice ?? '?'}). Latency is measured from a send timestamp (CLOCK_MONOTONIC, µs) embedded in the message to its receipt by every receiver, into HDR histograms; loss = expected − received after a 3 s drain. Server CPU is summed over the process's threads from \`/proc/<pid>/task/*/schedstat\`; RSS from \`/proc/<pid>/status\`. A measurement is flagged **noisy** when other processes used more than 0.25 cores during it, or when the hypervisor took more than 0.25 cores from this virtual machine (steal time in \`/proc/stat\`; earlier runs counted steal time as other processes), and **load generator busy** when the load workers used more than 85% of their core.

**Servers.** raw ws: the \`ws\` library, parse the message, serialize the reply once, \`send()\` the same Buffer to every member (no layer, no heartbeats). Switchyard: \`serve()\` with the chat example's \`ChatConsumer\` behind \`URLRouter\` (one consumer per connection, \`groupSend\` through the in-memory layer, \`chat_message\` as a declared render (\`static renders\`)), like the Django reference; "full app stack" adds the chat example's middleware as shipped (limits, origin check, sessions, auth; rate limit raised). Socket.IO 4: rooms, \`io.to(room).emit\`, WebSocket transport only. Django Channels: the tutorial's \`AsyncWebsocketConsumer\` under daphne, with channels_redis's core layer (Channels has no production in-process layer). The fastest servers a JavaScript user can pick (issue 12), each with the same chat protocol, no compression, no heartbeats and backpressure limits raised so that nothing is dropped: uWebSockets.js: its native pub/sub (a topic per room, one \`app.publish()\` per broadcast, framed once and written in C++), the linux-x64 binary for Node's ABI loaded by path so that the package's JavaScript fallback never runs; Bun: \`Bun.serve\` with \`server.publish()\`, run by the \`bun\` binary of \`@oven/bun-linux-x64\`; tuned ws: raw ws with the broadcast framed once (\`Sender.frame\`) and written straight to each member's socket, corked until the end of the event-loop turn. The chat demo: \`examples/chat/server.ts\` as shipped (its whole \`app.ts\` stack and logging, secret and allowed origin set, rate limit raised), transpiled to JavaScript like the other servers, and the way \`npm start\` runs it (\`scripts/run-transpiled.mjs\`: the same JavaScript, built at startup, in one process). Every Node server runs transpiled JavaScript (esbuild, one file per source file) of the working tree, \`src/\` included (runs before 2026-11-30 imported the library from \`dist/\`, the output of the last \`npm run build\`). \`npx tsx bench/check.ts\` checks each server's protocol byte for byte. Payload: \`{"message": "<µs>|<phase>|<seq>|" + 32 × "x", "username": "bench"}\`.

${targets(recs)}
${seamTargets(recs)}
${notes()}
${sectionA(recs)}
${sectionInterleaved(recs)}
${sectionB(recs)}
${sectionC(recs)}
${sectionD(recs)}
${sectionF(recs)}
${sectionE(recs)}
${sectionMemory(recs)}
${sectionProfile(recs)}${sectionReliability(recs) && `\n${sectionReliability(recs)}`}`;
  writeFileSync(OUT, text.replace(/\n{3,}/g, '\n\n'));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) render();
