// The room page: one ReconnectingWebsocket to /ws/chat/<room>/, speaking the
// tutorial's protocol, plus two requests of its own: {"type":"presence"} on every
// (re)connection for the online list, {"type":"ping"} as a heartbeat, and one
// request/reply (docs/requests.md): `rename`, asked when the name field changes,
// whose reply is the name the room will show (or why not). It asks for
// recovery (docs/recovery.md): after a reconnection the room replays what was said
// meanwhile, each message once, and the page says so when some were lost.
// Everything from the network is put on the page with textContent, never as HTML.
import { ReconnectingWebsocket } from '/static/switchyard-client.js';

/** Room names are the route's \w+ in Python's sense: letters and digits of any script, and _. */
const ROOM_NAME = /^[\p{L}\p{N}_]+$/u;
/** The server's limits, in characters as it counts them (code points: an emoji is one). */
const MAX_MESSAGE_LENGTH = 1000;

const roomName = roomFromPath(location.pathname) ?? 'lobby';
const messages = document.querySelector('#chat-messages');
const input = document.querySelector('#chat-message-input');
const nameInput = document.querySelector('#username');
const form = document.querySelector('#composer');
const statusBadge = document.querySelector('#status');
const onlinePanel = document.querySelector('#online');
const onlineList = document.querySelector('#online-users');
const onlineCount = document.querySelector('#online-count');

const NAME_KEY = 'switchyard.username';
const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });

document.title = `#${roomName} · Switchyard chat`;
document.querySelector('#room-name').textContent = `#${roomName}`;
nameInput.value = new URLSearchParams(location.search).get('username') ?? localStorage.getItem(NAME_KEY) ?? '';
nameInput.addEventListener('change', () => void rename());
input.focus();

const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
const socket = new ReconnectingWebsocket(`${scheme}://${location.host}/ws/chat/${encodeURIComponent(roomName)}/`, {
  minDelay: 250,
  maxDelay: 5000,
  recover: true,
  // The room answers {"type":"ping"} with {"type":"pong"}: a link silent for 20 s is dead.
  heartbeat: {
    timeout: 20000,
    interval: 10000,
    message: '{"type":"ping"}',
    isPong: (detail) => detail.raw === '{"type":"pong"}',
  },
});

// ---- connection status --------------------------------------------------------

let hasConnected = false;
let outageNoticed = false;
let queuedNoticed = false;

function showStatus() {
  const state = socket.state;
  // Without a network the socket cannot work, even if the browser has not noticed it is dead yet.
  const label =
    state === 'closed' || !navigator.onLine ? 'offline'
    : state === 'open' ? 'connected'
    : state === 'connecting' ? 'connecting'
    : 'reconnecting';
  statusBadge.textContent = label;
  statusBadge.dataset.state = label;
}

socket.on('state', showStatus);
socket.on('open', ({ reconnected }) => {
  socket.sendJson({ type: 'presence' }); // who is online: the room answers only when asked
  if (reconnected) addNotice('Reconnected.');
  outageNoticed = queuedNoticed = false;
});
socket.on('close', ({ willReconnect }) => {
  setOnline([]); // stale while away; the server's events rebuild it
  if (!hasConnected || outageNoticed) return;
  outageNoticed = true;
  addNotice(willReconnect ? 'Connection lost. Reconnecting…' : 'Disconnected.', 'warning');
});
socket.on('recovery', ({ recovered, replayed }) => {
  if (!recovered) addNotice(`Some messages were lost while you were away${replayed > 0 ? `; the last ${replayed} follow` : ''}.`, 'warning');
  else if (replayed > 0) addNotice(`You missed ${replayed} message${replayed === 1 ? '' : 's'} while away:`);
});
window.addEventListener('offline', showStatus);
window.addEventListener('online', () => {
  socket.connect(); // retry now rather than after the current backoff delay
  showStatus();
});
showStatus();

// ---- incoming ------------------------------------------------------------------

socket.on('message', ({ data, json }) => {
  if (!json || data === null || typeof data !== 'object') return;
  switch (data.type) {
    case undefined:
      if (typeof data.message === 'string') addMessage(String(data.username ?? 'Anonymous'), data.message);
      break;
    case 'connection_established':
      if (!hasConnected) addNotice(String(data.message ?? 'Connected'));
      hasConnected = true;
      break;
    case 'error':
      pending.shift(); // the server refused our oldest unconfirmed message
      addNotice(`Error: ${String(data.message ?? 'unknown')}`, 'error');
      break;
    case 'user_join':
    case 'user_leave':
      changeOnline(String(data.username), data.type === 'user_join' ? 1 : -1);
      addNotice(`${String(data.username)} ${data.type === 'user_join' ? 'joined' : 'left'}.`);
      break;
    case 'presence':
      if (Array.isArray(data.users)) setOnline(data.users.map((user) => String(user?.username ?? user)));
      break;
  }
});

