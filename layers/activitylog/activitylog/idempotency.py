"""Safe retries of writes: the same ``Idempotency-Key`` answers the first result, never writes twice.

A writer that timed out cannot know whether its entry landed; with a key it simply
sends the same request again. Powertools' idempotency utility keeps the first answer
in its own table for 24 hours. Keys are scoped by org and route, so two orgs (or a
single and a batch write) never share one. Reusing a key with another body is a 409,
as is a retry that arrives while the first request is still running.

>>> run_once(org, "POST /activities", key, body, lambda_context, lambda: service.record(...).detail_view())
"""

from __future__ import annotations

import time
from functools import lru_cache
from typing import Any, Callable

from activitylog.config import settings
from activitylog.errors import BadRequest, Conflict

KEY_WINDOW_SECONDS = 24 * 3600


@lru_cache(maxsize=1)
def _persistence():
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    table = settings().idempotency_table
    if not table:
        raise RuntimeError("IDEMPOTENCY_TABLE is not set")
    return DynamoDBPersistenceLayer(table_name=table)


def run_once(org: str, route: str, key: str, body: Any, lambda_context: Any, operation: Callable[[], dict],
             window_seconds: int = KEY_WINDOW_SECONDS, wait_seconds: float = 0.0) -> dict:
    """Run ``operation`` once per (org, route, key) within ``window_seconds``; a repeat gets the stored answer.

    A repeat arriving while the first still runs is a 409, unless ``wait_seconds`` lets it
    wait for the first's answer (two presses of one button get the same answer).
    """
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyValidationError,
    )

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

    @idempotent_function(data_keyword_argument="request", persistence_store=_persistence(), config=config)
    def once(request: dict) -> dict:
        return operation()

    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            return once(request={"key": f"{org}#{route}#{key}", "body": body})
        except IdempotencyValidationError:
            raise Conflict("this Idempotency-Key was used with a different body", "idempotency-key") from None
        except IdempotencyAlreadyInProgressError:
            if time.monotonic() >= deadline:
                raise Conflict("a request with this Idempotency-Key is still running; retry shortly", "idempotency-key") from None
            time.sleep(0.2)
