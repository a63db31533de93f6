// What became of a retried failure: the entry's `retried` (its latest retry run, written on it when that run
// starts and ends), in the words the row and the detail panel both show.

/** "Retried · succeeded 3 min later", "Retry running", "Retry failed"; null for an entry never retried. */
export function retryOutcome(entry) {
  const run = entry.retried;
  if (!run) return null;
  if (run.status === 'IN_PROGRESS') return 'Retry running';
  if (run.status === 'FAILED') return 'Retry failed';
  const verb = run.status === 'SUCCESS' ? 'succeeded' : 'ended with a warning';
  return run.finished_at ? `Retried · ${verb} ${later(entry.occurred_at, run.finished_at)}` : `Retried · ${verb}`;
}

/** Whether Retry would run the job a third time by accident: its retry is running, or succeeded. */
export function retriedAlready(entry) {
  return ['IN_PROGRESS', 'SUCCESS'].includes(entry.retried?.status);
}

/** "3 min later", "2 hrs later", "1 day later": how long after the failure its retry finished. */
function later(fromIso, toIso) {
  const seconds = Math.max(0, (Date.parse(toIso) - Date.parse(fromIso)) / 1000);
  if (seconds < 60) return 'within a minute';
  const [count, unit] = seconds < 3600 ? [Math.floor(seconds / 60), 'min']
    : seconds < 86400 ? [Math.floor(seconds / 3600), 'hr'] : [Math.floor(seconds / 86400), 'day'];
  return `${count} ${unit}${count > 1 && unit !== 'min' ? 's' : ''} later`;
}
