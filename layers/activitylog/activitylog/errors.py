"""What went wrong, in the domain's words: each error names the field at fault.

Which HTTP answer each one is, is the API layer's call (``activitylog.api.errors``).
"""

from __future__ import annotations


class ActivityLogError(Exception):
    """Base class: a message, the field at fault, and (``retry_after``) when sending the same request again may succeed."""

    def __init__(self, message: str, field: str | None = None, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.retry_after = retry_after

    def to_dict(self) -> dict:
        body = {"message": self.message}
        if self.field:
            body["field"] = self.field
        return body


class BadRequest(ActivityLogError):
    """A value the service cannot take: the field says which."""


class Unauthorized(ActivityLogError):
    """The token's claims do not name an org and a subject the service can trust."""


class Forbidden(ActivityLogError):
    """The token lacks the scope the route needs (``scopes.ROUTE_SCOPES``)."""


class NotFound(ActivityLogError):
    """No such entry in the caller's org (another org's id answers the same)."""


class Gone(ActivityLogError):
    """Something that existed and no longer answers: an expired download link."""


class Conflict(ActivityLogError):
    """The entry is finished already, or an Idempotency-Key was reused for another body (or is still
    running: that one carries Retry-After)."""


class PayloadTooLarge(ActivityLogError):
    """A body over its route's limit, counted in bytes."""


class UnsupportedMediaType(ActivityLogError):
    """A body that is not JSON in UTF-8."""


class Unavailable(ActivityLogError):
    """DynamoDB kept refusing or did not answer (throttling, a 5xx, a refused or timed-out connection) after
    our retries, or another service a route needs did not; nothing was written."""

    def __init__(self, message: str, field: str | None = None, retry_after: int = 1) -> None:
        super().__init__(message, field, retry_after)
