// The sign-in page: shows who is signed in (from /whoami/), the error after a
// failed attempt, and carries ?next= through the form. Text only, never HTML.
const params = new URLSearchParams(location.search);
const next = params.get('next');
if (next && next.startsWith('/') && !next.startsWith('//')) document.querySelector('#login-next').value = next;
document.querySelector('#login-error').hidden = params.get('error') !== '1';

fetch('/whoami/', { credentials: 'same-origin' })
  .then((response) => response.json())
  .then((who) => {
    if (!who.isAuthenticated) return;
    document.querySelector('#whoami').textContent = String(who.username);
    document.querySelector('#signed-in').hidden = false;
  })
  .catch(() => {});
