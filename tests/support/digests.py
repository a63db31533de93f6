"""The archive and its digests in moto over a test table: ``World`` records, archives, digests and
verifies; the ``world`` fixture is in tests/integration/conftest.py."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from activitylog.archive import layout
from activitylog.archive.digests import Digester, verify
from activitylog.archive.lines import Line
from activitylog.archive.signing import LocalSigner
from activitylog.archive.store import S3Objects, pack_lines, unpack_lines
from activitylog.inputs import NewEntry
from activitylog.service import Caller
from tests.support.kit import LambdaContext
from tests.integration.api_events import load_handler_module
from tests.integration.streams import stream_event

MOTO = {"core": {"passthrough": {"services": ["dynamodb"]}}}
WRITER = Caller("org_a", "svc", frozenset({"activity:write", "activity:read"}))
ARCHIVE, DIGESTS = "test-archive", "test-digests"
LONG_AGO = datetime.now(timezone.utc) - timedelta(days=3)


def other_signer(tmp_path) -> LocalSigner:
    """Another P-256 key, as an attacker's own KMS key would be (moto's KMS does not sign a DIGEST message)."""
    return LocalSigner(tmp_path / "attacker.pem", "attacker-key")


class World:
    def __init__(self, s3, service, stream, signer) -> None:
        self.s3, self.service, self.stream, self.signer = s3, service, stream, signer
        self.archive, self.digests = S3Objects(ARCHIVE, s3), S3Objects(DIGESTS, s3)
        self.archived_until = None

    def record(self, count: int, hours_ago: float = 1) -> list[str]:
        base = datetime.now(timezone.utc) - timedelta(hours=hours_ago)
        return [self.service.record(WRITER, NewEntry.model_validate({
            "type": "USER_ACTION", "status": "SUCCESS", "actor": {"kind": "user", "id": "u_1", "name": "Ann"},
            "action": "updated", "event": f"Contact updated {n}", "occurred_at": (base + timedelta(seconds=n)).isoformat(),
        })).id for n in range(count)]

    def archive_new(self) -> None:
        records = self.stream.records()
        event = stream_event(records, after=self.archived_until)
        if event["Records"]:
            load_handler_module("ArchiveFunction").lambda_handler(event, LambdaContext())
        self.archived_until = records[-1]["dynamodb"]["SequenceNumber"]

    def digest(self) -> dict:
        return Digester(self.archive, self.digests, self.signer).run(datetime.now(timezone.utc))

    def hour(self, ids: list[str]) -> None:
        """An hour's worth of the log: archive what was recorded, then digest it."""
        self.archive_new()
        self.digest()

    def verify(self, low=LONG_AGO, high=None, now=None):
        return verify(self.archive, self.digests, "org_a", low, high or datetime.now(timezone.utc) + timedelta(minutes=1),
                      [self.signer.public_key()], now=now)

    def object_of(self, entry_id: str) -> tuple[str, list[Line]]:
        for key in self.archive.keys(layout.hour_prefix("org_a", entry_id)):
            lines = unpack_lines(self.archive.get(key))
            if any(line.entry_id == entry_id for line in lines):
                return key, lines
        raise AssertionError(f"{entry_id} is not archived")

    def rewrite(self, key: str, lines: list[Line]) -> None:
        self.s3.put_object(Bucket=ARCHIVE, Key=key, Body=pack_lines(lines))


def cli(*args: str) -> tuple[int, str]:
    """``activitylog`` on the buckets in moto, as an operator runs it against AWS (its output, its exit code)."""
    import contextlib
    import io

    from activitylog_local.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = main(list(args))
    return code, out.getvalue()
