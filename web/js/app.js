// The Activity Logs page: sign-in, the filters (kept in the URL), the table with its cursor, the detail panel.
import { ApiError, SignedOut, createApi } from './api.js';
import { createDetail } from './detail.js';
import { toolbarActions } from './extensions.js';
import { apiQuery, emptyFilters, fromLocalInput, readUrl, toLocalInput, writeUrl } from './filters.js';
import { el, entityLabel, refreshTimes } from './format.js';
import { createLive } from './live.js';
import { createMemberSearch } from './members.js';
import { createMultiSelect } from './multiselect.js';
import * as session from './session.js';
import { createTable } from './table.js';
import './jobs.js';  // Retry and the related chain, in the detail panel

const $ = (id) => document.getElementById(id);
const api = createApi(session.token);

let filters = emptyFilters();
let openEntry = '';
let vocab = null;
let multiSelects = null;  // Type and Status, built once the vocabulary is read
// The listing under way: its query (a relative range resolved once), the cursor of the next page.
const list = { generation: 0, controller: null, query: null, cursor: null, done: true, loading: false, count: 0 };

const context = {
  api,
  navigate: (search) => applyFilters(readUrl(search).filters),
  recordHistory: (entity) => writeUrl({ ...emptyFilters(), entityType: entity.type, entityId: entity.id, range: 'all' }),
  entryUrl: (id) => writeUrl(filters, id),
  openEntry: (id) => showEntry(id, null),
  failed: (error) => fail(error, null),
};
const table = createTable($('rows'), (id, row) => showEntry(id, row), (id) => writeUrl(filters, id));
const detail = createDetail({
  panel: $('detail'), title: $('detail-title'), actionsBar: $('detail-actions'), body: $('detail-body'),
  closeButton: $('detail-close'), context,
  onClose: () => { openEntry = ''; table.mark(''); history.replaceState(null, '', writeUrl(filters)); },
});
const members = createMemberSearch($('user'), $('user-options'), $('user-message'), api, (user) => {
  if (user !== filters.user) applyFilters({ ...filters, user });
});
// New entries and running jobs, polled while the tab is shown (live.js).
const live = createLive({
  api, table, bar: $('new-entries'), complete: () => list.done,
  onInsert: (items) => { list.count += items.length; members.remember(items); showListState(); },
  onError: (error) => fail(error, null),
});
// Scrolling near the end of the table loads the next page (the button does the same by hand).
const nearEnd = new IntersectionObserver((seen) => { if (seen.some((e) => e.isIntersecting)) loadMore(); }, { rootMargin: '200px' });

boot();

async function boot() {
  session.takeTokenFromFragment();
  ({ filters, entry: openEntry } = readUrl(location.search));
  wire();
  setInterval(() => refreshTimes(), 30_000);
  if (!session.token()) showSignIn('');
  else start();
}

async function start() {
  $('signin').hidden = true;
  $('app').hidden = false;
  const claims = session.claims();
  $('who-name').textContent = `Signed in as ${claims.name || claims.sub || 'unknown'}${claims.org_id ? ` · ${claims.org_id}` : ''}`;
  $('who').hidden = false;
  if (!vocab) {
    try {
      vocab = await api.catalog();
    } catch (error) {
      fail(error, () => start());
      return;
    }
    buildFilterControls();
  }
  showFilters();
  reload();
  if (openEntry) showEntry(openEntry, null);
}

function showSignIn(message) {
  live.stop();
  list.controller?.abort();
  list.generation += 1;
  detail.close();
  $('app').hidden = true;
  $('skeleton').hidden = true;
  $('who').hidden = true;
  $('signin').hidden = false;
  $('signin-message').textContent = message;
  $('token').focus();
}

// --- the listing --------------------------------------------------------------------------------

function reload() {
  live.stop();
  list.controller?.abort();
  list.controller = new AbortController();
  list.generation += 1;
  Object.assign(list, { query: apiQuery(filters), cursor: null, done: false, loading: false, count: 0 });
  table.clear();
  hideProblem();
  const from = list.query.get('from');
  const to = list.query.get('to');
  if (from && to && Date.parse(from) >= Date.parse(to)) {  // said here, in the range's words: the API's 400 could not help
    list.done = true;
    fail(new ApiError(400, 'From is after To: choose a From earlier than the To, or another date range.'), null);
    return;
  }
  showListState();
  loadMore();
}

async function loadMore() {
  if (list.loading || list.done || !$('problem').hidden) return;
  const { generation } = list;
  list.loading = true;
  showListState();
  try {
    const first = !list.cursor;
    const page = await api.list(list.query, list.cursor, list.controller.signal);
    if (generation !== list.generation) return;
    if (first) live.follow(list.query);
    table.append(page.items);
    members.remember(page.items);
    if (filters.entityId) showRecord(page.items);
    if (openEntry) table.mark(openEntry);
    list.count += page.items.length;
    list.cursor = page.next_cursor || null;
    list.done = !list.cursor;
  } catch (error) {
    if (generation === list.generation && error.name !== 'AbortError') fail(error, () => { hideProblem(); loadMore(); });
  } finally {
    if (generation === list.generation) {
      list.loading = false;
      showListState();
      if (!list.done && $('problem').hidden) {  // still near the end (a short page): ask the observer again
        nearEnd.unobserve($('more'));
        nearEnd.observe($('more'));
      }
    }
  }
}

