import pytest

from activitylog.query import cursor
from activitylog.errors import BadRequest

KEY = cursor.StaticKey(b"secret")
POS, HIGH = "01M8AP55CB939ADHT5N4N8XQT2", "01M8AZZZZZZZZZZZZZZZZZZZZZ"
LOW = "01M8A000000000000000000000"
ISSUED = 1_800_000_000.0
DAY = 24 * 3600


def test_round_trip_returns_the_position_and_window():
    token = cursor.encode(KEY, "org_1", "digest", POS, (LOW, HIGH))
    assert cursor.decode(KEY, token, "org_1", "digest") == cursor.Position(POS, LOW, HIGH)


@pytest.mark.parametrize(
    "org, digest, key",
    [("org_2", "digest", KEY), ("org_1", "other-filter", KEY), ("org_1", "digest", cursor.StaticKey(b"other-key"))],
    ids=["other org", "other filter set", "other key"],
)
def test_a_cursor_only_works_for_its_own_org_and_filter_set(org, digest, key):
    token = cursor.encode(KEY, "org_1", "digest", POS, (LOW, HIGH))
    with pytest.raises(BadRequest) as caught:
        cursor.decode(key, token, org, digest)
    assert caught.value.field == "cursor"


@pytest.mark.parametrize("mangle", [lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"), lambda t: "x" + t, lambda t: t.split(".")[0], lambda t: "garbage"])
def test_tampered_cursors_are_refused(mangle):
    token = cursor.encode(KEY, "org_1", "digest", POS, (LOW, HIGH))
    with pytest.raises(BadRequest):
        cursor.decode(KEY, mangle(token), "org_1", "digest")


def test_a_cursor_pages_for_24_hours():
    token = cursor.encode(KEY, "org_1", "digest", POS, (LOW, HIGH), now=ISSUED)
    assert cursor.decode(KEY, token, "org_1", "digest", now=ISSUED + DAY).position == POS


def test_a_cursor_older_than_24_hours_is_refused_saying_it_expired():
    token = cursor.encode(KEY, "org_1", "digest", POS, (LOW, HIGH), now=ISSUED)

    with pytest.raises(BadRequest) as caught:
        cursor.decode(KEY, token, "org_1", "digest", now=ISSUED + DAY + 1)

    assert caught.value.field == "cursor"
    assert caught.value.message.startswith("cursor expired")
    assert "first page" in caught.value.message


def test_an_expired_cursor_that_was_tampered_with_is_invalid_not_expired():
    # The issue time is only believed once the signature holds.
    token = cursor.encode(KEY, "org_1", "digest", POS, (LOW, HIGH), now=ISSUED)
    with pytest.raises(BadRequest) as caught:
        cursor.decode(cursor.StaticKey(b"other-key"), token, "org_1", "digest", now=ISSUED + 2 * DAY)
    assert not caught.value.message.startswith("cursor expired")
