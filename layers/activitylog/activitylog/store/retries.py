"""What "DynamoDB is busy" looks like, and how long to wait before trying again."""

from __future__ import annotations

import random
import time

# Error codes that mean "DynamoDB is busy, try again": throttling, and a transaction that
# met another one on the same item. Codes inside a cancelled transaction's reasons too.
RETRYABLE = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TransactionConflictException",
        "TransactionInProgressException",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionConflict",
        "ThrottlingError",
        "ProvisionedThroughputExceeded",
    }
)
WRITE_ATTEMPTS = 5
BACKOFF_BASE = 0.05  # seconds; full jitter, doubling per attempt
BACKOFF_CAP = 1.0


def backoff(attempt: int) -> None:
    """Sleep a random time below an exponential cap ("full jitter"), so racing writers spread out."""
    time.sleep(random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt)))


def unavailable(error: BaseException | None) -> bool:
    """Whether ``error`` means DynamoDB did not serve the request after the clients' retries: throttling, a 5xx,
    a refused, dropped or timed-out connection. The request may be sent again (a 503 with Retry-After); a
    validation error, a missing table or a bug is not that.

    Follows the chain of causes (pynamodb's ``cause``, Powertools' wrapped errors).
    """
    from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, (ConnectionError, HTTPClientError)):  # refused, reset, connect and read timeouts
            return True
        if isinstance(error, ClientError):
            answer = error.response
            if (
                answer.get("Error", {}).get("Code") in RETRYABLE
                or answer.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500
            ):
                return True
        if busy(error):
            return True
        error = getattr(error, "cause", None) or error.__cause__
    return False


def busy(error: BaseException) -> bool:
    if getattr(error, "cause_response_code", None) in RETRYABLE:
        return True
    reasons = getattr(error, "cancellation_reasons", None) or []
    return any(reason and reason.code in RETRYABLE for reason in reasons)


def condition_failed(error: BaseException) -> bool:
    return getattr(error, "cause_response_code", None) == "ConditionalCheckFailedException"
