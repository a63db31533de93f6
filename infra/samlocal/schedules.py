"""EventBridge schedule expressions: ``rate(…)``, ``cron(…)`` and ``at(…)``.

>>> next_fire("rate(5 minutes)", datetime(2026, 11, 26, 10, 0, tzinfo=timezone.utc))
datetime.datetime(2026, 11, 26, 10, 5, tzinfo=datetime.timezone.utc)
>>> next_fire("cron(0 3 * * ? *)", datetime(2026, 11, 26, 10, 0, tzinfo=timezone.utc))
datetime.datetime(2026, 11, 27, 3, 0, tzinfo=datetime.timezone.utc)

Cron fields are EventBridge's six (minutes hours day-of-month month day-of-week year, in UTC),
read by ``aws-croniter``, which knows that dialect (``?``, ``L``, ``W``, ``#``): general cron
libraries read a sixth field as seconds.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Optional

from aws_croniter import AwsCroniter
from aws_croniter.exceptions import AwsCroniterExpressionError

_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_UNITS = {"minute": 60, "hour": 3600, "day": 86400}


class ScheduleError(ValueError):
    pass


def interval(expression: str) -> Optional[timedelta]:
    match = _RATE.match(expression.strip())
    if not match:
        return None
    value, unit = int(match.group(1)), match.group(2).rstrip("s")
    if value < 1:
        raise ScheduleError(f"{expression}: the rate must be at least 1")
    return timedelta(seconds=value * _UNITS[unit])


def next_fire(expression: str, after: datetime) -> Optional[datetime]:
    """The first time strictly after ``after`` that the expression fires (None: never again)."""
    expression = expression.strip()
    every = interval(expression)
    if every is not None:
        return after + every
    if expression.startswith("at(") and expression.endswith(")"):
        moment = datetime.fromisoformat(expression[3:-1]).replace(tzinfo=timezone.utc)
        return moment if moment > after else None
    if expression.startswith("cron(") and expression.endswith(")"):
        try:
            cron = AwsCroniter(expression[5:-1])
        except AwsCroniterExpressionError as error:
            raise ScheduleError(f"{expression}: {error}") from error
        found = cron.get_next(after.astimezone(timezone.utc))
        return found[0] if found else None
    raise ScheduleError(f"{expression!r} is not a rate(), cron() or at() expression")
