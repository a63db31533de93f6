"""EventBridge schedule expressions: ``rate(…)``, ``cron(…)`` and ``at(…)``.

>>> next_fire("rate(5 minutes)", datetime(2026, 11, 26, 10, 0, tzinfo=timezone.utc))
datetime.datetime(2026, 11, 26, 10, 5, tzinfo=datetime.timezone.utc)
>>> next_fire("cron(0 3 * * ? *)", datetime(2026, 11, 26, 10, 0, tzinfo=timezone.utc))
datetime.datetime(2026, 11, 27, 3, 0, tzinfo=datetime.timezone.utc)

Cron fields are EventBridge's six: minutes hours day-of-month month day-of-week year,
in UTC, with ``*``, ``?``, lists, ranges and ``/`` steps. ``L``, ``W`` and ``#`` are
refused with a clear message rather than silently misread.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Optional

_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_UNITS = {"minute": 60, "hour": 3600, "day": 86400}
_MONTHS = {m: i for i, m in enumerate("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split(), 1)}
_DAYS = {d: i for i, d in enumerate("SUN MON TUE WED THU FRI SAT".split(), 1)}


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
        return Cron(expression[5:-1]).next_after(after)
    raise ScheduleError(f"{expression!r} is not a rate(), cron() or at() expression")


class Cron:
    def __init__(self, text: str) -> None:
        fields = text.split()
        if len(fields) != 6:
            raise ScheduleError(f"cron({text}) needs 6 fields: minutes hours day-of-month month day-of-week year")
        minute, hour, dom, month, dow, year = fields
        if dom != "?" and dow != "?":
            raise ScheduleError(f"cron({text}): one of day-of-month and day-of-week must be '?'")
        self.minutes = _field(minute, 0, 59, {}, "minutes")
        self.hours = _field(hour, 0, 23, {}, "hours")
        self.days = None if dom == "?" else _field(dom, 1, 31, {}, "day-of-month")
        self.months = _field(month, 1, 12, _MONTHS, "month")
        self.weekdays = None if dow == "?" else _field(dow, 1, 7, _DAYS, "day-of-week")
        self.years = _field(year, 1970, 2199, {}, "year")

    def matches_day(self, moment: datetime) -> bool:
        if moment.month not in self.months or moment.year not in self.years:
            return False
        if self.days is not None and moment.day not in self.days:
            return False
        if self.weekdays is not None and (moment.isoweekday() % 7) + 1 not in self.weekdays:
            return False
        return True

    def next_after(self, after: datetime) -> Optional[datetime]:
        moment = after.astimezone(timezone.utc).replace(second=0, microsecond=0) + timedelta(minutes=1)
        for _ in range(366 * 5):  # day by day, then the first matching minute in that day
            if self.matches_day(moment):
                for hour in sorted(h for h in self.hours if h >= moment.hour):
                    start = moment.minute if hour == moment.hour else 0
                    for minute in sorted(m for m in self.minutes if m >= start):
                        return moment.replace(hour=hour, minute=minute)
            moment = (moment + timedelta(days=1)).replace(hour=0, minute=0)
            if moment.year > max(self.years):
                return None
        return None


def _field(text: str, low: int, high: int, names: dict[str, int], label: str) -> set[int]:
    if any(marker in text.upper() for marker in ("L", "W", "#")) and not any(n in text.upper() for n in names):
        raise ScheduleError(f"cron {label} {text!r}: L, W and # are not supported locally")
    values: set[int] = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = int(step_text)
        if part in ("*", "?"):
            start, end = low, high
        elif "-" in part:
            first, last = part.split("-", 1)
            start, end = _value(first, names), _value(last, names)
        else:
            start = _value(part, names)
            end = high if step != 1 else start
        if not (low <= start <= high and low <= end <= high):
            raise ScheduleError(f"cron {label} {text!r} is outside {low}-{high}")
        values.update(range(start, end + 1, step))
    return values


def _value(text: str, names: dict[str, int]) -> int:
    return names[text.upper()] if text.upper() in names else int(text)
