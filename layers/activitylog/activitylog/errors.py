"""Errors the handlers turn into HTTP answers. Each names the field at fault."""

from __future__ import annotations


class ActivityLogError(Exception):
    """Base class: carries the HTTP status a handler should answer with."""

    status_code = 400

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    @property
    def headers(self) -> dict[str, str]:
        """Extra response headers this answer carries (Retry-After on a 503)."""
        return {}

    def to_dict(self) -> dict:
        body = {"message": self.message}
        if self.field:
            body["field"] = self.field
        return body


class BadRequest(ActivityLogError):
    status_code = 400


class Unauthorized(ActivityLogError):
    status_code = 401


class Forbidden(ActivityLogError):
    status_code = 403


class NotFound(ActivityLogError):
    status_code = 404


class Conflict(ActivityLogError):
    status_code = 409


class PayloadTooLarge(ActivityLogError):
    status_code = 413


class UnsupportedMediaType(ActivityLogError):
    status_code = 415


class Unavailable(ActivityLogError):
    """DynamoDB kept refusing (throttling, a transaction conflict) after our retries; nothing was written."""

    status_code = 503

    def __init__(self, message: str, field: str | None = None, retry_after: int = 1) -> None:
        super().__init__(message, field)
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}
