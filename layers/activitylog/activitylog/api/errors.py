"""Domain errors as HTTP answers: the one place that says which status each error is.

>>> answer_of(NotFound("no entry 01JD…", "id"))
(404, {'message': 'no entry 01JD…', 'field': 'id'}, {})
"""

from __future__ import annotations

from activitylog.errors import (
    ActivityLogError,
    BadRequest,
    Conflict,
    Forbidden,
    Gone,
    NotFound,
    PayloadTooLarge,
    Unauthorized,
    Unavailable,
    UnsupportedMediaType,
)

STATUS: dict[type[ActivityLogError], int] = {
    BadRequest: 400,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    Gone: 410,
    PayloadTooLarge: 413,
    UnsupportedMediaType: 415,
    Unavailable: 503,
}


def status_of(failure: ActivityLogError) -> int:
    """The HTTP status of a domain error: its class's, or its nearest base class's (400 for any other)."""
    for kind in type(failure).__mro__:
        if kind in STATUS:
            return STATUS[kind]
    return 400


def answer_of(failure: ActivityLogError) -> tuple[int, dict, dict[str, str]]:
    """``(status, {message, field}, headers)``: Retry-After when sending the same request again later may succeed."""
    headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else {}
    return status_of(failure), failure.to_dict(), headers
