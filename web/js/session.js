// The reader's token, kept for this browser tab only (sessionStorage): closing the tab signs out.
const KEY = 'activitylog.token';

/** The token as pasted: a bare JWT, `Bearer …`, or make dev's whole `export TOKEN=…` line. */
export function cleanToken(raw) {
  return String(raw || '').trim().replace(/^export\s+/, '').replace(/^TOKEN=/, '').replace(/^Bearer\s+/i, '')
    .replace(/^["']|["']$/g, '').trim();
}

export function token() {
  return sessionStorage.getItem(KEY);
}

export function signIn(raw) {
  const value = cleanToken(raw);
  if (value) sessionStorage.setItem(KEY, value);
  return value;
}

export function signOut() {
  sessionStorage.removeItem(KEY);
}

/** Who the token names (its unverified claims, for the header only: the API verifies it). */
export function claims() {
  try {
    const payload = token().split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(payload), (c) => c.charCodeAt(0))));
  } catch {
    return {};
  }
}

/**
 * make dev prints the page's URL with `#token=…`: take it, then drop it from the address bar,
 * so a copied link never carries the token (a fragment is never sent to the server either).
 */
export function takeTokenFromFragment() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  if (!fragment.has('token')) return false;
  signIn(fragment.get('token'));
  history.replaceState(history.state, '', location.pathname + location.search);
  return true;
}