// ---- outgoing ------------------------------------------------------------------

/** Texts we sent that the room has not echoed back yet: how our own messages are recognised. */
const pending = [];

function sendMessage() {
  const message = input.value;
  if (message.trim() === '') return;
  if ([...message].length > MAX_MESSAGE_LENGTH) {
    addNotice(`Not sent: messages are at most ${MAX_MESSAGE_LENGTH} characters.`, 'error');
    return;
  }
  const username = nameInput.value.trim() || 'Anonymous';
  if (!socket.sendJson({ message, username })) {
    addNotice('Not sent: offline for too long. Try again when connected.', 'error');
    return;
  }
  if (socket.state !== 'open' && !queuedNoticed) {
    queuedNoticed = true;
    addNotice('Offline: messages will be sent when the connection is back.', 'warning');
  }
  pending.push(message);
  if (pending.length > 50) pending.shift();
  input.value = '';
  input.focus();
}

/** Asks the room whether the name in the field can be used; shows its answer. */
async function rename() {
  const wanted = nameInput.value.trim();
  if (wanted === '') return localStorage.setItem(NAME_KEY, '');
  try {
    const { username } = await socket.request('rename', { username: wanted }, { timeout: 5000, retry: 'once' });
    if (nameInput.value.trim() === wanted) nameInput.value = username;
    localStorage.setItem(NAME_KEY, username);
    addNotice(username === wanted ? `You are now ${username}.` : `You are ${username} (signed in).`);
  } catch (error) {
    addNotice(`Name not changed: ${error.message}`, 'error');
  }
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  sendMessage();
});
input.addEventListener('keydown', (event) => {
  // Enter while an IME is composing (Chinese, Japanese…) picks a candidate; it must not send.
  if (event.key !== 'Enter' || event.isComposing || event.keyCode === 229 || event.shiftKey) return;
  event.preventDefault();
  sendMessage();
});

// ---- rendering -----------------------------------------------------------------

/** The room of a /chat/<room>/ path (percent-encoded by the browser), or null. */
function roomFromPath(pathname) {
  const encoded = pathname.match(/^\/chat\/([^/]+)\/$/)?.[1];
  if (encoded === undefined) return null;
  try {
    const room = decodeURIComponent(encoded);
    return ROOM_NAME.test(room) ? room : null;
  } catch {
    return null; // malformed percent-encoding
  }
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Appends to the list; follows the newest line only if the reader was already at the bottom. */
function append(node, forceScroll = false) {
  const atBottom = messages.scrollHeight - messages.scrollTop - messages.clientHeight < 48;
  messages.append(node);
  if (atBottom || forceScroll) messages.scrollTop = messages.scrollHeight;
}

function addMessage(username, text) {
  const ownIndex = pending.indexOf(text);
  const own = ownIndex !== -1;
  if (own) pending.splice(ownIndex, 1);
  const now = new Date();
  const item = element('article', own ? 'message own' : 'message');
  item.style.setProperty('--hue', String(hue(username)));
  const meta = element('header', 'meta');
  meta.append(element('span', 'username', username));
  const time = element('time', 'time', timeFormat.format(now));
  time.dateTime = now.toISOString();
  meta.append(time);
  item.append(meta, element('p', 'text', text));
  append(item, own);
  if (document.hidden) countUnread();
}

function addNotice(text, kind = 'info') {
  append(element('p', `notice ${kind}`, text));
}

/** A stable colour per name, so a busy room is easier to follow. */
function hue(name) {
  let hash = 0;
  for (const char of name) hash = (hash * 31 + char.codePointAt(0)) >>> 0;
  return hash % 360;
}

// ---- unread count in the tab title -------------------------------------------------

let unread = 0;
const baseTitle = document.title;
function countUnread() {
  unread += 1;
  document.title = `(${unread}) ${baseTitle}`;
}
document.addEventListener('visibilitychange', () => {
  if (document.hidden) return;
  unread = 0;
  document.title = baseTitle;
});

// ---- who is online (only if the server sends presence events) ----------------------

const online = new Map(); // username -> number of connections

function changeOnline(username, delta) {
  const count = (online.get(username) ?? 0) + delta;
  if (count > 0) online.set(username, count);
  else online.delete(username);
  renderOnline();
}

function setOnline(usernames) {
  online.clear();
  for (const username of usernames) online.set(username, (online.get(username) ?? 0) + 1);
  renderOnline();
}

function renderOnline() {
  const names = [...online.keys()].sort((a, b) => a.localeCompare(b));
  onlineList.replaceChildren(...names.map((name) => element('li', '', name)));
  onlineCount.textContent = String(names.length);
  onlinePanel.hidden = names.length === 0;
}
