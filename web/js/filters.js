// The filter set as the URL holds it, so a copied link reproduces the view, and as the API
// reads it (GET /activities: type, status, user, entity_type, entity_id, from, to).

/** Date range presets: hours back from now. "today", "yesterday", "all" and "custom" are the other choices. */
export const RANGES = { '24h': 24, '7d': 24 * 7, '30d': 24 * 30 };
// Calendar days in the reader's own time zone (as the CLI's `--from today` is the terminal's):
// how many days back the day starts, and whether it ends at the next midnight (else now).
const DAYS = { today: [0, false], yesterday: [1, true] };
export const DEFAULT_RANGE = '24h';
// "All time": the API never lists entries past the org's retention, so the epoch is the whole history.
const BEGINNING = '1970-01-01T00:00:00.000Z';

export function emptyFilters() {
  return { types: [], statuses: [], user: '', entityType: '', entityId: '', range: DEFAULT_RANGE, from: '', to: '' };
}

/** {filters, entry} from a location's search string (entry: the id of an open detail panel). */
export function readUrl(search) {
  const params = new URLSearchParams(search);
  const many = (name) => (params.get(name) || '').split(',').map((value) => value.trim()).filter(Boolean);
  let range = params.get('range') || DEFAULT_RANGE;
  if (!(range in RANGES) && !(range in DAYS) && range !== 'all' && range !== 'custom') range = DEFAULT_RANGE;
  return {
    filters: {
      types: many('type'),
      statuses: many('status'),
      user: params.get('user') || '',
      entityType: params.get('entity_type') || '',
      entityId: params.get('entity_type') ? params.get('entity_id') || '' : '',
      range,
      from: range === 'custom' ? params.get('from') || '' : '',
      to: range === 'custom' ? params.get('to') || '' : '',
    },
    entry: params.get('entry') || '',
  };
}

/** The search string for a filter set (and an open entry): defaults are left out. */
export function writeUrl(filters, entry = '') {
  const params = axes(filters);
  if (filters.range !== DEFAULT_RANGE) params.set('range', filters.range);
  if (filters.range === 'custom') {
    if (filters.from) params.set('from', filters.from);
    if (filters.to) params.set('to', filters.to);
  }
  if (entry) params.set('entry', entry);
  return `?${params.toString().replaceAll('%2C', ',')}`;  // commas read better, and the API takes them
}

/** The API's query for a filter set; relative ranges are resolved against `now` once per listing. */
export function apiQuery(filters, now = new Date()) {
  const params = axes(filters);
  if (filters.range in RANGES) {
    params.set('from', new Date(now.getTime() - RANGES[filters.range] * 3600 * 1000).toISOString());
  } else if (filters.range in DAYS) {
    const [back, whole] = DAYS[filters.range];
    const start = localMidnight(now, back);
    params.set('from', start.toISOString());
    if (whole) params.set('to', new Date(localMidnight(now, back - 1).getTime() - 1).toISOString());
  } else if (filters.range === 'all') {
    params.set('from', BEGINNING);
  } else {
    if (filters.from) params.set('from', filters.from);
    if (filters.to) params.set('to', filters.to);
  }
  return params;
}

/** The four axes other than the date range, named as the API names them (the URL uses the same names). */
function axes(filters) {
  const params = new URLSearchParams();
  if (filters.types.length) params.set('type', filters.types.join(','));
  if (filters.statuses.length) params.set('status', filters.statuses.join(','));
  if (filters.user) params.set('user', filters.user);
  if (filters.entityType) params.set('entity_type', filters.entityType);
  if (filters.entityType && filters.entityId) params.set('entity_id', filters.entityId);
  return params;
}

/** An ISO instant as a datetime-local input's value, in the reader's time zone. */
export function toLocalInput(iso) {
  const moment = new Date(iso);
  if (Number.isNaN(moment.getTime())) return '';
  const local = new Date(moment.getTime() - moment.getTimezoneOffset() * 60000);
  return local.toISOString().slice(0, 16);
}

/** A datetime-local input's value (the reader's time zone) as an ISO instant, or '' when empty. */
export function fromLocalInput(value) {
  if (!value) return '';
  const moment = new Date(value);
  return Number.isNaN(moment.getTime()) ? '' : moment.toISOString();
}

/** The reader's local midnight `back` days before `now`'s day (a DST day is 23 or 25 hours: the calendar decides). */
export function localMidnight(now, back = 0) {
  return new Date(now.getFullYear(), now.getMonth(), now.getDate() - back);
}
