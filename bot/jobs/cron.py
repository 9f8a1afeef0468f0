"""Cron lines as crontab reads them, turned into APScheduler 3 triggers.

Five fields (minute hour day month weekday), as in crontab; an optional sixth field in front gives
the seconds (``*/2 * * * * *``: every two seconds), for tests and demos that cannot wait a minute.
Weekdays are crontab's (0 or 7 Sunday, 1 Monday … 6 Saturday, or ``sun``…``sat``): APScheduler 3
counts from Monday, so the weekday field is rewritten as names before it gets there.
"""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger

from bot.errors import InputError

__all__ = ["check_timezone", "cron_trigger"]

_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_ITEM = re.compile(r"^(?:(\*)|(\w+)(?:-(\w+))?)(?:/(\d+))?$")


def check_timezone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; InputError naming it when there is none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InputError(f"unknown time zone {name!r} (an IANA name such as Asia/Tokyo or UTC)") from exc


def _day(word: str, field: str) -> int:
    if word.isdigit() and int(word) <= 7:
        return int(word) % 7
    if word.lower()[:3] in _DAYS and len(word) >= 3:
        return _DAYS.index(word.lower()[:3])
    raise InputError(f"bad weekday {word!r} in {field!r} (0-7 or sun-sat)")


def _weekdays(field: str) -> str:
    """Crontab's weekday field as the day names APScheduler reads the same way."""
    if field == "*":
        return field
    days: set[int] = set()
    for item in field.split(","):
        match = _ITEM.match(item)
        if match is None:
            raise InputError(f"bad weekday field {field!r}")
        star, first, last, step = match.groups()
        if star:
            start, end = 0, 6
        else:
            start = _day(first, field)
            end = _day(last, field) if last else (6 if step else start)
            if last and last.isdigit() and int(last) == 7:
                end = 7  # 5-7: Friday to Sunday
        if end < start:
            raise InputError(f"bad weekday range {item!r} in {field!r}")
        days.update(d % 7 for d in range(start, end + 1, int(step or 1)))
    return ",".join(_DAYS[d] for d in sorted(days))


def cron_trigger(expr: str, timezone: str) -> CronTrigger:
    """The trigger for a 5-field crontab line (or 6 fields, seconds first) in ``timezone``.

    Raises:
        InputError: the line or the zone is not valid (one line saying why).
    """
    zone = check_timezone(timezone)
    fields = expr.split()
    if len(fields) not in (5, 6):
        raise InputError(
            f"cron {expr!r} has {len(fields)} fields; expected 5 (minute hour day month weekday) or 6 (seconds first)"
        )
    second = fields.pop(0) if len(fields) == 6 else "0"
    minute, hour, day, month, weekday = fields
    try:
        return CronTrigger(
            second=second,
            minute=minute,
            hour=hour,
            day=day,
            month=month,
            day_of_week=_weekdays(weekday),
            timezone=zone,
        )
    except ValueError as exc:
        raise InputError(f"cron {expr!r}: {exc}") from exc
