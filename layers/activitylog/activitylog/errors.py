"""Errors the handlers turn into HTTP answers. Each names the field at fault."""

from __future__ import annotations


class ActivityLogError(Exception):
    """Base class: carries the HTTP status a handler should answer with."""

    status_code = 400

    def __init__(self, message: str, field: str | None = None, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str]:
        """Extra response headers this answer carries: Retry-After when sending the same request again later may succeed."""
        return {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}

    def to_dict(self) -> dict:
        body = {"message": self.message}
        if self.field:
            body["field"] = self.field
        return body


class BadRequest(ActivityLogError):
    """A value the service cannot take: the field says which."""

    status_code = 400


class Unauthorized(ActivityLogError):
    """The token's claims do not name an org and a subject the service can trust."""

    status_code = 401


class Forbidden(ActivityLogError):
    """The token lacks the scope the route needs (``scopes.ROUTE_SCOPES``)."""

    status_code = 403


class NotFound(ActivityLogError):
    """No such entry in the caller's org (another org's id answers the same)."""

    status_code = 404


class Gone(ActivityLogError):
    """Something that existed and no longer answers: an expired download link."""

    status_code = 410


class Conflict(ActivityLogError):
    """The entry is finished already, or an Idempotency-Key was reused for another body (or is still
    running: that one carries Retry-After)."""

    status_code = 409


class PayloadTooLarge(ActivityLogError):
    """A body over its route's limit, counted in bytes."""

    status_code = 413


class UnsupportedMediaType(ActivityLogError):
    """A body that is not JSON in UTF-8."""

    status_code = 415


class Unavailable(ActivityLogError):
    """DynamoDB kept refusing or did not answer (throttling, a 5xx, a refused or timed-out connection) after
    our retries, or another service a route needs did not; nothing was written."""

    status_code = 503

    def __init__(self, message: str, field: str | None = None, retry_after: int = 1) -> None:
        super().__init__(message, field, retry_after)
