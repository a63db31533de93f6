// Export CSV on the toolbar: the current filter set to POST /exports. A small export is the
// answer itself and downloads; a large one runs in the background and emails its link, and
// its progress is shown here (GET /exports/{id}) until the file is ready.
import { el } from './format.js';
import { claims } from './session.js';

const POLL_MS = 2000;
let following = 0;  // the export whose progress is shown: starting another stops following the last

/** The API's query for the filter set (URLSearchParams) as the export's filters: type and status as lists. */
export function exportFilters(query) {
  const filters = {};
  for (const [name, value] of new URLSearchParams(query)) {
    filters[name] = name === 'type' || name === 'status' ? value.split(',').filter(Boolean) : value;
  }
  return filters;
}

export const exportCsv = {
  label: 'Export CSV',
  async run(query, { api, button }) {
    const mine = ++following;
    button.disabled = true;
    show('Preparing your export…');
    try {
      const answer = await api.exportCsv(exportFilters(query));
      if (answer.file) {
        download(answer.file, answer.filename);
        show(`Downloaded ${answer.filename}.`);
        return;
      }
      button.disabled = false;
      await follow(api, answer.export, mine);
    } catch (error) {
      if (mine === following) show(`Export failed: ${error.message}`, { failed: true });
    } finally {
      button.disabled = false;
    }
  },
};

/** Poll the export until it is finished, saying how far it is. */
async function follow(api, started, mine) {
  const email = claims().email;
  const promise = `We'll email you a link${email ? ` at ${email}` : ''} when it is ready.`;
  let current = started;
  while (mine === following) {
    if (current.status === 'SUCCESS') {
      show(`Your export is ready: ${current.rows.toLocaleString()} rows. `,
        { link: current.download_url, note: email ? '. The link is in your email too.' : '.' });
      return;
    }
    if (current.status === 'FAILED') {
      show(`The export failed: ${current.error || 'no reason given'}. ${email ? 'Your email says so too.' : ''}`, { failed: true });
      return;
    }
    show(`This export is large and runs in the background. ${promise} Exported so far: ${current.rows.toLocaleString()} rows.`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    if (mine !== following) return;
    current = await api.exportStatus(started.export_id);
  }
}

function show(text, { failed = false, link = null, note = '' } = {}) {
  const status = document.getElementById('export-status');
  status.classList.toggle('failed', failed);
  status.replaceChildren(text, link ? el('a', { href: link, download: '' }, 'Download the CSV') : '', note);
  status.hidden = false;
}

function download(blob, filename) {
  const url = URL.createObjectURL(blob);
  const link = el('a', { href: url, download: filename });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
