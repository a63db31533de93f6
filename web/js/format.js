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
