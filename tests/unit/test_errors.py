"""Domain errors say what went wrong; the API layer alone says which HTTP answer that is (issue 19, item 5)."""

from __future__ import annotations

import pytest

from activitylog import errors


@pytest.mark.parametrize("kind, status", [
    (errors.BadRequest, 400), (errors.Unauthorized, 401), (errors.Forbidden, 403), (errors.NotFound, 404),
    (errors.Conflict, 409), (errors.Gone, 410), (errors.PayloadTooLarge, 413), (errors.UnsupportedMediaType, 415),
    (errors.Unavailable, 503),
])
def test_each_domain_error_is_answered_with_its_status_by_the_api_layer(kind, status):
    from activitylog.api.errors import answer_of

    code, body, headers = answer_of(kind("refused", "field"))
    assert (code, body) == (status, {"message": "refused", "field": "field"})
    assert headers == ({"Retry-After": "1"} if kind is errors.Unavailable else {})


def test_domain_errors_carry_no_http_status():
    kinds = [errors.ActivityLogError, *errors.ActivityLogError.__subclasses__()]
    assert [kind.__name__ for kind in kinds if hasattr(kind, "status_code") or hasattr(kind, "headers")] == []
