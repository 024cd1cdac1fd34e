"""Five-field cron schedules (UTC): does one fire in a time window?

Enough of cron for a training schedule: ``*``, numbers, ranges ``a-b``, steps
``*/n`` and ``a-b/n``, lists ``a,b``; day of week 0-6 from Sunday (7 is Sunday
too). As in cron, when both day of month and day of week are restricted, a day
matching either fires.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

_BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_NAMES = ("minute", "hour", "day of month", "month", "day of week")
MAX_LOOKBACK = timedelta(days=31)


def _field(text: str, index: int) -> frozenset[int]:
    low, high = _BOUNDS[index]
    values: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if base == "*":
            start, end = low, high
        elif "-" in base:
            a, b = base.split("-", 1)
            start, end = int(a), int(b)
        else:
            start = end = int(base)
            if step_text:
                end = high
        if step < 1 or not low <= start <= end <= high:
            raise ValueError(f"cron {_NAMES[index]} {part!r} is outside {low}-{high}")
        values.update(range(start, end + 1, step))
    if index == 4 and 7 in values:
        values = (values - {7}) | {0}
    return frozenset(values)


@dataclass(frozen=True, slots=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    any_day: bool
    any_weekday: bool

    @classmethod
    def parse(cls, text: str) -> Cron:
        fields = text.split()
        if len(fields) != 5:
            raise ValueError(f"cron schedule {text!r} must have five fields")
        try:
            parsed = [_field(f, i) for i, f in enumerate(fields)]
        except ValueError as exc:
            if "outside" in str(exc):
                raise
            raise ValueError(f"cron schedule {text!r} is not numeric cron: {exc}") from exc
        minutes, hours, days, months, weekdays = parsed
        return cls(minutes, hours, days, months, weekdays, fields[2] == "*", fields[4] == "*")

    def matches(self, t: datetime) -> bool:
        if t.minute not in self.minutes or t.hour not in self.hours or t.month not in self.months:
            return False
        day_ok, weekday_ok = t.day in self.days, (t.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:
            return day_ok and weekday_ok
        return day_ok or weekday_ok

    def fired_between(self, after: datetime, until: datetime) -> bool:
        """True when a scheduled minute lies in (after, until] (looking back at most 31 days)."""
        start = max(after, until - MAX_LOOKBACK).replace(second=0, microsecond=0) + timedelta(minutes=1)
        t = start
        while t <= until:
            if self.matches(t):
                return True
            t += timedelta(minutes=1)
        return False
