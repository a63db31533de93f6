// Retry all on the toolbar (a token with activity:retry only): the current filter set to POST /retries as a
// preview (how many match, how many can be retried, why not the rest), then, confirmed with the preview's
// frozen filter, the bulk retry's progress (GET /retries/{id}) with Stop; when it ends the list is read again,
// so each original's row says what became of its retry (retries.js, as after the Retry button).
import { exportFilters } from './exportcsv.js';
import { el } from './format.js';
import { claims } from './session.js';

const RETRY_SCOPE = 'activity:retry';
const POLL_MS = 1000;
let following = 0;  // the bulk retry shown: a new preview stops following the last

/** Whether the signed-in token may retry (its claims, unverified: the API checks them again). */
function mayRetry() {
  return String(claims().scope || claims().scp || '').split(/\s+/).includes(RETRY_SCOPE);
}

export const bulkRetry = {
  label: 'Retry all…',
  shown: mayRetry,
  async run(query, context) {
    const mine = ++following;
    show(el('p', {}, 'Counting the retryable failures of this view…'));
    try {
      const preview = await context.api.bulkRetry(exportFilters(query), false);
      if (mine === following) showPreview(preview, context, mine);
    } catch (error) {
      if (mine === following) show(el('p', { className: 'failed' }, `Retry all: ${error.message}`));
    }
  },
};

function showPreview(preview, context, mine) {
  const reasons = Object.entries(preview.skipped);
  const summary = `${count(preview.matched, 'entry matches', 'entries match')} this view; `
    + `${preview.retryable.toLocaleString()} can be retried.`;
  const confirm = el('button', { type: 'button', disabled: preview.retryable === 0 }, `Retry all ${preview.retryable.toLocaleString()}`);
  const dismiss = el('button', { type: 'button', className: 'link-button' }, 'Cancel');
  confirm.addEventListener('click', () => start(preview, context, mine));
  dismiss.addEventListener('click', () => hide());
  show(
    el('p', {}, summary),
    reasons.length ? el('ul', { className: 'bulk-reasons', 'aria-label': 'Not retried' },
      ...reasons.map(([reason, n]) => el('li', {}, `${n.toLocaleString()} not retried: ${reason}`))) : null,
    el('div', { role: 'group', 'aria-label': 'Retry all' }, confirm, dismiss),
  );
}

async function start(preview, context, mine) {
  try {
    const bulk = await context.api.bulkRetry(preview.filters, true);
    await follow(bulk, context, mine);
  } catch (error) {
    if (mine === following) show(el('p', { className: 'failed' }, `Retry all failed: ${error.message}`));
  }
}

/** Poll the bulk retry until it ends, saying how far it is; then read the list again for the outcomes. */
async function follow(bulk, context, mine) {
  let current = bulk;
  while (mine === following && current.status === 'RUNNING') {
    const stop = el('button', { type: 'button' }, 'Stop');
    stop.addEventListener('click', async () => {
      stop.disabled = true;
      current = await context.api.cancelBulkRetry(bulk.id);
    });
    show(el('p', {}, `Retrying: ${progress(current)}`), stop);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    if (mine !== following) return;
    current = await context.api.bulkRetryStatus(bulk.id);
  }
  if (mine !== following) return;
  const ended = { DONE: 'Retried', CANCELLED: 'Stopped', FAILED: 'The bulk retry failed' }[current.status] || current.status;
  show(el('p', { className: current.status === 'FAILED' ? 'failed' : '' }, `${ended}: ${progress(current)}`),
    ...Object.entries(current.skipped).map(([reason, n]) => el('p', { className: 'hint' }, `${n.toLocaleString()} not retried: ${reason}`)));
  context.navigate(location.search);  // each original's row now says what became of its retry
}

function progress(bulk) {
  const skipped = Object.values(bulk.skipped).reduce((sum, n) => sum + n, 0);
  return `${bulk.started.toLocaleString()} of ${bulk.matched.toLocaleString()} started`
    + `${skipped ? `, ${skipped.toLocaleString()} skipped` : ''}${bulk.failed ? `, ${bulk.failed.toLocaleString()} failed` : ''}.`;
}

function count(n, one, many) {
  return `${n.toLocaleString()} ${n === 1 ? one : many}`;
}

function show(...children) {
  const status = document.getElementById('bulk-status');
  status.replaceChildren(...children.filter(Boolean));
  status.hidden = false;
}

function hide() {
  following += 1;
  document.getElementById('bulk-status').hidden = true;
}
