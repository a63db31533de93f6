// The detail panel: one entry in full. Built-in sections (facts, before/after, error, metadata),
// then what extensions.js registers: actions in the panel's action bar, sections after these.
import { ApiError } from './api.js';
import { panelActions, panelSections } from './extensions.js';
import { actorText, badge, duration, el, entityLabel, exactElement, timeElement } from './format.js';

export function createDetail({ panel, title, actionsBar, body, closeButton, context, onClose }) {
  let controller = null;
  let returnFocus = null;

  closeButton.addEventListener('click', () => close());
  panel.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') { close(); event.stopPropagation(); }
  });

  async function open(id, from = null) {
    controller?.abort();
    controller = new AbortController();
    const { signal } = controller;
    returnFocus = from;
    panel.hidden = false;
    panel.setAttribute('aria-busy', 'true');
    title.textContent = 'Loading entry…';
    actionsBar.replaceChildren();
    body.replaceChildren(el('p', { className: 'hint' }, `Entry ${id}`));
    title.focus();
    try {
      const entry = await context.api.entry(id, signal);
      if (signal.aborted) return;
      render(entry);
    } catch (error) {
      if (error.name === 'AbortError') return;
      if (!(error instanceof ApiError)) { close(); context.failed(error); return; }
      title.textContent = error.status === 404 ? 'No such entry' : 'The entry could not be read';
      body.replaceChildren(el('p', { className: 'notice', role: 'alert' }, error.message));
    } finally {
      if (!signal.aborted) panel.removeAttribute('aria-busy');
    }
  }

  function close() {
    if (panel.hidden) return;
    controller?.abort();
    panel.hidden = true;
    onClose();
    if (returnFocus && returnFocus.isConnected) returnFocus.focus();
    returnFocus = null;
  }

  function render(entry) {
    title.textContent = entry.event;
    actionsBar.replaceChildren(...panelActions.filter((action) => !action.appliesTo || action.appliesTo(entry)).map((action) => {
      const button = el('button', { type: 'button' }, action.label);
      button.addEventListener('click', () => action.run(entry, { ...context, button }));
      return button;
    }));
    body.replaceChildren(...[
      facts(entry, context),
      entry.detail_unavailable ? el('p', { className: 'notice', role: 'note' }, entry.detail_unavailable) : null,
      changes(entry.changes),
      failure(entry),
      metadata(entry.metadata),
      wholeEntry(entry),
      ...panelSections.map((section) => section.render(entry, context)),
    ].filter(Boolean));
  }

  return { open, close, get isOpen() { return !panel.hidden; } };
}

function facts(entry, context) {
  const rows = [
    ['Status', el('span', {}, badge(entry.status))],
    ['When', el('span', {}, timeElement(entry.occurred_at), ' · ', exactElement(entry.occurred_at))],
    ['Type', entry.type],
    ['Actor', actorText(entry.actor)],
    ['Action', entry.action],
    ['Entity', entry.entity ? entityLink(entry.entity, context) : 'none'],
  ];
  const took = entry.finished_at ? duration(entry.occurred_at, entry.finished_at) : '';
  if (took && took !== '0 s') rows.push(['Finished', exactElement(entry.finished_at, ` · took ${took}`)]);  // an instant entry has no "took 0 s"
  rows.push(['Entry ID', el('code', {}, entry.id)]);
  if (entry.correlation_id) rows.push(['Correlation', el('code', {}, entry.correlation_id)]);
  // W3C trace of the write (match it with the platform's traces); the span id where one was sent
  if (entry.trace_id) rows.push(['Trace', el('span', {}, el('code', {}, entry.trace_id), entry.span_id ? ` · span ${entry.span_id}` : '')]);
  if (entry.retry_of) rows.push(['Retry of', entryLink(entry.retry_of, context)]);
  if (entry.source) rows.push(['Source', `${entry.source.provider} · ${entry.source.event_id}`]);
  if (entry.recorded_by) rows.push(['Recorded by', entry.recorded_by]);
  return el('dl', { className: 'facts' }, ...rows.flatMap(([term, value]) => [el('dt', {}, term), el('dd', {}, value)]));
}

/** The entity: a link that filters the page to that record's whole history. */
function entityLink(entity, context) {
  const link = el('a', { href: context.recordHistory(entity), className: 'entity-link' }, entity.label || entity.id);
  link.addEventListener('click', (event) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;  // new tab: the plain link
    event.preventDefault();
    context.navigate(link.getAttribute('href'));
  });
  return el('span', {}, link, ` (${entityLabel(entity.type)} ${entity.id})`);
}

/** A link to another entry (its id, or ``label``) that opens it in this panel. */
export function entryLink(id, context, ...label) {
  const link = el('a', { href: context.entryUrl(id) }, ...(label.length ? label : [id]));
  link.addEventListener('click', (event) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;  // new tab: the plain link
    event.preventDefault();
    context.openEntry(id);
  });
  return link;
}

