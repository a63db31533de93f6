// Live: entries recorded while the page is open appear without a reload, and IN_PROGRESS rows on
// screen move. One poll asks GET /activities, with the listing's own filters, for the entries from
// the newest one shown less GRACE_MS: an entry's id is minted when it occurs, and one minted a moment
// before a newer entry may be written after it, so "strictly newer than the newest id" would lose it.
// `activitylog tail` polls the same way (cli.py's TAIL_GRACE), so the two show the same entries.
// Each visible IN_PROGRESS row is read on its own (GET /activities/{id}: the list has no progress).
// Polls back off while nothing changes and after errors, and stop while the tab is hidden.

import { SignedOut } from './api.js';

export const GRACE_MS = 30_000;
const PAGE = 200;  // the API's largest page: one request answers a poll unless 200 entries came in its window
const MOST_PAGES = 5;  // a flood past 1,000 entries in one poll: the rest arrive with Load more or a reload
const MOST_READS = 10;  // IN_PROGRESS rows read per poll: no more fit on one screen
// Tests set globalThis.ACTIVITY_LOG_LIVE (a Playwright init script) for short intervals.
const SETTINGS = { intervalMs: 5_000, idleMaxMs: 30_000, errorMaxMs: 300_000, ...(globalThis.ACTIVITY_LOG_LIVE || {}) };
const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** The millisecond an entry id was minted for (its first 10 characters). */
export function idTime(id) {
  let ms = 0;
  for (const char of id.slice(0, 10)) ms = ms * 32 + CROCKFORD.indexOf(char);
  return ms;
}

/**
 * follow(query) after a listing's first page; stop() when the listing is replaced.
 * `complete()` says whether every page is loaded (an entry older than the last row loaded is
 * left to Load more); `onInsert(items)` after rows are inserted; `onError` for a 401.
 */
export function createLive({ api, table, bar, complete, onInsert, onError }) {
  let query = null;
  let generation = 0;
  let timer = null;
  let delay = SETTINGS.intervalMs;
  let controller = null;
  let pending = [];  // new entries held behind the bar while the reader is scrolled down, newest first

  bar.addEventListener('click', () => {
    showPending();
    table.firstRow()?.scrollIntoView({ block: 'center' });
    table.firstRow()?.focus({ preventScroll: true });
  });
  document.addEventListener('visibilitychange', () => {
    if (!query) return;
    clearTimeout(timer);
    timer = null;
    if (document.visibilityState === 'visible') {  // back: look at once, at the quickest pace
      delay = SETTINGS.intervalMs;
      poll();
    }
  });
  // Back at the top by scrolling: the held entries go in.
  window.addEventListener('scroll', () => { if (pending.length && atTop()) showPending(); }, { passive: true });

  function follow(listQuery) {
    stop();
    query = listQuery;
    delay = SETTINGS.intervalMs;
    schedule();
  }

  function stop() {
    generation += 1;
    query = null;
    clearTimeout(timer);
    timer = null;
    controller?.abort();
    pending = [];
    showBar();
  }

  function schedule() {
    clearTimeout(timer);
    timer = document.visibilityState === 'visible' ? setTimeout(poll, delay) : null;
  }

  async function poll() {
    timer = null;
    if (!query || document.visibilityState !== 'visible') return;
    const mine = generation;
    controller = new AbortController();
    try {
      const moved = await pollNew(mine);
      const running = await refreshRunning(mine);
      if (mine !== generation) return;
      // Something moved, or a job on screen is running: keep the quick pace; else slow down.
      delay = moved || running ? SETTINGS.intervalMs : Math.min(delay * 1.5, SETTINGS.idleMaxMs);
    } catch (error) {
      if (mine !== generation || error.name === 'AbortError') return;
      if (error instanceof SignedOut) {
        stop();
        onError(error);
        return;
      }
      delay = Math.min(Math.max(delay, SETTINGS.intervalMs) * 2, SETTINGS.errorMaxMs);  // quietly: the next poll may work
    }
    schedule();
  }

  /** New entries of the filter set: inserted, or held behind the bar. True when any arrived or changed. */
  async function pollNew(mine) {
    const params = new URLSearchParams(query);
    const to = params.get('to');
    if (to && Date.parse(to) < Date.now() - GRACE_MS) return false;  // a closed range: nothing new can fall in it
    const newest = [pending[0]?.id, table.firstId()].filter(Boolean).sort().at(-1);
    if (newest) {
      const since = idTime(newest) - GRACE_MS;
      if (!params.get('from') || since > Date.parse(params.get('from'))) params.set('from', new Date(since).toISOString());
    }
    params.set('limit', String(PAGE));
    const items = [];
    let cursor = null;
    for (let pages = 0; pages < MOST_PAGES; pages += 1) {
      const page = await api.list(params, cursor, controller.signal);
      if (mine !== generation) return false;
      items.push(...page.items);
      cursor = page.next_cursor;
      if (!cursor) break;
    }
    let changed = false;
    const fresh = [];
    const oldestLoaded = table.lastId();
    for (const item of items) {
      const held = pending.find((entry) => entry.id === item.id);
      if (held) Object.assign(held, item);
      else if (table.row(item.id)) changed = table.update(item) || changed;
      else if (complete() || !oldestLoaded || item.id > oldestLoaded) fresh.push(item);
    }
    if (!fresh.length) return changed;
    pending = [...fresh, ...pending].sort((a, b) => (a.id < b.id ? 1 : -1));
    if (atTop()) showPending();
    else showBar();
    return true;
  }

  /** Read each IN_PROGRESS row on screen again: its status and progress. True when any is on screen. */
  async function refreshRunning(mine) {
    const running = table.running().filter(onScreen).slice(0, MOST_READS);
    for (const row of running) {
      const entry = await api.entry(row.dataset.id, controller.signal);
      if (mine !== generation) return false;
      table.update(entry);
    }
    return running.length > 0;
  }

  function showPending() {
    if (!pending.length) return;
    const items = pending;
    pending = [];
    table.insert(items);
    showBar();
    onInsert(items);
  }

  function showBar() {
    bar.hidden = !pending.length;
    bar.textContent = `${pending.length} new ${pending.length === 1 ? 'entry' : 'entries'} · show`;
  }

  /** The reader sees the first row: new rows go in at once rather than moving what is being read. */
  function atTop() {
    const first = table.firstRow();
    return !first || first.getBoundingClientRect().top >= 0;
  }

  return { follow, stop };
}

function onScreen(row) {
  const box = row.getBoundingClientRect();
  return box.bottom > 0 && box.top < window.innerHeight && box.height > 0;
}
