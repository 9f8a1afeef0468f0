"""The logging filter redacts personal data in log records (template and arguments)."""

from __future__ import annotations

import io
import logging
import sys

import pytest

from bot.redaction import RedactingFilter
from tests.pii import VALID_MY_NUMBER

pytestmark = pytest.mark.unit


# --- logging -----------------------------------------------------------------------------------------------------


def make_record(msg: object, args: tuple[object, ...] | dict[str, object] | None = None) -> logging.LogRecord:
    """A log record as a logger would build it."""
    return logging.LogRecord("kura.test", logging.INFO, __file__, 1, msg, args, None)


def test_filter_redacts_message_and_string_args() -> None:
    """The template and its string arguments are redacted in place, and the record passes."""
    record = make_record("ask from %s tel %s in %s", ("taro@example.jp", "03-1234-5678", "東京"))
    assert RedactingFilter().filter(record)
    assert ("[EMAIL]", "[PHONE]", "東京") == record.args
    assert "ask from [EMAIL] tel [PHONE] in 東京" == record.getMessage()


def test_filter_redacts_pii_in_the_template() -> None:
    """PII written into the message itself is redacted."""
    record = make_record("card 4111 1111 1111 1111 declined")
    assert RedactingFilter().filter(record)
    assert "card [CARD] declined" == record.msg


def test_filter_redacts_mapping_args() -> None:
    """A single mapping argument has its string values redacted."""
    record = make_record("user=%(user)s seq=%(seq)d", {"user": "hanako@example.jp", "seq": 7})
    assert RedactingFilter().filter(record)
    assert {"user": "[EMAIL]", "seq": 7} == record.args
    assert "user=[EMAIL] seq=7" == record.getMessage()


def test_filter_keeps_records_without_pii_as_they_are() -> None:
    """Numbers and plain strings pass untouched, args included."""
    record = make_record("retrieved %d chunks in %.1f ms for %s", (12, 3.5, "経費"))
    assert RedactingFilter().filter(record)
    assert (12, 3.5, "経費") == record.args


def test_filter_catches_pii_split_between_template_and_args() -> None:
    """An email assembled only when the message is formatted is redacted all the same."""
    record = make_record("mail from %s@example.co.jp", ("taro",))
    assert RedactingFilter().filter(record)
    assert "mail from [EMAIL]" == record.getMessage()


def test_filter_catches_pii_in_non_string_args() -> None:
    """An int card number or an exception carrying an email is caught once formatted."""
    record = make_record("charge %d failed: %s", (4111111111111111, ValueError("bad taro@example.jp")))
    assert RedactingFilter().filter(record)
    assert "charge [CARD] failed: bad [EMAIL]" == record.getMessage()


def test_filter_redacts_tracebacks() -> None:
    """Exception text, including the traceback, is redacted before any handler formats it."""
    try:
        raise ValueError("no user hanako@example.jp")
    except ValueError:
        record = logging.LogRecord("kura.test", logging.ERROR, __file__, 1, "lookup failed", (), sys.exc_info())
    assert RedactingFilter().filter(record)
    assert record.exc_text is not None
    assert "ValueError: no user [EMAIL]" in record.exc_text
    assert "hanako" not in logging.Formatter().format(record)


def test_filter_on_a_handler_redacts_what_is_written() -> None:
    """Attached to a handler, the filter keeps PII out of the log stream."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("kura.test.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("escalate to %s (%s), My Number %s", "taro@example.jp", "090-1234-5678", VALID_MY_NUMBER)
    finally:
        logger.removeHandler(handler)
    assert "escalate to [EMAIL] ([PHONE]), My Number [MY_NUMBER]\n" == stream.getvalue()
