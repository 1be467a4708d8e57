// The realtime dashboard's page script: one WebSocket to the dashboard
// consumer (./ws/, with this page's query string, which may carry a token),
// a snapshot of the cluster every interval, drawn as plain DOM and SVG.
// Actions ask for confirmation, then go over the same socket; the server
// checks the user's right again before acting.

const $ = (selector) => document.querySelector(selector);

function text(tag, value, className) {
  const node = document.createElement(tag);
  node.textContent = String(value);
  if (className) node.className = className;
  return node;
}

function row(cells) {
  const tr = document.createElement('tr');
  for (const cell of cells) {
    if (cell instanceof Node) {
      const td = document.createElement('td');
      td.append(cell);
      tr.append(td);
    } else tr.append(text('td', cell));
  }
  return tr;
}

const number = (value) => (Math.round(value * 10) / 10).toLocaleString('en');
const bytes = (value) => `${(value / 1048576).toFixed(1)} MB`;

function fill(tbody, rows, empty, columns) {
  tbody.replaceChildren(...(rows.length > 0 ? rows : [row([text('span', empty, 'muted')])]));
  if (rows.length === 0) tbody.firstChild.firstChild.colSpan = columns;
}

function pairs(dl, entries) {
  dl.replaceChildren();
  for (const [key, value] of entries) dl.append(text('dt', key), text('dd', number(value)));
}

// ---- charts: polylines in a 300×90 viewBox, scaled to the series' maximum ----

const SVG = 'http://www.w3.org/2000/svg';

function chart(svg, series, keys) {
  const max = Math.max(1, ...series.flatMap((point) => keys.map((key) => point[key])));
  const span = Math.max(1, series.length - 1);
  svg.replaceChildren();
  for (const fraction of [0.5, 1]) {
    const line = document.createElementNS(SVG, 'line');
    const y = 88 - fraction * 72;
    line.setAttribute('x1', '0'); line.setAttribute('x2', '300');
    line.setAttribute('y1', String(y)); line.setAttribute('y2', String(y));
    line.setAttribute('class', 'grid');
    svg.append(line);
  }
  keys.forEach((key, index) => {
    const line = document.createElementNS(SVG, 'polyline');
    const points = series.map((point, i) => `${((i / span) * 300).toFixed(1)},${(88 - (point[key] / max) * 72).toFixed(1)}`);
    line.setAttribute('points', points.join(' '));
    line.setAttribute('class', index === 0 ? 'series a' : 'series b');
    svg.append(line);
  });
  const label = document.createElementNS(SVG, 'text');
  label.setAttribute('x', '298'); label.setAttribute('y', '9'); label.setAttribute('text-anchor', 'end');
  label.setAttribute('class', 'max');
  label.textContent = `max ${number(max)}`;
  svg.append(label);
}

// ---- the snapshot ----

function render(snapshot) {
  const { totals } = snapshot;
  $('#total-open').textContent = number(totals.open);
  $('#total-processes').textContent = number(totals.processes);
  $('#rate-connects').textContent = number(totals.rates.connects);
  $('#rate-disconnects').textContent = number(totals.rates.disconnects);
  $('#rate-in').textContent = number(totals.rates.messagesIn);
  $('#rate-out').textContent = number(totals.rates.messagesOut);
  const up = totals.processes - totals.layerDown;
  $('#layer-health').textContent = totals.layerDown === 0 ? 'ok' : `${totals.layerDown} down`;
  $('#layer-health').className = totals.layerDown === 0 ? 'big good' : 'big bad';
  const rtts = snapshot.processes.map((p) => p.layer.rttMs).filter((rtt) => rtt !== null);
  $('#layer-detail').textContent = rtts.length > 0 ? `${up}/${totals.processes} connected · rtt max ${number(Math.max(...rtts))} ms` : '';

  const series = snapshot.series.length > 0 ? snapshot.series : [totals.rates];
  chart($('#chart-connections'), series, ['connects', 'disconnects']);
  chart($('#chart-messages'), series, ['messagesIn', 'messagesOut']);
  chart($('#chart-open'), series, ['open']);

  fill($('#processes tbody'), snapshot.processes.map((p) => {
    const tr = row([
      p.id, number(p.ws.open), number(p.ws.connects), number(p.ws.disconnects), number(p.rates.messagesIn), number(p.rates.messagesOut),
      p.groups === null ? 'n/a' : number(p.groups),
      p.layer.connected ? `ok · ${p.layer.rttMs === null ? '–' : number(p.layer.rttMs)} ms` : `down: ${p.layer.error ?? ''}`,
      bytes(p.memory.rss), bytes(p.memory.heapUsed), `${number(p.eventLoop.p99)} ms`, `${number(p.lastSeenMs / 1000)} s ago`,
    ]);
    tr.dataset.process = p.id;
    if (p.stale) tr.className = 'stale';
    if (!p.layer.connected) tr.classList.add('bad');
    return tr;
  }), 'no process reports', 12);

  fill($('#groups tbody'), snapshot.groups.map((g) => {
    const buttons = document.createElement('span');
    const members = text('button', 'members');
    members.type = 'button';
    members.addEventListener('click', () => askMembers(g.name));
    const close = text('button', 'close all', 'danger');
    close.type = 'button';
    close.addEventListener('click', () => {
      $('#close-group').value = g.name;
      closeGroup(g.name, Number($('#close-code').value), $('#close-reason').value);
    });
    buttons.append(members, close);
    const tr = row([g.name, number(g.members), number(g.processes), buttons]);
    tr.dataset.group = g.name;
    return tr;
  }), 'no groups', 4);

  if (snapshot.presence === null) fill($('#presence tbody'), [], 'presence not configured', 3);
  else fill($('#presence tbody'), snapshot.presence.map((t) => row([t.topic, number(t.users), number(t.entries)])), 'nobody present', 3);
  pairs($('#slow'), Object.entries(totals.slowConsumer));
  pairs($('#recovery'), [['recovered', totals.recovery.recovered], ['not recovered', totals.recovery.notRecovered], ['replayed messages', totals.recovery.replayed]]);
}