/** Before / After side by side, one row per changed field (RFC 6901 pointers, as stored). */
function changes(changed) {
  const fields = Object.keys(changed || {}).sort();
  if (!fields.length) return null;
  const cell = (kind, side, present) => el('td', { className: kind },
    present ? (isHidden(side) ? hidden(side) : el('pre', {}, typeof side === 'string' ? side : JSON.stringify(side, null, 2)))
      : el('span', { className: 'none' }, kind === 'before' ? '(added)' : '(removed)'));
  return el('section', { 'aria-labelledby': 'changes-title' },
    el('h3', { id: 'changes-title' }, 'Before / After'),
    el('table', { className: 'diff' },
      el('caption', { className: 'sr-only' }, 'Changed fields, before and after'),
      el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Field'), el('th', { scope: 'col' }, 'Before'), el('th', { scope: 'col' }, 'After'))),
      el('tbody', {}, ...fields.map((field) => {
        const change = changed[field];
        return el('tr', {}, el('th', { scope: 'row' }, field),
          cell('before', change.before, 'before' in change), cell('after', change.after, 'after' in change));
      }))));
}

/** A masked field's marker (activitylog/masking.py): the value was never stored, only its fingerprint. */
function isHidden(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length === 2
    && value.hidden === 'changed (hidden)' && typeof value.fingerprint === 'string';
}

/** "changed (hidden)", its fingerprint (equal for equal values in the org) as its title: the whole entry's JSON has it too. */
function hidden(marker) {
  return el('span', { className: 'hidden-value', title: `fingerprint ${marker.fingerprint}` }, 'changed (hidden)');
}

/** Why a FAILED or WARNING entry is so: its error (with the stack trace), its warnings, or plainly that it names none. */
function failure(entry) {
  const { error, reason } = entry;
  if (!error && !reason) return null;
  if (!error) {
    const heading = reason.recorded ? (entry.status === 'WARNING' ? 'Warning' : 'Reason') : 'Reason';
    return el('section', { 'aria-labelledby': 'error-title' },
      el('h3', { id: 'error-title' }, heading),
      el('p', { className: reason.recorded ? 'error-message' : 'error-message none' },
        reason.recorded ? reason.message : 'No reason was recorded for this entry.'));
  }
  return el('section', { 'aria-labelledby': 'error-title' },
    el('h3', { id: 'error-title' }, 'Error'),
    el('p', { className: 'error-message' }, error.type ? `${error.type}: ${error.message}` : error.message || 'No message was recorded.'),
    error.stack ? el('pre', { className: 'stack', tabIndex: 0, 'aria-label': 'Stack trace' }, error.stack) : null);
}

function metadata(document) {
  if (!document || !Object.keys(document).length) return null;
  return el('section', { 'aria-labelledby': 'metadata-title' },
    el('h3', { id: 'metadata-title' }, 'Metadata'),
    el('div', { className: 'json' }, jsonTree(document, 'metadata', 0)));
}

/** The whole entry as the API answered it, folded, with Copy (for a ticket or a colleague). */
function wholeEntry(entry) {
  const text = JSON.stringify(entry, null, 2);
  const copy = el('button', { type: 'button', className: 'copy' }, 'Copy JSON');
  const said = el('span', { className: 'hint', role: 'status' });
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(text);
      said.textContent = 'Copied.';
    } catch {
      said.textContent = 'The browser refused the clipboard: select the text and copy it.';
    }
  });
  return el('section', { 'aria-labelledby': 'json-title' },
    el('div', { className: 'section-head' }, el('h3', { id: 'json-title' }, 'JSON'), copy, said),
    el('details', { className: 'whole' }, el('summary', {}, 'The whole entry'),
      el('pre', { className: 'json-text', tabIndex: 0, 'aria-label': 'The entry as JSON' }, text)));
}

/** Pretty JSON whose objects and arrays fold (<details>), open two levels deep. */
function jsonTree(value, key, depth) {
  const label = el('span', { className: 'key' }, `${key}: `);
  if (isHidden(value)) return el('div', { className: 'leaf' }, label, hidden(value));
  if (value !== null && typeof value === 'object') {
    const items = Array.isArray(value) ? value.map((item, index) => [index, item]) : Object.entries(value);
    const count = Array.isArray(value) ? `[${items.length}]` : `{${items.length}}`;
    return el('details', { open: depth < 2 },
      el('summary', {}, label, el('span', { className: 'count' }, count)),
      ...items.map(([name, item]) => jsonTree(item, name, depth + 1)));
  }
  const kind = value === null ? 'null' : typeof value;
  return el('div', { className: 'leaf' }, label, el('span', { className: kind }, JSON.stringify(value)));
}
