// A flooding chat client, run as its own process by auth-limits.test.ts so that its
// work does not share an event loop with the members whose latency is measured.
// Usage: node auth-flooder.mjs URL ORIGIN MILLISECONDS CONNECTIONS_IN_PARALLEL
// Prints one JSON line of stats on stdout when done.
import WebSocket from 'ws';

const [url, origin, ms, parallel] = process.argv.slice(2);
const stats = { connections: 0, notices: 0, closes1008: 0, otherCloses: 0, sent: 0 };
const end = Date.now() + Number(ms);

async function floodOnce() {
  const ws = new WebSocket(url, { headers: { origin } });
  await new Promise((resolve, reject) => { ws.once('message', resolve); ws.once('error', reject); });
  stats.connections += 1;
  ws.on('message', (data) => {
    if (JSON.parse(data.toString()).code === 'rate_limited') stats.notices += 1;
  });
  const closed = new Promise((resolve) => ws.once('close', resolve));
  for (let i = 0; i < 3000; i++) ws.send(JSON.stringify({ message: `spam ${i}`, username: 'flooder' }));
  stats.sent += 3000;
  const code = await closed;
  if (code === 1008) stats.closes1008 += 1;
  else stats.otherCloses += 1;
}

async function flooder() {
  while (Date.now() < end) await floodOnce();
}

await Promise.all(Array.from({ length: Number(parallel) }, flooder));
process.stdout.write(`${JSON.stringify(stats)}\n`);