// ---- the socket and the actions ----

let socket = null;
let nextId = 1;
const membersByProcess = new Map();

function status(state) {
  const node = $('#status');
  node.textContent = state;
  node.className = `status ${state.split(' ')[0]}`;
}

function result(message, ok) {
  const item = text('li', `${new Date().toLocaleTimeString('en-GB')} ${message}`, ok ? 'ok' : 'bad');
  $('#results').prepend(item);
  while ($('#results').children.length > 8) $('#results').lastChild.remove();
}

function act(request) {
  if (socket === null || socket.readyState !== WebSocket.OPEN) {
    result('not connected: the action was not sent', false);
    return null;
  }
  const id = String(nextId++);
  socket.send(JSON.stringify({ ...request, id }));
  return id;
}

function disconnect(channel) {
  if (!window.confirm(`Disconnect the connection of channel ${channel}?`)) return;
  if (act({ type: 'disconnect', channel }) === null) return;
  // It is closing: take it out of the members listed.
  for (const answer of membersByProcess.values()) {
    const kept = answer.members.filter((member) => member !== channel);
    answer.total -= answer.members.length - kept.length;
    answer.members = kept;
  }
  if (membersByProcess.size > 0) showMembers([...membersByProcess.values()][0]);
}

function closeGroup(group, code, reason) {
  if (!window.confirm(`Close every connection of group ${group} (code ${code}, "${reason}")?`)) return;
  act({ type: 'close_group', group, code, reason });
}

function askMembers(group) {
  membersByProcess.clear();
  $('#members-group').textContent = group;
  $('#members').hidden = false;
  fill($('#members-list'), [], 'asking…', 3);
  act({ type: 'members', group });
}

function showMembers(answer) {
  if (answer.group !== $('#members-group').textContent) return;
  membersByProcess.set(answer.process, answer);
  const rows = [];
  for (const { process, members, total } of membersByProcess.values()) {
    for (const channel of members) {
      const button = text('button', 'disconnect', 'danger');
      button.type = 'button';
      button.addEventListener('click', () => disconnect(channel));
      const tr = row([channel, process, button]);
      tr.dataset.channel = channel;
      rows.push(tr);
    }
    if (total > members.length) rows.push(row([`… and ${total - members.length} more`, process, '']));
  }
  fill($('#members-list'), rows, 'no members', 3);
}

function connect() {
  const url = new URL(`ws/${location.search}`, location.href);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  status('connecting');
  socket = new WebSocket(url);
  socket.addEventListener('open', () => status('live'));
  socket.addEventListener('message', (event) => {
    const message = JSON.parse(event.data);
    if (message.type === 'admin.snapshot') render(message);
    else if (message.type === 'admin.members') showMembers(message);
    else if (message.type === 'admin.result') result(`${message.action}: ${message.message}`, message.ok);
  });
  socket.addEventListener('close', (event) => {
    socket = null;
    status(event.code === 1006 ? 'offline (reconnecting)' : `closed ${event.code} (reconnecting)`);
    setTimeout(connect, 2000);
  });
}

$('#disconnect-form').addEventListener('submit', (event) => {
  event.preventDefault();
  disconnect($('#disconnect-channel').value.trim());
});
$('#close-group-form').addEventListener('submit', (event) => {
  event.preventDefault();
  closeGroup($('#close-group').value.trim(), Number($('#close-code').value), $('#close-reason').value);
});
connect();
