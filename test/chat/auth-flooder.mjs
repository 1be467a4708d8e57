// A flooding chat client, run as its own process by auth-limits.test.ts so that its
// work does not share an event loop with the members whose latency is measured.
// Usage: node auth-flooder.mjs URL ORIGIN MILLISECONDS MESSAGES_PER_CONNECTION
// Each connection fires its messages at once, then waits (up to 500 ms) to be closed,
// closes itself otherwise, and the next connection starts, until the time is up.
// Prints one JSON line of stats on stdout when done.
import WebSocket from 'ws';

const [url, origin, ms, perConnection] = process.argv.slice(2);
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
  for (let i = 0; i < Number(perConnection); i++) ws.send(JSON.stringify({ message: `spam ${i}`, username: 'flooder' }));
  stats.sent += Number(perConnection);
  const timer = setTimeout(() => ws.close(), 500);
  const code = await closed;
  clearTimeout(timer);
  if (code === 1008) stats.closes1008 += 1;
  else stats.otherCloses += 1;
}

while (Date.now() < end) await floodOnce();
process.stdout.write(`${JSON.stringify(stats)}\n`);