function showListState() {
  const empty = list.done && list.count === 0 && $('problem').hidden;
  $('entries').setAttribute('aria-busy', String(list.loading));
  $('entries').hidden = empty || (!$('problem').hidden && list.count === 0);
  $('skeleton').hidden = !(list.loading && list.count === 0);
  $('empty').hidden = !empty;
  $('more').hidden = list.done || !$('problem').hidden || (list.loading && list.count === 0);  // the skeleton says it
  $('more').disabled = list.loading;
  const shown = `${list.count} ${list.count === 1 ? 'entry' : 'entries'}`;
  const failed = !$('problem').hidden;
  $('list-status').textContent = list.loading ? (list.count ? `Showing ${shown}; loading more…` : 'Loading entries…')
    : failed ? (list.count ? `Showing ${shown}` : '') : empty ? 'No entries'
      : list.done ? `Showing all ${shown}` : `Showing ${shown}; scroll for more`;
}

/** A refusal on the way: 401 is sign-in again; anything else is said, with a way to try again. */
function fail(error, retry) {
  if (error instanceof SignedOut) {
    session.signOut();
    showSignIn(error.message);
    return;
  }
  const message = error instanceof ApiError ? error.message : `Something went wrong: ${error.message}`;
  $('problem-text').textContent = error.field ? `${message} (${error.field})` : message;
  $('problem').hidden = false;
  // A refused filter (4xx) comes out the same however often it is tried: no "Try again" then.
  $('problem-retry').hidden = error.status >= 400 && error.status < 500 && error.status !== 429;
  $('problem-retry').onclick = retry || (() => location.reload());
  showListState();
}

function hideProblem() {
  $('problem').hidden = true;
}

// --- the detail panel ---------------------------------------------------------------------------

function showEntry(id, row) {
  openEntry = id;
  table.mark(id);
  history.replaceState(null, '', writeUrl(filters, id));
  detail.open(id, row || table.row(id));
}

// --- the filters --------------------------------------------------------------------------------

function applyFilters(next) {
  filters = next;
  openEntry = '';
  detail.close();
  history.pushState(null, '', writeUrl(filters));
  showFilters();
  reload();
}

function buildFilterControls() {
  const closeOthers = (open) => () => Object.values(multiSelects).filter((menu) => menu !== multiSelects[open]).forEach((menu) => menu.close());
  multiSelects = {
    types: createMultiSelect($('type-filter'), { label: 'Type', name: 'type', values: vocab.types.map((type) => type.value),
      onChange: (types) => applyFilters({ ...filters, types }), onOpen: closeOthers('types') }),
    statuses: createMultiSelect($('status-filter'), { label: 'Status', name: 'status', values: vocab.statuses.map((status) => status.value),
      presets: [['FAILED + WARNING', ['FAILED', 'WARNING']]],
      onChange: (statuses) => applyFilters({ ...filters, statuses }), onOpen: closeOthers('statuses') }),
  };
  $('entity').append(...vocab.entityTypes.map((type) => el('option', { value: type.value }, type.label)));
  $('toolbar-actions').replaceChildren(...toolbarActions.filter((action) => !action.shown || action.shown()).map((action) => {
    const button = el('button', { type: 'button' }, action.label);
    button.addEventListener('click', () => action.run(list.query, { ...context, button }));
    return button;
  }));
}

/** Make every control say what the filter set is (after a change, a link or Back). */
function showFilters() {
  if (!vocab) return;
  multiSelects.types.show(filters.types);
  multiSelects.statuses.show(filters.statuses);
  members.show(filters.user);
  $('entity').value = filters.entityType;
  $('range').value = filters.range;
  $('custom-range').hidden = filters.range !== 'custom';
  if (filters.range === 'custom') {
    $('from').value = toLocalInput(filters.from);
    $('to').value = toLocalInput(filters.to);
  }
  $('record-filter').hidden = !filters.entityId;
  $('record-label').textContent = filters.entityId ? `History of ${entityLabel(filters.entityType)} ${filters.entityId}` : '';
}

/** Name the record whose history is shown, once an entry of it has been read. */
function showRecord(items) {
  const entity = items.map((item) => item.entity).find((e) => e && e.type === filters.entityType && e.id === filters.entityId);
  if (entity?.label) $('record-label').textContent = `History of ${entity.label} (${entityLabel(entity.type)} ${entity.id})`;
}

function wire() {
  $('signin-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const token = session.signIn($('token').value);
    $('token').value = '';
    if (token) start();
  });
  $('sign-out').addEventListener('click', () => { session.signOut(); showSignIn('Signed out.'); });

  document.addEventListener('click', (event) => {
    if (multiSelects && !event.target.closest('.menu-filter')) Object.values(multiSelects).forEach((menu) => menu.close());
  });

  $('entity').addEventListener('change', () => applyFilters({ ...filters, entityType: $('entity').value, entityId: '' }));
  $('range').addEventListener('change', () => {
    const range = $('range').value;
    if (range !== 'custom') {
      applyFilters({ ...filters, range, from: '', to: '' });
      return;
    }
    // Custom starts from the window shown now; nothing is listed until Apply.
    $('custom-range').hidden = false;
    $('from').value = toLocalInput(list.query?.get('from') || new Date(Date.now() - 86400000).toISOString());
    $('to').value = toLocalInput(list.query?.get('to') || new Date().toISOString());
    $('from').focus();
  });
  $('apply-range').addEventListener('click', () => {
    applyFilters({ ...filters, range: 'custom', from: fromLocalInput($('from').value), to: fromLocalInput($('to').value) });
  });
  $('record-clear').addEventListener('click', () => applyFilters({ ...filters, entityId: '' }));
  $('reset').addEventListener('click', () => applyFilters(emptyFilters()));
  $('filters').addEventListener('submit', (event) => event.preventDefault());
  $('more').addEventListener('click', () => loadMore());
  nearEnd.observe($('more'));

  window.addEventListener('popstate', () => {
    ({ filters, entry: openEntry } = readUrl(location.search));
    detail.close();
    if ($('app').hidden) return;
    showFilters();
    reload();
    if (openEntry) showEntry(openEntry, null);
  });
}
