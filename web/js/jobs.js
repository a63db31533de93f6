// Jobs in the detail panel: the Retry button of a retryable failed job, why another cannot be
// retried here, and the chain the entry belongs to (the user action, its jobs, their webhooks
// and retries), each a link. Registered on the panel's extension points (extensions.js).
import { ApiError } from './api.js';
import { entryLink } from './detail.js';
import { panelActions, panelSections } from './extensions.js';
import { badge, el, timeElement } from './format.js';
import { retriedAlready, retryOutcome } from './retries.js';
import * as session from './session.js';

const RUN_APPEARS_MS = 30_000;  // the new run is logged through the event bus: it shows within seconds
const RETRY_SCOPE = 'activity:retry';

/** Whether the signed-in token may retry (its claims, unverified: the API checks them again). */
function mayRetry() {
  const claims = session.claims();
  return String(claims.scope || claims.scp || '').split(/\s+/).includes(RETRY_SCOPE);
}

panelActions.push({
  label: 'Retry',
  appliesTo: (entry) => entry.retry?.allowed === true && mayRetry(),
  async run(entry, context) {
    const { button } = context;
    button.parentElement.querySelector('.action-note')?.remove();
    if (retriedAlready(entry)) {
      confirmAgain(entry, context);  // its retry is running or succeeded: a press must not run it a third time
      return;
    }
    await retryNow(entry, context);
  },
});

/** Ask before running again a job whose retry is running or succeeded; only "Run again" retries. */
function confirmAgain(entry, context) {
  const { button } = context;
  if (button.parentElement.querySelector('.confirm-retry')) return;
  const again = el('button', { type: 'button' }, 'Run again');
  const cancel = el('button', { type: 'button' }, 'Cancel');
  const question = el('div', { className: 'notice confirm-retry', role: 'group', 'aria-label': 'Run this job again?' },
    el('p', {}, `${retryOutcome(entry)}. Run this job again anyway?`), again, cancel);
  const done = () => { question.remove(); button.disabled = false; };
  again.addEventListener('click', () => { done(); retryNow(entry, context); });
  cancel.addEventListener('click', () => { done(); button.focus(); });
  button.disabled = true;
  button.after(question);
  cancel.focus();
}

async function retryNow(entry, { api, button, openEntry }) {
  const note = el('p', { className: 'notice action-note', role: 'status' });
  button.after(note);
  button.disabled = true;
  button.textContent = 'Retrying…';
  try {
    const answer = await api.retry(entry.id);
    note.textContent = `Retry started: waiting for the new run (${answer.run_id})…`;
    await appears(api, answer.run_id);
    openEntry(answer.run_id);
  } catch (error) {
    button.disabled = false;
    button.textContent = 'Retry';
    note.setAttribute('role', 'alert');
    note.textContent = error.status === 403 ? `Not retried: your sign-in may not retry jobs (it needs ${RETRY_SCOPE}).`
      : `Not retried: ${error.message || error}`;
  }
}

/** Wait until the new run's entry can be read (404 until its first event is recorded). */
async function appears(api, id) {
  const deadline = Date.now() + RUN_APPEARS_MS;
  for (;;) {
    try {
      return await api.entry(id);
    } catch (error) {
      const notYet = error instanceof ApiError && error.status === 404;
      if (!notYet) throw error;
      if (Date.now() > deadline) throw new Error('the retry was asked for, but its run has not started yet; look again in a minute');
    }
    await new Promise((resolve) => { setTimeout(resolve, 500); });
  }
}

// A retried failure says what became of its latest retry, with a link to that run.
panelSections.push({
  render(entry, context) {
    const outcome = retryOutcome(entry);
    if (!outcome) return null;
    return el('p', { className: 'retried', role: 'note' }, entryLink(entry.retried.run_id, context, outcome));
  },
});

// A failed job that cannot be retried from here says where to re-run it (or who may retry it).
panelSections.push({
  render(entry) {
    if (!entry.retry) return null;
    if (!entry.retry.allowed) return el('p', { className: 'notice', role: 'note' }, `Retry: ${entry.retry.reason}`);
    if (!mayRetry()) return el('p', { className: 'hint', role: 'note' }, `Retry: your sign-in may not retry jobs (it needs ${RETRY_SCOPE}).`);
    return null;
  },
});

// The chain, oldest first; the open entry is marked, every other one opens in the panel.
// A chain still moving (a run in progress, or its newest entry minutes old) is read again until
// it settles: a retried run's webhook is recorded after the panel has opened on the run.
const CHAIN_SETTLES_MS = 2 * 60_000;
const CHAIN_REFRESH_MS = [2_000, 10_000];  // the first wait, and the longest as it backs off

function stillMoving(items) {
  const newest = Math.max(...items.map((item) => Date.parse(item.occurred_at)));
  return items.some((item) => item.status === 'IN_PROGRESS') || Date.now() - newest < CHAIN_SETTLES_MS;
}

panelSections.push({
  render(entry, context) {
    const list = el('ol', { className: 'related' });
    const hint = el('p', { className: 'hint', hidden: true }, 'The chain is longer: filter the table by its correlation id for the rest.');
    const section = el('section', { 'aria-labelledby': 'related-title', hidden: true },
      el('h3', { id: 'related-title' }, 'Related'), list, hint);
    let shown = '';
    const show = ({ items, complete }) => {
      const now = items.map((item) => `${item.id}:${item.status}`).join();
      if (items.length >= 2 && now !== shown) {  // alone in its chain: nothing to show; unchanged: keep focus
        shown = now;
        list.replaceChildren(...items.map((item) => el('li', { className: item.id === entry.id ? 'current' : '' }, ...link(item, item.id === entry.id, context))));
        hint.hidden = complete;
        section.hidden = false;
      }
      return stillMoving(items);  // the open entry is always among them
    };
    const read = (wait) => context.api.related(entry.id).then((chain) => {
      // Read again only while the panel still shows this entry (a closed or moved-on panel drops the section).
      const again = () => { if (section.isConnected) read(Math.min(wait * 1.5, CHAIN_REFRESH_MS[1])); };
      if (show(chain)) setTimeout(again, wait);
    }).catch(() => {});  // the chain is extra: the entry itself is shown already
    read(CHAIN_REFRESH_MS[0]);
    return section;
  },
});

// One step of the chain's timeline: when, what (the link), who, and its status badge.
function link(item, current, context) {
  const label = `${item.type} · ${item.event}`;
  const what = current ? el('span', { className: 'step-event', 'aria-current': 'true' }, label, ' (this entry)')
    : entryLink(item.id, context, label);
  const who = item.actor?.name || item.actor?.id;
  return [el('span', { className: 'step-time' }, timeElement(item.occurred_at)), what, ' ',
    who ? el('span', { className: 'step-who' }, `by ${who} `) : '', badge(item.status)];
}
