"""The ``activitylog`` command's own logic: dates a person types, and what it prints from entries.

No stack: plain inputs and outputs (the e2e tier runs the command against a served stack).
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone

import pytest

from activitylog_local.cli import _relative_or_iso, format_detail, format_table, main, printable

UTC = timezone.utc
NOW = datetime(2026, 11, 26, 12, 30, 15, tzinfo=UTC)
RED, RTL_OVERRIDE = "\x1b[31m", "\u202e"


@pytest.fixture
def utc_machine(monkeypatch):
    """This machine's time zone is UTC for the test (``today`` is local midnight)."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize("typed, expected", [
    ("today", "2026-11-26T00:00:00Z"),
    ("Yesterday", "2026-11-25T00:00:00Z"),
    ("now", "2026-11-26T12:30:15Z"),
    ("7d", "2026-11-19T12:30:15Z"),
    ("24h", "2026-11-25T12:30:15Z"),
    ("30m", "2026-11-26T12:00:15Z"),
    ("2w", "2026-11-12T12:30:15Z"),
    ("2026-11-20T09:00:00Z", "2026-11-20T09:00:00Z"),  # ISO 8601 goes to the API as typed
    ("2026-11-20", "2026-11-20"),
])
def test_from_and_to_take_words_durations_and_iso(utc_machine, typed, expected):
    assert _relative_or_iso(typed, NOW) == expected


def test_today_is_midnight_where_the_user_is(monkeypatch):
    monkeypatch.setenv("TZ", "America/Los_Angeles")  # 04:30 on the 26th there
    time.tzset()
    try:
        assert _relative_or_iso("today", NOW) == "2026-11-26T08:00:00Z"
    finally:
        monkeypatch.undo()
        time.tzset()


def test_a_date_the_command_cannot_read_is_one_line_naming_the_choices(tmp_path, capsys):
    assert main(["--data-dir", str(tmp_path), "query", "--from", "last tuesday"]) == 1
    error = capsys.readouterr().err
    assert error.startswith("activitylog: date 'last tuesday': use today, yesterday") and error.count("\n") == 1


# --- what is printed from entries ------------------------------------------------------------------


def _entry(**fields) -> dict:
    entry = {"id": "01ARZ3NDEKTSV4RRFFQ69G5FAV", "occurred_at": "2026-11-26T12:00:00Z", "type": "USER_ACTION",
             "status": "SUCCESS", "actor": {"kind": "user", "id": "u_17", "name": f"Riley{RED} Park{RTL_OVERRIDE}"},
             "action": "updated", "event": f"Contact updated{RTL_OVERRIDE} · Alex\x9b31m Chen\u2066",
             "entity": {"type": "contact", "id": "c_42", "label": f"Alex{RED}"}}
    entry.update(fields)
    return entry


def _raw_controls(text: str) -> set[str]:
    """Characters a terminal would act on rather than show (the line breaks between lines aside)."""
    return {c for c in text.replace("\n", "") if not c.isprintable()}


def test_printable_escapes_controls_and_bidi_and_keeps_the_rest():
    assert printable(f"Riley{RED} Park{RTL_OVERRIDE}") == "Riley\\u001b[31m Park\\u202e"
    assert printable("a\u200fb\u061cc\u2069\u0085\x7f\td\ne") == "a\\u200fb\\u061cc\\u2069\\u0085\\u007f\\u0009d\\u000ae"
    assert printable("Rosé · Müller 🍷 ‍👩‍👩‍👧 Ωμέγα") == "Rosé · Müller 🍷 ‍👩‍👩‍👧 Ωμέγα"  # joiners in emoji are not controls


def test_the_table_shows_control_and_bidi_characters_escaped():
    text = format_table([_entry()], now=NOW)
    assert _raw_controls(text) == set()
    assert "Riley\\u001b[3…" in text and "Contact updated\\u202e · Alex\\u009b31m Chen\\u2066" in text
    assert len(text.splitlines()) == 2


def test_the_detail_panel_shows_control_and_bidi_characters_escaped():
    entry = _entry(changes={f"tier{RTL_OVERRIDE}": {"before": f"Reserve{RED}", "after": "Grand Cru\u2028"}},
                   metadata={"note": f"x{RTL_OVERRIDE}\u0085y"},
                   error={"type": f"Boom{RED}", "message": f"bad{RTL_OVERRIDE}", "stack": f"Traceback\n  line{RED}\n"})
    text = format_detail(entry, now=NOW)
    assert _raw_controls(text) == set()
    assert "Actor     Riley\\u001b[31m Park\\u202e (user, u_17)" in text
    assert 'tier\\u202e: "Reserve\\u001b[31m" → "Grand Cru\\u2028"' in text
    assert '"note": "x\\u202e\\u0085y"' in text  # the metadata stays one JSON line per key
    assert "Error     Boom\\u001b[31m: bad\\u202e" in text and "    Traceback\n      line\\u001b[31m\n" in text


