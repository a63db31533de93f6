// The entries table: Time | Type | Actor | Event | Status, newest first, one focusable row per entry.
import { badge, dayKey, dayLabel, el, timeElement } from './format.js';
import { retryOutcome } from './retries.js';

export function createTable(tbody, onOpen, entryUrl = (id) => `?entry=${id}`) {
  function row(item) {
    const actor = item.actor || {};
    return el('tr', { tabIndex: 0, dataset: { id: item.id, status: item.status, day: dayKey(item.occurred_at) } },
      el('td', { className: 'time' }, timeElement(item.occurred_at)),
      el('td', { className: 'type' }, item.type),
      el('td', { className: 'actor' }, actor.name || actor.id || ''),
      el('td', { className: 'event' }, item.event),
      el('td', { className: 'status' }, ...statusCell(item), retried(item)));
  }

  /** A retried failure's outcome, a link to its latest run. */
  function retried(item) {
    const outcome = retryOutcome(item);
    if (!outcome) return null;
    return el('a', { className: 'retried', href: entryUrl(item.retried.run_id), dataset: { run: item.retried.run_id } }, outcome);
  }

  const rows = () => tbody.querySelectorAll('tr[data-id]');

  // The first row of each local day carries the day's name ("Today", "Mon 30 Nov"): a separator in the list,
  // set again after rows are added at either end (a live entry can start a new day at the top).
  function separateDays() {
    let previousDay;
    for (const tr of rows()) {
      const starts = tr.dataset.day !== previousDay;
      const time = tr.querySelector('td.time');
      const label = time.querySelector('.day-label');
      tr.classList.toggle('day-start', starts);
      if (starts && !label) time.prepend(el('span', { className: 'day-label' }, dayLabel(time.querySelector('time').dateTime)));
      if (!starts && label) label.remove();
      previousDay = tr.dataset.day;
    }
  }

  tbody.addEventListener('click', (event) => {
    const run = event.target.closest('a[data-run]');
    if (run) {
      if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;  // new tab: the plain link
      event.preventDefault();
      onOpen(run.dataset.run, run.closest('tr'));
      return;
    }
    const tr = event.target.closest('tr[data-id]');
    if (tr) onOpen(tr.dataset.id, tr);
  });

  // Arrow keys move between rows, Home/End jump, Enter or Space opens the entry.
  tbody.addEventListener('keydown', (event) => {
    const tr = event.target.closest('tr[data-id]');
    if (!tr || (event.key === 'Enter' && event.target.closest('a[data-run]'))) return;  // Enter on the run's link follows it
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
    append(items) { tbody.append(...items.map(row)); separateDays(); },
    /** Live entries (newest first), each at its place by id: one a little older than the top goes below it. */
    insert(items) {
      for (const item of items) {
        const after = [...rows()].find((tr) => tr.dataset.id < item.id);
        tbody.insertBefore(row(item), after || null);
      }
      separateDays();
    },
    /** A newer reading of a shown entry (a list item or the whole entry): its status and progress. True if it changed. */
    update(item) {
      const tr = this.row(item.id);
      const cell = tr?.querySelector('td.status');
      if (!cell) return false;
      const event = tr.querySelector('td.event');
      const before = tr.textContent;
      cell.replaceChildren(...[...statusCell(item, cell.querySelector('.progress')?.textContent), retried(item)].filter(Boolean));
      if (item.event) event.textContent = item.event;  // a job's event may say how far it is
      tr.dataset.status = item.status;
      return tr.textContent !== before;
    },
    row(id) { return [...rows()].find((tr) => tr.dataset.id === id) || null; },
    firstRow() { return rows()[0] || null; },
    firstId() { return rows()[0]?.dataset.id || ''; },
    lastId() { return [...rows()].at(-1)?.dataset.id || ''; },
    running() { return [...tbody.querySelectorAll('tr[data-status="IN_PROGRESS"]')]; },
    /** Mark the row whose entry the detail panel shows. */
    mark(id) {
      for (const tr of tbody.rows) {
        if (tr.dataset.id === id) tr.setAttribute('aria-current', 'true');
        else tr.removeAttribute('aria-current');
      }
    },
  };
}

/** The status badge, and a running job's progress ("268 / 286") when its metadata says (only the whole entry has it). */
function statusCell(item, shownProgress = '') {
  const { processed, total } = item.metadata || {};
  let progress = shownProgress;
  if (item.status !== 'IN_PROGRESS') progress = '';
  else if (Number.isFinite(processed)) progress = Number.isFinite(total) ? `${processed} / ${total}` : String(processed);
  return [badge(item.status), progress && el('span', { className: 'progress' }, progress)];
}
