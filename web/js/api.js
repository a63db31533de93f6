// The Activity Logs API, on the page's own origin: CloudFront sends /activities*, /exports*, /retries*,
// /members and /catalog to it in AWS; locally the same server answers them.

/** The token was refused (401): missing, expired, or not signed for this service. */
export class SignedOut extends Error {}

/** Any other refusal or failure; `field` names the parameter at fault when the API says. */
export class ApiError extends Error {
  constructor(status, message, field) {
    super(message);
    this.status = status;
    this.field = field;
  }
}

export function createApi(getToken) {
  /** The response to one request with the reader's token; a refusal is thrown (SignedOut, ApiError). */
  async function send(method, path, { body, signal, accept = 'application/json' } = {}) {
    const token = getToken();
    if (!token) throw new SignedOut('Sign in to see the activity log.');
    const headers = { Authorization: `Bearer ${token}`, Accept: accept };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let response;
    try {
      response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal });
    } catch (error) {
      if (error.name === 'AbortError') throw error;
      throw new ApiError(0, 'The activity log service cannot be reached. Check that it is running, then try again.');
    }
    if (response.status === 401) {
      throw new SignedOut('Your token was not accepted: it has expired or was not issued for this service. Sign in again.');
    }
    if (!response.ok) {
      const problem = await response.json().catch(() => ({}));
      const message = problem.message || `The service answered ${response.status}.`;
      throw new ApiError(response.status, response.status === 403 ? `Not allowed: ${message}` : message, problem.field);
    }
    return response;
  }

  async function get(path, signal) {
    const response = await send('GET', path, { signal });
    return response.json().catch(() => ({}));
  }

  return {
    /** One page, newest first: {items, next_cursor}. `query` is URLSearchParams of the filter set. */
    list(query, cursor, signal) {
      const params = new URLSearchParams(query);
      if (cursor) params.set('cursor', cursor);
      return get(`/activities?${params}`, signal);
    },
    /** The org's team members whose name or id holds `search` (all when empty): [{id, name}], exact id first. */
    async members(search, signal) {
      const params = new URLSearchParams({ q: search, limit: '20' });
      return (await get(`/members?${params}`, signal)).items || [];
    },
    /** One whole entry: changes, metadata, error. */
    entry(id, signal) {
      return get(`/activities/${encodeURIComponent(id)}`, signal);
    },
    /**
     * POST /exports with a filter set: {file, filename} when the CSV is the answer (a small export),
     * {export} when it runs in the background and its link is emailed (202).
     */
    async exportCsv(filters) {
      const response = await send('POST', '/exports', { body: { filters }, accept: 'text/csv, application/json' });
      if (response.status === 202) return { export: await response.json() };
      const named = /filename="([^"]+)"/.exec(response.headers.get('Content-Disposition') || '');
      return { file: await response.blob(), filename: named ? named[1] : 'activity-log.csv' };
    },
    /** An export's progress: status, rows so far, and download_url once ready. */
    exportStatus(id, signal) {
      return get(`/exports/${encodeURIComponent(id)}`, signal);
    },
    /** The chain the entry belongs to, oldest first: {correlation_id, items, complete}. */
    related(id, signal) {
      return get(`/activities/${encodeURIComponent(id)}/related`, signal);
    },
    /**
     * The vocabulary the filters offer, from the org's catalogue (GET /catalog): types, statuses and entity
     * types, each {value, label}, as the service names them; the page keeps no copy.
     */
    async catalog() {
      const answer = await (await send('GET', '/catalog')).json();
      return { types: answer.types, statuses: answer.statuses, entityTypes: answer.entity_types };
    },
    /**
     * POST /retries: without `confirm` the preview ({matched, retryable, skipped: {reason: count}, filters frozen}),
     * with it the bulk retry started ({id, status, matched, started, …}).
     */
    async bulkRetry(filters, confirm, name) {
      return (await send('POST', '/retries', { body: { filters, confirm, ...(name ? { name } : {}) } })).json();
    },
    /** A bulk retry's progress: status (RUNNING, CANCELLED, DONE, FAILED), matched, started, skipped, failed. */
    bulkRetryStatus(id, signal) {
      return get(`/retries/${encodeURIComponent(id)}`, signal);
    },
    /** Stop a bulk retry: nothing more is retried. */
    async cancelBulkRetry(id) {
      return (await send('POST', `/retries/${encodeURIComponent(id)}/cancel`)).json();
    },
    /** Run a failed job again: {id (the "Retried …" entry), run_id (the new run's entry), retry_of, job}. */
    async retry(id) {
      return (await send('POST', `/activities/${encodeURIComponent(id)}/retry`)).json();
    },
  };
}
