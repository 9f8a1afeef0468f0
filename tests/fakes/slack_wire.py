"""Values and helpers of the fake Slack's wire format: users, recorded calls, timestamps, cursors."""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["APP_ID", "BOT_ID", "JSON", "VERIFICATION_TOKEN", "Call", "SlackUser"]

JSON = dict[str, Any]
_Handler = Callable[[JSON], JSON]

APP_ID = "A_KURA"
BOT_ID = "B_KURA"
VERIFICATION_TOKEN = "fake-verification-token"  # noqa: S105 - a fixture value, not a secret

# Form and query values Slack documents as JSON-encoded strings; only these are decoded, so that a
# message text that happens to look like JSON stays text.
_JSON_FIELDS = frozenset(
    {
        "attachments",
        "blocks",
        "chunks",
        "metadata",
        "option_groups",
        "options",
        "unfurls",
        "user_auth_blocks",
        "view",
    }
)

_TS_BASE_SECONDS = 1_700_000_000
_TS_STEP_MICROS = 100


@dataclass
class SlackUser:
    """A workspace member as ``users.info`` reports it."""

    id: str
    email: str | None
    locale: str = "ja-JP"
    team_id: str = "T_KURA"
    is_bot: bool = False
    name: str = ""


@dataclass(frozen=True)
class Call:
    """One request the fake received."""

    method: str
    params: dict[str, Any]
    http_method: str
    headers: dict[str, str]


@dataclass
class _RateLimit:
    times: int
    retry_after: int


def _ts_to_micros(ts: str) -> int:
    seconds, _, fraction = ts.partition(".")
    return int(seconds) * 1_000_000 + int((fraction + "000000")[:6])


def _micros_to_ts(micros: int) -> str:
    return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


def _encode_cursor(offset: int) -> str:
    return base64.b64encode(f"offset:{offset}".encode()).decode()


def _decode_cursor(cursor: str) -> int | None:
    """The offset a cursor stands for; 0 for none; None when it is not one this fake issued."""
    if not cursor:
        return 0
    try:
        kind, _, value = base64.b64decode(cursor, validate=True).decode().partition(":")
        offset = int(value)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return offset if kind == "offset" and offset >= 0 else None


def _maybe_json(key: str, value: str) -> Any:
    if key in _JSON_FIELDS and value[:1] in ("[", "{"):
        with contextlib.suppress(ValueError):
            return json.loads(value)
    return value


def _as_int(value: Any, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return default
