// The lobby: pick a room (the server accepts \w+ names only, in Python's sense:
// letters and digits of any script, and _; so check first)
// and a name (kept in localStorage for the room page).
const form = document.querySelector('#room-form');
const roomInput = document.querySelector('#room-name-input');
const nameInput = document.querySelector('#username');
const error = document.querySelector('#room-error');

nameInput.value = localStorage.getItem('switchyard.username') ?? '';
roomInput.focus();
roomInput.select();

form.addEventListener('submit', (event) => {
  event.preventDefault();
  const room = roomInput.value.trim();
  if (!/^[\p{L}\p{N}_]+$/u.test(room) || [...room].length > 100) {
    error.textContent = 'Room names use letters, digits and _ only (up to 100).';
    error.hidden = false;
    roomInput.focus();
    return;
  }
  localStorage.setItem('switchyard.username', nameInput.value.trim());
  location.assign(`/chat/${encodeURIComponent(room)}/`);
});
roomInput.addEventListener('input', () => (error.hidden = true));
