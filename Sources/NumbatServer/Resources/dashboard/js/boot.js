// Loads the dashboard: app.js and every module it imports. One module that fails to arrive
// fails them all, and the browser keeps that failure for the page's life; a network change
// aborts the requests in flight (Chromium's ERR_NETWORK_CHANGED when an interface comes or
// goes: a VPN, a dock, a container started), so the page reloads itself a few times, a little
// later each time, before it says it could not load.
const ATTEMPTS_KEY = 'numbat-load-attempts';
const MAX_RELOADS = 3;

import('./app.js').then(() => {
  sessionStorage.removeItem(ATTEMPTS_KEY);
}).catch((error) => {
  const attempts = Number(sessionStorage.getItem(ATTEMPTS_KEY) || 0) + 1;
  if (attempts <= MAX_RELOADS) {
    sessionStorage.setItem(ATTEMPTS_KEY, String(attempts));
    setTimeout(() => location.reload(), 500 * attempts);
    return;
  }
  sessionStorage.removeItem(ATTEMPTS_KEY);
  const message = document.createElement('p');
  message.className = 'error';
  message.setAttribute('role', 'alert');
  message.textContent = `The dashboard could not load (${error.message}). Reload the page to try again.`;
  document.getElementById('view').replaceChildren(message);
});
