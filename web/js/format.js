// How times and values read on the page: "2 min ago" in the table, the exact time on hover.

/** "just now", "2 min ago", "1 hr ago", "3 hrs ago", "2 days ago" (the CLI's `ago`, the same words). */
export function ago(iso, now = Date.now()) {
  const seconds = Math.max(0, (now - Date.parse(iso)) / 1000);
  if (seconds < 60) return 'just now';
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) {
    const hours = Math.floor(seconds / 3600);
    return `${hours} hr${hours > 1 ? 's' : ''} ago`;
  }
  const days = Math.floor(seconds / 86400);
  return `${days} day${days > 1 ? 's' : ''} ago`;
}

const exactFormat = new Intl.DateTimeFormat(undefined, {
  dateStyle: 'medium', timeStyle: 'long',
});

/** The exact moment in the reader's time zone, with the UTC instant the API gave. */
export function exact(iso) {
  return `${exactFormat.format(new Date(iso))} (${iso})`;
}

/** A <time> element showing the relative time, exact on hover; refreshTimes() keeps it current. */
export function timeElement(iso) {
  const element = document.createElement('time');
  element.dateTime = iso;
  element.title = exact(iso);
  element.textContent = ago(iso);
  return element;
}

export function refreshTimes(root = document) {
  const now = Date.now();
  for (const element of root.querySelectorAll('time[datetime]')) {
    element.textContent = ago(element.dateTime, now);
  }
}

/** A span with the status's coloured badge (the word stays: colour is never the only signal). */
export function badge(status) {
  const element = document.createElement('span');
  element.className = `badge badge-${status}`;
  element.textContent = status;
  return element;
}

/** How long a finished job took, e.g. "1 min 58 s". */
export function duration(fromIso, toIso) {
  let seconds = Math.round((Date.parse(toIso) - Date.parse(fromIso)) / 1000);
  if (!(seconds >= 0)) return '';
  const hours = Math.floor(seconds / 3600); seconds -= hours * 3600;
  const minutes = Math.floor(seconds / 60); seconds -= minutes * 60;
  return [hours && `${hours} h`, minutes && `${minutes} min`, `${seconds} s`].filter(Boolean).join(' ');
}

/** Build an element: el('td', {className: 'x'}, child, 'text'). Text is always set as text, never HTML. */
export function el(tag, properties = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(properties)) {
    if (name === 'dataset') Object.assign(element.dataset, value);
    else if (name.startsWith('aria-') || name === 'role' || name === 'scope') element.setAttribute(name, value);
    else element[name] = value;
  }
  for (const child of children) {
    if (child !== null && child !== undefined && child !== false) element.append(child);
  }
  return element;
}

/** An entity type as people say it: "team_member" -> "Team member" (the API's value stays in the URL). */
export function entityLabel(type) {
  const words = String(type || '').replaceAll('_', ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** Who acted: "Riley Park (user, u_17)", "Stripe (integration)", "system" (never "system (system)"). */
export function actorText(actor = {}) {
  const name = actor.name || actor.id || 'unknown';
  const more = [actor.kind && actor.kind !== name ? actor.kind : null, actor.id && actor.id !== name ? actor.id : null];
  return more.some(Boolean) ? `${name} (${more.filter(Boolean).join(', ')})` : name;
}

/** The exact moment (then ``after``), its UTC instant on a line of its own, kept whole (never broken mid-token). */
export function exactElement(iso, after = '') {
  return el('span', {}, `${exactFormat.format(new Date(iso))}${after}`, el('span', { className: 'iso' }, iso));
}

/** "Today", "Yesterday", else "Mon 30 Nov" (the year too when not this year): the list's day separators. */
export function dayLabel(iso, now = new Date()) {
  const day = new Date(iso);
  const start = (moment) => new Date(moment.getFullYear(), moment.getMonth(), moment.getDate()).getTime();
  const days = Math.round((start(now) - start(day)) / 86400000);
  if (days === 0) return 'Today';
  if (days === 1) return 'Yesterday';
  return day.toLocaleDateString(undefined, { weekday: 'short', day: 'numeric', month: 'short',
    ...(day.getFullYear() === now.getFullYear() ? {} : { year: 'numeric' }) });
}

/** The local day of an instant, as a key ("2026-12-05"): a new key starts a new day in the list. */
export function dayKey(iso) {
  const day = new Date(iso);
  return `${day.getFullYear()}-${day.getMonth() + 1}-${day.getDate()}`;
}
