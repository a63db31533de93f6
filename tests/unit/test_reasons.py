"""Every FAILED and WARNING entry says why: the detail's ``reason`` and the export's ``error_message``.

The entry rules do not refuse an entry without one (old entries and every writer stay readable): the
API marks it plainly, "no reason was recorded".
"""

from __future__ import annotations

import pytest

from activitylog.views import detail_view
from activitylog.entry import Entry, EntryType, Status
from activitylog.exports.csvfile import COLUMNS, row

SYSTEM = {"kind": "system", "id": "system", "name": "system"}


def job(status: Status, **fields) -> Entry:
    return Entry("01JDQ7Z9K3M5N7P9R1T3V5X7Z9", EntryType.BACKGROUND_JOB, status, SYSTEM, "synced", "SYNC_WOO_ORDERS", None, **fields)


@pytest.mark.parametrize(("entry", "reason"), [
    (job(Status.FAILED, error={"message": "WooCommerce answered 503", "type": "HTTPError"}),
     {"message": "WooCommerce answered 503", "recorded": True}),
    (job(Status.WARNING, metadata={"skipped": 6, "warnings": ["6 orders had no SKU", "1 order was refunded meanwhile"]}),
     {"message": "6 orders had no SKU; 1 order was refunded meanwhile", "recorded": True}),
    (job(Status.WARNING, metadata={"warning": "partial sync: 6 orders skipped"}),
     {"message": "partial sync: 6 orders skipped", "recorded": True}),
    (job(Status.WARNING, metadata={"skipped": 6}), {"message": "no reason was recorded", "recorded": False}),
    (job(Status.FAILED), {"message": "no reason was recorded", "recorded": False}),
    (job(Status.FAILED, error={"message": "  "}), {"message": "no reason was recorded", "recorded": False}),
    (job(Status.SUCCESS, metadata={"warnings": ["not a warning entry"]}), None),
])
def test_the_detail_says_why_a_failure_or_warning_is_so_or_that_no_reason_was_recorded(entry, reason):
    assert detail_view(entry)["reason"] == reason


def test_the_export_carries_the_reason_in_error_message():
    cell = COLUMNS.index("error_message")
    assert row(job(Status.WARNING, metadata={"warnings": ["6 orders had no SKU"]}))[cell] == "6 orders had no SKU"
    assert row(job(Status.FAILED, error={"message": "timed out"}))[cell] == "timed out"
    assert row(job(Status.FAILED))[cell] == "no reason was recorded"
    assert row(job(Status.SUCCESS))[cell] == ""
