// The Activity Logs API, on the page's own origin: CloudFront sends /activities* and
// /openapi.json to it in AWS; locally the same server answers both.

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
  async function get(path, signal) {
    const token = getToken();
    if (!token) throw new SignedOut('Sign in to see the activity log.');
    let response;
    try {
      response = await fetch(path, { headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' }, signal });
    } catch (error) {
      if (error.name === 'AbortError') throw error;
      throw new ApiError(0, 'The activity log service cannot be reached. Check that it is running, then try again.');
    }
    const body = await response.json().catch(() => ({}));
    if (response.status === 401) {
      throw new SignedOut('Your token was not accepted: it has expired or was not issued for this service. Sign in again.');
    }
    if (!response.ok) {
      const message = body.message || `The service answered ${response.status}.`;
      throw new ApiError(response.status, response.status === 403 ? `Not allowed: ${message}` : message, body.field);
    }
    return body;
  }

  return {
    /** One page, newest first: {items, next_cursor}. `query` is URLSearchParams of the filter set. */
    list(query, cursor, signal) {
      const params = new URLSearchParams(query);
      if (cursor) params.set('cursor', cursor);
      return get(`/activities?${params}`, signal);
    },
    /** One whole entry: changes, metadata, error. */
    entry(id, signal) {
      return get(`/activities/${encodeURIComponent(id)}`, signal);
    },
  };
}

/**
 * The vocabulary the filters offer (types, statuses, entity types), read from the API's own
 * OpenAPI document, which is generated from the service's enums: the page never keeps a copy.
 */
export async function vocabulary() {
  const response = await fetch('/openapi.json', { headers: { Accept: 'application/json' } });
  if (!response.ok) throw new ApiError(response.status, `The API's document answered ${response.status}.`);
  const columns = (await response.json()).components.schemas.ListItem.properties;
  return {
    types: columns.type.enum,
    statuses: columns.status.enum,
    entityTypes: columns.entity.properties.type.enum,
  };
}