def test_json_output_is_escaped_and_still_the_same_json(tmp_path):
    from activitylog_local.cli import _json

    answer = {"items": [_entry()], "next_cursor": None}
    for indent in (None, 2):
        text = _json(answer, indent=indent)
        assert _raw_controls(text) == set()
        assert json.loads(text) == answer


# --- the finish time ---------------------------------------------------------------------------------


def test_the_detail_panel_shows_when_a_job_finished_and_how_long_it_took():
    job = _entry(type="BACKGROUND_JOB", status="FAILED", occurred_at="2026-11-26T09:00:00.000Z",
                 finished_at="2026-11-26T09:03:12.250Z")
    assert "  Finished  2026-11-26T09:03:12.250Z (took 3 min 12 s)\n" in format_detail(job, now=NOW)


@pytest.mark.parametrize("finished", [{"finished_at": None}, {}])
def test_the_detail_panel_of_a_running_job_or_an_older_answer_has_no_finish_line(finished):
    text = format_detail(_entry(status="IN_PROGRESS", **finished), now=NOW)
    assert "Finished" not in text and text.rstrip().endswith("(give this to support)")


@pytest.mark.parametrize("seconds, shown", [(0.85, "850 ms"), (4.3, "4.3 s"), (42, "42 s"), (192.2, "3 min 12 s"), (7500, "2 h 5 min")])
def test_durations_read_like_a_person_says_them(seconds, shown):
    from activitylog_local.cli import duration

    assert duration(seconds) == shown



# --- serve's stdout ----------------------------------------------------------------------------------


def test_metrics_documents_go_aside_and_everything_else_reaches_the_terminal():
    import io
    import threading
    from contextlib import redirect_stdout

    from activitylog_local.cli import MetricsAside

    terminal, sink = io.StringIO(), io.StringIO()
    emf = json.dumps({"_aws": {"Timestamp": 1, "CloudWatchMetrics": []}, "EntriesListed": [1]}, separators=(",", ":"))
    log_line = json.dumps({"level": "INFO", "message": "listed"})

    def worker() -> None:
        for _ in range(200):
            print(emf)  # Powertools' flush: the document, then the newline, as two writes
            print(log_line)

    with redirect_stdout(MetricsAside(terminal, sink)):
        threads = [threading.Thread(target=worker) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sink.getvalue().splitlines() == [emf] * 800
    assert terminal.getvalue().splitlines() == [log_line] * 800


def test_the_detail_names_the_entry_retried_its_chain_and_why_it_cannot_be_retried():
    text = format_detail(_entry(status="FAILED", retry_of="01M8AP55CB939ADHT5N4N8XQT2", correlation_id="req_42",
                                retry={"allowed": False, "reason": "IMPORT_CONTACTS is a one-time sync: re-trigger it from its integration page"}),
                         now=NOW)
    assert "  Retry of  01M8AP55CB939ADHT5N4N8XQT2\n" in text
    assert "  Chain     req_42  (all of it: activitylog query --related " in text
    assert "  Retry     IMPORT_CONTACTS is a one-time sync: re-trigger it from its integration page\n" in text


def test_the_chain_reads_oldest_first_and_says_when_it_is_cut():
    from activitylog_local.cli import format_chain

    items = [{"id": f"01M8AP55CB939ADHT5N4N8XQT{n}", "occurred_at": f"2026-11-26T12:0{n}:00Z", "type": "USER_ACTION", "status": "SUCCESS",
              "actor": {"kind": "user", "id": "u_17", "name": "Riley Park"}, "action": "retried", "event": f"step {n}"} for n in (1, 2)]
    text = format_chain({"correlation_id": "req_42", "items": items, "complete": True}, now=NOW)
    assert text.index("step 1") < text.index("step 2") and text.endswith("2 entries in chain req_42\n")
    assert "the first 500" in format_chain({"correlation_id": "req_42", "items": items, "complete": False}, now=NOW)


def test_query_asks_for_one_trace_and_the_detail_shows_the_entrys_trace():
    from activitylog_local.cli import _list_path, _parser

    args = _parser().parse_args(["query", "--trace-id", "4bf92f3577b34da6a3ce929d0e0e4736"])
    assert "trace_id=4bf92f3577b34da6a3ce929d0e0e4736" in _list_path(args)
    text = format_detail(_entry(trace_id="4bf92f3577b34da6a3ce929d0e0e4736", span_id="00f067aa0ba902b7"), now=NOW)
    assert "  Trace     4bf92f3577b34da6a3ce929d0e0e4736  span 00f067aa0ba902b7\n" in text
