// The lobby: pick a room (the server accepts \w+ names only, so check first)
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
  if (!/^\w+$/.test(room)) {
    error.textContent = 'Room names use letters, digits and _ only.';
    error.hidden = false;
    roomInput.focus();
    return;
  }
  localStorage.setItem('switchyard.username', nameInput.value.trim());
  location.assign(`/chat/${room}/`);
});
roomInput.addEventListener('input', () => (error.hidden = true));
