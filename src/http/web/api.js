// The service's API from the page: the tab's token (sessionStorage), asking for one, GET with early
// answers taken once and 401/503 handled, and JSON sends. Errors are ApiProblem (the problem's detail
// and the status). The page sets `settings` once its config is read.

/// Whether the service asks for tokens, and what to say while it asks the page to wait (a 503 with
/// Retry-After).
export const settings = { auth: false, onWait: () => {} };

export function token() { return sessionStorage.getItem('leadmap-token'); }

export function askToken(why) {
  const dialog = document.querySelector('#token-dialog');
  if (why) document.querySelector('#token-why').textContent = why;
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => {
      const t = new FormData(document.querySelector('#token-form')).get('token');
      if (t) sessionStorage.setItem('leadmap-token', String(t).trim());
      resolve();
    }, { once: true });
    dialog.showModal();
  });
}

export class ApiProblem extends Error {
  constructor(status, detail) { super(detail); this.status = status; }
}

export function authHeaders() { return token() ? { Authorization: `Bearer ${token()}` } : {}; }

// Answers asked for before MapLibre and the role were in hand (by path); api() takes each once, and asks
// again for any that did not come back 200.
const prefetched = new Map();

export function prefetch(path) {
  prefetched.set(path, fetch(path, { headers: authHeaders() }).then((r) => (r.ok ? r.json() : null)).catch(() => null));
}

export async function api(path, { raw = false } = {}) {
  const early = !raw && prefetched.get(path);
  if (early) {
    prefetched.delete(path);
    const answer = await early;
    if (answer) return answer;
  }
  for (let attempt = 0; attempt < 3; attempt++) {
    const r = await fetch(path, { headers: authHeaders() });
    if (r.status === 401 && settings.auth) {
      const p = await r.json().catch(() => ({}));
      sessionStorage.removeItem('leadmap-token');
      await askToken(p.detail || 'The token was not accepted; enter another.');
      continue;
    }
    // The service has just started and is reading its stored events: say so, ask again when it says.
    const wait = Number(r.headers.get('Retry-After'));
    if (r.status === 503 && wait > 0) {
      const p = await r.json().catch(() => ({}));
      settings.onWait(`The service is ${p.detail || 'busy'}; asking again in ${wait} s.`);
      await new Promise((done) => { setTimeout(done, 1000 * wait); });
      attempt -= 1;
      continue;
    }
    if (!r.ok) {
      const p = await r.json().catch(() => ({}));
      throw new ApiProblem(r.status, p.detail || `${path}: HTTP ${r.status}`);
    }
    return raw ? r : r.json();
  }
  throw new ApiProblem(401, 'no valid token');
}

/// Sends `body` (JSON) to `path` with `method`; the answer's JSON, or an ApiProblem with its detail.
export async function send(method, path, body) {
  const r = await fetch(path, { method, headers: { ...authHeaders(), 'Content-Type': 'application/json' }, body: body == null ? undefined : JSON.stringify(body) });
  const answer = r.status === 204 ? null : await r.json().catch(() => ({}));
  if (!r.ok) throw new ApiProblem(r.status, (answer && answer.detail) || `${path}: HTTP ${r.status}`);
  return answer;
}
