"""Schedules checked before they are stored: names, kinds and their parameters, cron lines read as
crontab reads them (weekday 0 is Sunday; a sixth field in front gives seconds), zones, targets."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.errors import InputError
from bot.jobs.cron import cron_trigger
from bot.jobs.service import describe_error, make_spec
from bot.jobs.targets import Target, parse_target

pytestmark = pytest.mark.unit


def test_a_valid_schedule_is_normalised() -> None:
    """Cron whitespace collapsed, a sync path kept absolute, a target in its canonical form."""
    spec = make_spec("sync", "docs-nightly", " 0  2 * * * ", "Asia/Tokyo", params={"path": "/srv/docs"})
    assert ("0 2 * * *", {"path": "/srv/docs"}, None, True) == (spec.cron, dict(spec.params), spec.target, spec.enabled)
    assert "retention" == make_spec("retention", "retention", "17 3 * * *", "UTC").kind
    weekly = make_spec(
        "minutes", "proj-x", "0 17 * * 5", "UTC", params={"source": " slack:C1 "}, owner="bob@example.co.jp"
    )
    assert {"source": "slack:C1", "period": "7d"} == dict(weekly.params)  # a week unless told


@pytest.mark.parametrize(
    ("args", "params", "target", "message"),
    [
        (("sync", "bad name", "0 2 * * *", "UTC"), {"path": "/x"}, None, "bad schedule name 'bad name'"),
        (
            ("nope", "n", "0 2 * * *", "UTC"),
            {},
            None,
            r"unknown job kind 'nope' \(ask, checkpoint, eval, faq_refresh, minutes, retention, sync",
        ),
        (("sync", "n", "0 2 * *", "UTC"), {"path": "/x"}, None, "has 4 fields; expected 5"),
        (("sync", "n", "0 25 * * *", "UTC"), {"path": "/x"}, None, "cron '0 25 \\* \\* \\*'"),
        (("sync", "n", "0 2 * * 8", "UTC"), {"path": "/x"}, None, "bad weekday '8'"),
        (("sync", "n", "0 2 * * *", "Mars/Olympus"), {"path": "/x"}, None, "unknown time zone 'Mars/Olympus'"),
        (("sync", "n", "0 2 * * *", "UTC"), {}, None, "sync needs the parameter path"),
        (("sync", "n", "0 2 * * *", "UTC"), {"path": "docs"}, None, "must be an absolute folder path"),
        (("sync", "n", "0 2 * * *", "UTC"), {"path": "/x", "depth": "2"}, None, "sync has no parameter 'depth'"),
        (("retention", "n", "0 2 * * *", "UTC"), {}, "slack:C1", "retention does not post anywhere"),
        (
            ("minutes", "n", "0 17 * * 5", "UTC"),
            {"source": "C123"},
            "slack:C1",
            "must be slack:CHANNEL or teams-meeting",
        ),
        (("minutes", "n", "0 17 * * 5", "UTC"), {"source": "slack:C1", "period": "1 week"}, None, "like 30m, 24h"),
        (("minutes", "n", "0 17 * * 5", "UTC"), {"source": "slack:C1", "language": "fr"}, None, "must be ja or en"),
    ],
)
def test_bad_schedules_are_refused_with_one_line(
    args: tuple[str, str, str, str], params: dict[str, str], target: str | None, message: str
) -> None:
    """Each problem is an InputError of one line naming what is wrong."""
    with pytest.raises(InputError, match=message) as caught:
        make_spec(*args, params=params, target=target)
    assert "\n" not in str(caught.value)


def test_cron_weekdays_are_crontabs() -> None:
    """``0 17 * * 5`` is Friday 17:00 (APScheduler alone would read Saturday); 0 and 7 are Sunday."""
    friday = cron_trigger("0 17 * * 5", "Asia/Tokyo").get_next_fire_time(None, datetime(2026, 11, 23, tzinfo=UTC))
    assert (4, 17) == (friday.weekday(), friday.hour)  # Monday 23 Nov -> Friday 27 Nov, 17:00 JST
    for sunday in ("0", "7", "sun"):
        fire = cron_trigger(f"0 9 * * {sunday}", "UTC").get_next_fire_time(None, datetime(2026, 11, 23, tzinfo=UTC))
        assert 6 == fire.weekday()
    weekdays = cron_trigger("0 9 * * 1-5", "UTC")
    start = datetime(2026, 11, 21, tzinfo=UTC)  # a Saturday
    assert 0 == weekdays.get_next_fire_time(None, start).weekday()
    weekend = cron_trigger("0 9 * * 6-7", "UTC").get_next_fire_time(None, datetime(2026, 11, 23, tzinfo=UTC))
    assert 5 == weekend.weekday()


def test_six_fields_start_with_seconds() -> None:
    """``*/2 * * * * *``: every two seconds; five fields fire on the minute."""
    start = datetime(2026, 11, 23, 0, 0, 1, tzinfo=UTC)
    assert 2 == cron_trigger("*/2 * * * * *", "UTC").get_next_fire_time(None, start).second
    assert (1, 0) == (
        cron_trigger("* * * * *", "UTC").get_next_fire_time(None, start).minute,
        cron_trigger("* * * * *", "UTC").get_next_fire_time(None, start).second,
    )


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("slack:C0123", Target("slack", "channel", channel="C0123")),
        ("slack:C0123/1700000000.000100", Target("slack", "thread", channel="C0123", thread="1700000000.000100")),
        ("slack:@U0123", Target("slack", "dm", user="U0123")),
        ("slack:@Alice@Example.co.jp", Target("slack", "dm", user="alice@example.co.jp")),
        ("teams:19:abc@thread.tacv2", Target("teams", "channel", channel="19:abc@thread.tacv2")),
        (
            "teams:19:abc@thread.tacv2/1700000000000",
            Target("teams", "thread", channel="19:abc@thread.tacv2", thread="1700000000000"),
        ),
        ("teams:19:meeting_x@thread.v2", Target("teams", "channel", channel="19:meeting_x@thread.v2")),
        (
            "teams:@5f1c0a2b-0000-4000-8000-0000000000e1",
            Target("teams", "dm", user="5f1c0a2b-0000-4000-8000-0000000000e1"),
        ),
        ("teams:@Dave@Example.co.jp", Target("teams", "dm", user="dave@example.co.jp")),
    ],
)
def test_targets_name_their_platform_first(text: str, target: Target) -> None:
    """Channel, thread and direct-message targets parse and print back canonically."""
    assert target == parse_target(text)
    assert text.lower() == str(parse_target(text)).lower()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("C0123", "expected platform:address"),
        ("chat:19:abc", "unknown platform 'chat'"),
        ("teams:general", "bad Teams address 'general'"),
        ("teams:19:abc@thread.tacv2;messageid=1", "bad Teams address"),
        ("teams:19:abc@thread.tacv2/root", "bad Teams address"),
        ("teams:@nobody", "bad Teams user 'nobody'"),
        ("slack:#general", "bad Slack address '#general'"),
        ("slack:C0123/yesterday", "bad Slack address"),
        ("slack:@nobody", "bad Slack user 'nobody'"),
    ],
)
def test_bad_targets_say_why(text: str, message: str) -> None:
    """A target that cannot be read is refused with one line."""
    with pytest.raises(InputError, match=message):
        parse_target(text)


def test_errors_are_kept_short_and_free_of_statements() -> None:
    """A run's error is one line of at most 300 characters; a database error shows only its type."""
    from sqlalchemy.exc import OperationalError

    assert "RuntimeError: boom" == describe_error(RuntimeError("boom\ntrace details"))
    assert 300 == len(describe_error(ValueError("x" * 1000)))
    error = OperationalError("SELECT secret FROM t WHERE pw = %s", {"pw": "hunter2"}, ConnectionError("refused"))
    assert "database error (ConnectionError)" == describe_error(error)
