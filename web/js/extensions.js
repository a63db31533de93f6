// Where later features plug in without reworking the page:
// - panelActions:   buttons in the detail panel's action bar, given the open entry (Retry: jobs.js)
// - panelSections:  blocks after the panel's built-in sections, given the open entry (the related chain: jobs.js)
// - toolbarActions: buttons on the filter toolbar, given the current API query (Export CSV, Retry all);
//                   one with `shown()` is there only when it answers true (once signed in)
// An action is {label, appliesTo?(entry), run(target, context)}; a section is {render(entry, context)}
// returning an element or null. `context` carries the API client and `navigate(search)`.

import { bulkRetry } from './bulkretry.js';
import { exportCsv } from './exportcsv.js';

export const panelActions = [];
export const panelSections = [];
export const toolbarActions = [exportCsv, bulkRetry];

// Support looks an entry up by its id ("Investigating failures", step 4).
panelActions.push({
  label: 'Copy entry ID',
  async run(entry, { button }) {
    try {
      await navigator.clipboard.writeText(entry.id);
      button.textContent = 'Copied';
    } catch {
      button.textContent = entry.id;  // no clipboard here: show it to copy by hand
    }
  },
});
