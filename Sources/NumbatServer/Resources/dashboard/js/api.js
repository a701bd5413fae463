// The REST API and the event WebSocket, with the token the user signed in with.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const TOKEN_KEY = 'numbat-token';
export const session = { token: sessionStorage.getItem(TOKEN_KEY) || '' };

export function setToken(token) {
  session.token = token;
  if (token) sessionStorage.setItem(TOKEN_KEY, token); else sessionStorage.removeItem(TOKEN_KEY);
}

/** One call: JSON in and out; a non-2xx answer throws the server's own words. */
export async function api(method, path, body, { contentType } = {}) {
  const headers = {};
  if (session.token) headers.Authorization = 'Bearer ' + session.token;
  let payload;
  if (body instanceof Blob || body instanceof ArrayBuffer) {
    payload = body;
    headers['Content-Type'] = contentType || 'application/gzip';
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    headers['Content-Type'] = 'application/json';
  }
  let response;
  // A read is tried again (twice, half a second apart) when the request itself fails: a
  // network change aborts requests in flight. A write is not: it may have arrived.
  for (let attempt = 0; ; attempt++) {
    try {
      response = await fetch(path, { method, headers, body: payload });
      break;
    } catch (error) {
      if (method !== 'GET' || attempt >= 2) throw new ApiError(0, 'unreachable', `Numbat cannot be reached (${error.message})`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  const text = await response.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { /* not JSON: keep the text */ }
  if (!response.ok) {
    const error = json && json.error;
    throw new ApiError(response.status, (error && error.code) || `http_${response.status}`,
      (error && error.message) || text || response.statusText);
  }
  return json;
}

export function webSocketURL(path, query = {}) {
  const url = new URL(path, location.href);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  for (const [key, value] of Object.entries(query)) url.searchParams.set(key, value);
  if (session.token) url.searchParams.set('token', session.token);
  return url.toString();
}

/** The event stream: every server event to `onEvent`, reconnecting with backoff. */
export function connectEvents(onEvent, onStatus) {
  let socket;
  let delay = 500;
  let stopped = false;
  const open = () => {
    socket = new WebSocket(webSocketURL('/api/ws'));
    socket.onopen = () => { delay = 500; onStatus(true); };
    socket.onmessage = (message) => {
      try { onEvent(JSON.parse(message.data)); } catch (error) { console.error('event', error); }
    };
    socket.onclose = () => {
      onStatus(false);
      if (!stopped) setTimeout(open, delay);
      delay = Math.min(delay * 2, 10000);
    };
  };
  open();
  return () => { stopped = true; socket && socket.close(); };
}
