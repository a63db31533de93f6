"""Safe retries of writes: the same ``Idempotency-Key`` answers the first result, never writes twice.

A writer that timed out cannot know whether its entry landed; with a key it simply
sends the same request again. Two layers make that safe:

- Powertools' idempotency utility keeps the first answer in its own table for 24 hours,
  and answers a repeat from it. Keys are scoped by org and route, so two orgs (or a single
  and a batch write) never share one. Reusing a key with another body is a 409, as is a
  retry that arrives while the first request is still running (with ``Retry-After``: its
  lock ends with the first invocation, at most the function's timeout).
- Its record can be lost: the first attempt writes, then dies (killed, timed out, or the
  record's completing update fails) and the lock expires. So the key also decides the
  write itself (``WriteKey``): a new entry's id derives from the org, route, key and its
  position in the batch, written only if absent; an update is applied together with a
  marker of its key. A later attempt finds what the first wrote and adds nothing.

A route wraps its write in ``run_once(org, route, key, body, lambda_context, operation,
persistence=lambda: container().idempotency)``.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from activitylog import ids
from activitylog.errors import BadRequest, Conflict, Unavailable

KEY_WINDOW_SECONDS = 24 * 3600
STILL_RUNNING_RETRY_AFTER = 2  # seconds: a first attempt that died holds its lock until its invocation's end


@dataclass(frozen=True)
class WriteKey:
    """A write's ``Idempotency-Key``, scoped to its route, with the body it came with.

    >>> key = WriteKey("POST /activities", "k-1", {"action": "updated"})
    >>> from datetime import timezone
    >>> occurred_at = datetime(2026, 11, 26, 10, tzinfo=timezone.utc)
    >>> key.entry_id("org_1", 0, occurred_at) == key.entry_id("org_1", 0, occurred_at) != key.entry_id("org_1", 1, occurred_at)
    True
    """

    route: str
    key: str
    body: Any

    def scope(self, org: str) -> str:
        return f"{org}#{self.route}#{self.key}"

    def marker(self, org: str) -> str:
        """The id of the item recording what this key decided (in the idempotency table, beside Powertools' records)."""
        return "key#" + hashlib.sha256(self.scope(org).encode()).hexdigest()

    def body_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()

    def entry_id(self, org: str, position: int, occurred_at: datetime) -> str:
        """The id of the entry at ``position`` of the write: the same on every attempt that starts from the same time."""
        return ids.derived_id(occurred_at, f"{self.scope(org)}#{position}")


def run_once(
    org: str,
    route: str,
    key: str,
    body: Any,
    lambda_context: Any,
    operation: Callable[[], dict],
    *,
    persistence: Callable[[], Any],
    window_seconds: int = KEY_WINDOW_SECONDS,
    wait_seconds: float = 0.0,
) -> dict:
    """Run ``operation`` once per (org, route, key) within ``window_seconds``; a repeat gets the stored answer.

    A repeat arriving while the first still runs is a 409 with ``Retry-After``, unless
    ``wait_seconds`` lets it wait for the first's answer (two presses of one button get the
    same answer). When Powertools' own table fails, the operation's outcome is still the
    answer: its result once it ran (the key decides any later attempt), its error if it
    raised; if it never ran because the table did not answer, a 503 (nothing was written). ``persistence()``
    answers Powertools' record of the keys (``container().idempotency``), asked for once a key is checked.
    """
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyPersistenceLayerError,
        IdempotencyValidationError,
    )

    from activitylog.store import unavailable

    if not 1 <= len(key) <= 200:
        raise BadRequest("Idempotency-Key must be 1-200 characters", "idempotency-key")
    config = IdempotencyConfig(
        event_key_jmespath="key",
        payload_validation_jmespath="body",
        expires_after_seconds=window_seconds,
    )
    if lambda_context is not None:
        # Lets an interrupted request's lock expire with the invocation, not after 24 h.
        config.register_lambda_context(lambda_context)
    outcome: dict[str, Any] = {}

    @idempotent_function(data_keyword_argument="request", persistence_store=persistence(), config=config)
    def once(request: dict) -> dict:
        try:
            outcome["result"] = operation()
        except Exception as error:
            outcome["error"] = error
            raise
        return outcome["result"]

    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            return once(request={"key": f"{org}#{route}#{key}", "body": body})
        except IdempotencyValidationError:
            raise Conflict("this Idempotency-Key was used with a different body", "idempotency-key") from None
        except IdempotencyAlreadyInProgressError:
            if time.monotonic() >= deadline:
                raise Conflict(
                    "a request with this Idempotency-Key is still running (or ended without an answer); "
                    "send the same request again after Retry-After seconds",
                    "idempotency-key",
                    retry_after=STILL_RUNNING_RETRY_AFTER,
                ) from None
            time.sleep(0.2)
        except IdempotencyPersistenceLayerError as failure:
            if "result" in outcome:
                return outcome["result"]  # done; only its record's completion failed
            if "error" in outcome:
                raise outcome["error"] from None
            if unavailable(failure):
                raise Unavailable(
                    "the idempotency records did not answer; nothing was written, retry after a second",
                    "idempotency-key",
                ) from None
            raise
