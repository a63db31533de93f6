// The entries table: Time | Type | Actor | Event | Status, newest first, one focusable row per entry.
import { badge, el, timeElement } from './format.js';

export function createTable(tbody, onOpen) {
  function row(item) {
    const actor = item.actor || {};
    return el('tr', { tabIndex: 0, dataset: { id: item.id } },
      el('td', { className: 'time' }, timeElement(item.occurred_at)),
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
    append(items) { tbody.append(...items.map(row)); },
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
