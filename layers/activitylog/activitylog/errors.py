"""Errors the handlers turn into HTTP answers. Each names the field at fault."""

from __future__ import annotations


class ActivityLogError(Exception):
    """Base class: carries the HTTP status a handler should answer with."""

    status_code = 400

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

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
