// A flooding chat client, run as its own process by auth-limits.test.ts so that its
// work does not share an event loop with the members whose latency is measured.
// Usage: node auth-flooder.mjs URL ORIGIN CONNECTIONS MESSAGES_PER_CONNECTION INTERVAL_MS
// Opens CONNECTIONS connections, one every INTERVAL_MS, each firing its messages at once and
// then waiting to be closed (closing itself after 1.5 s otherwise): the same volume of spam
// whatever the server does. Prints one JSON line of stats on stdout when done.
import WebSocket from 'ws';

const [url, origin, connections, perConnection, interval] = process.argv.slice(2).map((v, i) => (i < 2 ? v : Number(v)));
const stats = { connections: 0, notices: 0, closes1008: 0, otherCloses: 0, sent: 0 };

async function floodOnce() {
  const ws = new WebSocket(url, { headers: { origin } });
  await new Promise((resolve, reject) => { ws.once('message', resolve); ws.once('error', reject); });
  stats.connections += 1;
  ws.on('message', (data) => {
    if (JSON.parse(data.toString()).code === 'rate_limited') stats.notices += 1;
  });
  const closed = new Promise((resolve) => ws.once('close', resolve));
  for (let i = 0; i < perConnection; i++) ws.send(JSON.stringify({ message: `spam ${i}`, username: 'flooder' }));
  stats.sent += perConnection;
  const timer = setTimeout(() => ws.close(), 1500);
  const code = await closed;
  clearTimeout(timer);
  if (code === 1008) stats.closes1008 += 1;
  else stats.otherCloses += 1;
}

await Promise.all(Array.from({ length: connections }, (_, i) =>
  new Promise((resolve) => setTimeout(resolve, i * interval)).then(floodOnce)));
process.stdout.write(`${JSON.stringify(stats)}\n`);
