"""Values of the fake Bot Connector's wire format: users, conversations, recorded calls, streams."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["JSON", "Call", "Conversation", "Stream", "TeamsUser", "meeting_info"]

JSON = dict[str, Any]
ConversationKind = Literal["personal", "groupChat", "channel"]

TENANT_ID = "00000000-0000-0000-0000-0000000000aa"
BOT_ID = "28:00000000-0000-0000-0000-00000000b0b0"  # Teams prefixes a bot's id with "28:"
BOT_NAME = "Kura"


@dataclass(frozen=True)
class TeamsUser:
    """A person as Teams' roster APIs report them (a TeamsChannelAccount).

    ``role`` is ``userRole``: "user", "guest" (B2B guest) or "anonymous" (meeting attendee without an
    account); anonymous users have no ``aadObjectId``, email or UPN.
    """

    id: str
    aad_object_id: str | None
    name: str
    email: str | None = None
    user_principal_name: str | None = None
    tenant_id: str = TENANT_ID
    role: str = "user"

    def account(self) -> JSON:
        """The TeamsChannelAccount JSON: absent values are left out, as the connector does."""
        upn = self.user_principal_name if self.user_principal_name is not None else self.email
        values: JSON = {
            "id": self.id,
            "name": self.name,
            "aadObjectId": self.aad_object_id,
            "email": self.email,
            "userPrincipalName": upn,
            "tenantId": self.tenant_id,
            "userRole": self.role,
        }
        return {key: value for key, value in values.items() if value is not None}


@dataclass(frozen=True)
class Conversation:
    """A Teams conversation as data.

    ``id`` is the conversation id without any ``;messageid=`` suffix (a channel's thread ids carry
    one; the fake strips it). ``members`` is None for a standard channel, whose roster is the team's
    (``FakeBotConnector(teams=...)``); private and shared channels list their own members.
    """

    id: str
    kind: ConversationKind
    members: tuple[str, ...] | None
    team_id: str | None = None
    tenant_id: str = TENANT_ID


@dataclass(frozen=True)
class Call:
    """One request the fake received, recorded before authentication or injected failures."""

    operation: str
    http_method: str
    path: str
    headers: dict[str, str]
    query: dict[str, str]
    body: Any
    conversation_id: str | None = None
    activity_id: str | None = None
    #: The path as it arrived, still percent-encoded (a meeting id may hold "/" or "=").
    raw_path: str = ""
    #: The ``{meeting_id}`` of a meeting-info request, decoded.
    meeting_id: str | None = None


@dataclass
class Stream:
    """One streamed response in a 1:1 chat: every update, in arrival order."""

    id: str
    conversation_id: str
    sequences: list[int] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    final_text: str | None = None
    final_activity: JSON | None = None

    @property
    def finished(self) -> bool:
        return self.final_activity is not None

    @property
    def in_order(self) -> bool:
        """Whether every ``streamSequence`` was greater than the one before it."""
        return all(later > earlier for earlier, later in zip(self.sequences, self.sequences[1:], strict=False))


@dataclass
class _Injected:
    status: int
    times: int
    retry_after: int | None


def stream_info(activity: JSON) -> JSON | None:
    """The ``streaminfo`` entity of an activity, if it has one."""
    entities = activity.get("entities")
    if not isinstance(entities, list):
        return None
    for entity in entities:
        if isinstance(entity, dict) and entity.get("type") == "streaminfo":
            return entity
    return None


def error_body(code: str, message: str) -> JSON:
    """The connector's ErrorResponse shape."""
    return {"error": {"code": code, "message": message}}


def meeting_info(teams_id: str, graph_id: str, organizer: TeamsUser, chat: Conversation) -> JSON:
    """What ``GET /v1/meetings/{teams_id}`` answers (a TeamsMeetingInfo): the meeting's details with
    its Graph id (``msGraphResourceId``), its chat, and its organiser."""
    return {
        "details": {
            "id": teams_id,
            "msGraphResourceId": graph_id,
            "scheduledStartTime": "2026-11-27T01:00:00Z",
            "scheduledEndTime": "2026-11-27T02:00:00Z",
            "joinUrl": "https://teams.microsoft.com/l/meetup-join/0",
            "title": "週次定例",
            "type": "Scheduled",
        },
        "conversation": {"isGroup": True, "conversationType": chat.kind, "id": chat.id},
        "organizer": {"id": organizer.id, "aadObjectId": organizer.aad_object_id, "tenantId": organizer.tenant_id},
    }
