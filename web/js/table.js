// The entries table: Time | Type | Actor | Event | Status, newest first, one focusable row per entry.
import { badge, dayKey, dayLabel, el, timeElement } from './format.js';

export function createTable(tbody, onOpen) {
  // The first row of each local day carries the day's name ("Today", "Mon 30 Nov"): a separator in the list.
  function row(item, previousDay) {
    const actor = item.actor || {};
    const day = dayKey(item.occurred_at);
    return el('tr', { tabIndex: 0, dataset: { id: item.id, day }, className: day === previousDay ? '' : 'day-start' },
      el('td', { className: 'time' }, day === previousDay ? null : el('span', { className: 'day-label' }, dayLabel(item.occurred_at)),
        timeElement(item.occurred_at)),
      el('td', { className: 'type' }, item.type),
      el('td', { className: 'actor' }, actor.name || actor.id || ''),
      el('td', { className: 'event' }, item.event),
      el('td', { className: 'status' }, badge(item.status)));
  }

  tbody.addEventListener('click', (event) => {
    const tr = event.target.closest('tr[data-id]');
    if (tr) onOpen(tr.dataset.id, tr);
  });

  // Arrow keys move between rows, Home/End jump, Enter or Space opens the entry.
  tbody.addEventListener('keydown', (event) => {
    const tr = event.target.closest('tr[data-id]');
    if (!tr) return;
    const rows = [...tbody.rows];
    const moves = { ArrowDown: tr.nextElementSibling, ArrowUp: tr.previousElementSibling, Home: rows[0], End: rows.at(-1) };
    if (event.key in moves) {
      moves[event.key]?.focus();
      event.preventDefault();
    } else if (event.key === 'Enter' || event.key === ' ') {
      onOpen(tr.dataset.id, tr);
      event.preventDefault();
    }
  });

  return {
    clear() { tbody.replaceChildren(); },
    append(items) {
      let previousDay = tbody.lastElementChild?.dataset.day;
      tbody.append(...items.map((item) => {
        const tr = row(item, previousDay);
        previousDay = tr.dataset.day;
        return tr;
      }));
    },
    row(id) { return [...tbody.rows].find((tr) => tr.dataset.id === id) || null; },
    /** Mark the row whose entry the detail panel shows. */
    mark(id) {
      for (const tr of tbody.rows) {
        if (tr.dataset.id === id) tr.setAttribute('aria-current', 'true');
        else tr.removeAttribute('aria-current');
      }
    },
  };
}
