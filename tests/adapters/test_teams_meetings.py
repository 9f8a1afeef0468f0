"""Teams meeting transcripts from Microsoft Graph (``GraphMeetings``) against a local fake Graph over
TLS, with a real token from the fake identity provider as the bearer and the session's
``RetryPolicy`` doing the retrying."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest
import requests

from bot.adapters.teams.meetings import MAX_TRANSCRIPT_BYTES, GraphMeetings, MeetingRef, parse_meeting
from bot.adapters.teams.retry import RetryPolicy
from bot.adapters.teams.tokens import GRAPH_SCOPE, TokenSource
from bot.core.types import MeetingTranscript
from bot.errors import InputError, UpstreamError
from bot.settings import GraphSettings, KuraSettings, TeamsSettings
from tests.fakes import tls
from tests.fakes.entra import APP_ID, TENANT_ID, FakeEntra
from tests.fakes.graph import FakeGraph, GraphMeeting, GraphTranscript, meeting_id

pytestmark = pytest.mark.adapters

SECRET = "graph-test-secret"  # noqa: S105 - a test value
ORGANIZER = "7d1f6a53-35b0-4d8e-9d7b-2f2f0f6c1a01"
STRANGER = "99999999-9999-4999-8999-999999999999"
#: Chosen so that the meeting id ends in "=" padding, which must be percent-quoted in a URL.
THREAD = "19:meeting_MTU3MzYwNWYtOWEzNC00ZGNhLT@thread.v2"
OLDER = GraphTranscript("MSMjMCMjb2xkZXI=", "2026-05-11T01:00:00.1234567Z", b"WEBVTT\n\n<v Sato>old</v>\n")
NEWER = GraphTranscript("MSMjMCMjbmV3ZXI", "2026-05-18T01:00:00.7654321Z", b"WEBVTT\n\n<v Sato>new</v>\n")
MIDDLE = GraphTranscript("MSMjMCMjbWlkZGxl", "2026-05-14T01:00:00Z", b"WEBVTT\n\n<v Sato>mid</v>\n")


def weekly(*transcripts: GraphTranscript) -> GraphMeeting:
    return GraphMeeting(
        organizer=ORGANIZER,
        organizer_upn="Sato@Example.co.jp",
        subject="週次定例",
        # A phone caller has no UPN; the organiser also appears among the attendees.
        attendees=("Tanaka@example.co.jp", None, "sato@example.co.jp", "suzuki@example.co.jp"),
        thread=THREAD,
        transcripts=list(transcripts),
    )


@pytest.fixture
async def entra() -> AsyncIterator[FakeEntra]:
    async with FakeEntra(clients={APP_ID: SECRET}, tls=True) as fake:
        yield fake


@pytest.fixture
async def graph(entra: FakeEntra) -> AsyncIterator[FakeGraph]:
    async with FakeGraph(token_check=entra.issued_token_check) as fake:
        yield fake


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.trust_env = False
        session.verify = str(tls.ca_file())
        yield session


@pytest.fixture
def tokens(entra: FakeEntra, http: requests.Session) -> TokenSource:
    values = {"app_id": APP_ID, "app_password": SECRET, "tenant_id": TENANT_ID, "token_authority": entra.origin}
    return TokenSource(TeamsSettings.model_validate(values), http_client=http)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """As Kura's runner makes it: retries in the middleware (short backoff for the tests)."""
    connector = aiohttp.TCPConnector(ssl=tls.client_context())
    async with aiohttp.ClientSession(
        connector=connector, middlewares=(RetryPolicy(base_s=0.05),), timeout=aiohttp.ClientTimeout(total=20)
    ) as client:
        yield client


@pytest.fixture
def meetings(session: aiohttp.ClientSession, tokens: TokenSource, graph: FakeGraph) -> GraphMeetings:
    return GraphMeetings(session, tokens, graph.base_url)


# ---------------------------------------------------------------------- meeting ids


def test_a_teams_meeting_id_names_its_organiser_and_chat() -> None:
    graph_id = meeting_id(ORGANIZER.upper(), THREAD)
    assert graph_id.endswith("=")
    assert MeetingRef(ORGANIZER, graph_id, THREAD) == parse_meeting(graph_id)
    assert MeetingRef(ORGANIZER, graph_id, THREAD) == parse_meeting(f" {graph_id}\n")
    # The same id without its padding, as some tools print it.
    assert parse_meeting(graph_id.rstrip("=")).organizer == ORGANIZER


def test_an_explicit_organiser_and_meeting_id() -> None:
    assert MeetingRef(ORGANIZER, "b3BhcXVl", None) == parse_meeting(f"{ORGANIZER}/b3BhcXVl")
    graph_id = meeting_id(ORGANIZER, THREAD)
    assert MeetingRef(ORGANIZER, graph_id, THREAD) == parse_meeting(f"{ORGANIZER.upper()}/{graph_id}")


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    "meeting",
    [
        "",
        "weekly sync",
        "https://teams.microsoft.com/l/meetup-join/19%3ameeting_x%40thread.v2/0",
        "../../users",
        f"{ORGANIZER}/",
        f"{ORGANIZER}/../{STRANGER}",
        f"{ORGANIZER}/abc?$select=x",
        f"{ORGANIZER}/abc def",
        f"not-an-object-id/{_b64('x')}",
        _b64(f"1*not-an-object-id*0**{THREAD}"),
        _b64(f"1*{ORGANIZER}*0**19:meeting_x@evil.example"),
        _b64(f"1*{ORGANIZER}*0**{THREAD}\n"),
        _b64(f"1*{ORGANIZER}/../x*0**{THREAD}"),
        "MSp!" + meeting_id(ORGANIZER, THREAD),
        "\n".join(["garbage"] * 50),
    ],
)
async def test_anything_else_is_a_one_line_input_error_and_no_call(
    meetings: GraphMeetings, graph: FakeGraph, meeting: str
) -> None:
    with pytest.raises(InputError, match="not a Teams meeting id") as caught:
        await meetings.transcript(meeting)
    assert "\n" not in str(caught.value)
    assert graph.calls == []


async def test_a_malformed_after_is_an_input_error(meetings: GraphMeetings, graph: FakeGraph) -> None:
    with pytest.raises(InputError, match="ISO time"):
        await meetings.transcript(meeting_id(ORGANIZER, THREAD), after="last tuesday")
    assert graph.calls == []


# ---------------------------------------------------------------------- transcripts


async def test_the_newest_transcript_with_title_attendees_and_chat(
    meetings: GraphMeetings, graph: FakeGraph, entra: FakeEntra
) -> None:
    graph_id = graph.add_meeting(weekly(OLDER, NEWER, MIDDLE))
    graph.page_size = 1  # three pages of transcripts, the newest in the middle
    expected = MeetingTranscript(
        meeting=graph_id,
        title="週次定例",
        content=NEWER.content,
        suffix=".vtt",
        attendees=("sato@example.co.jp", "tanaka@example.co.jp", "suzuki@example.co.jp"),
        created=NEWER.created,
        transcript=NEWER.id,
        chat=THREAD,
    )
    assert expected == await meetings.transcript(graph_id)
    quoted = graph_id.replace("=", "%3D")
    root = f"/v1.0/users/{ORGANIZER}/onlineMeetings/{graph_id}"
    calls = graph.meeting_calls()
    assert [call.path for call in calls] == [
        *[f"{root}/transcripts"] * 3,
        f"{root}/transcripts/{NEWER.id}/content",
        root,
    ]
    assert all(quoted in call.raw_path for call in calls)
    assert all(entra.issued_token_check((call.authorization or "").removeprefix("Bearer ")) for call in calls)


async def test_the_content_is_asked_for_as_webvtt(meetings: GraphMeetings, graph: FakeGraph) -> None:
    graph.add_meeting(weekly(OLDER))
    await meetings.transcript(f"{ORGANIZER}/{meeting_id(ORGANIZER, THREAD)}")
    [content] = [call for call in graph.meeting_calls() if call.path.endswith("/content")]
    assert content.query == {"$format": "text/vtt"}
    assert content.accept == "text/vtt"
    assert content.path.endswith(f"/transcripts/{OLDER.id}/content")


async def test_after_keeps_only_newer_transcripts(meetings: GraphMeetings, graph: FakeGraph) -> None:
    graph_id = graph.add_meeting(weekly(OLDER, MIDDLE, NEWER))
    found = await meetings.transcript(graph_id, after=OLDER.created)
    assert found is not None
    assert NEWER.id == found.transcript
    # The newest's own time (as Kura recorded it from ``created``) leaves nothing newer.
    assert await meetings.transcript(graph_id, after=NEWER.created) is None
    graph.meetings[(ORGANIZER, graph_id)].transcripts.remove(NEWER)
    later = await meetings.transcript(graph_id, after="2026-05-12T10:00:00+09:00")
    assert later is not None
    assert MIDDLE.id == later.transcript


async def test_malformed_transcripts_are_left_out(meetings: GraphMeetings, graph: FakeGraph) -> None:
    # An id that would be a path once in a URL, and a time that is not one, are never used.
    dotted = GraphTranscript("..", NEWER.created, b"WEBVTT\n")
    undated = GraphTranscript(NEWER.id, "yesterday", b"WEBVTT\n")
    graph_id = graph.add_meeting(weekly(OLDER, dotted, undated))
    found = await meetings.transcript(graph_id)
    assert found is not None
    assert OLDER.id == found.transcript
    assert [call.path for call in graph.meeting_calls() if call.path.endswith("/content")] == [
        f"/v1.0/users/{ORGANIZER}/onlineMeetings/{graph_id}/transcripts/{OLDER.id}/content"
    ]


async def test_a_meeting_without_transcripts_is_none(meetings: GraphMeetings, graph: FakeGraph) -> None:
    graph_id = graph.add_meeting(weekly())
    assert await meetings.transcript(graph_id) is None
    assert [call.path.rsplit("/", 1)[-1] for call in graph.meeting_calls()] == ["transcripts"]


@pytest.mark.parametrize(
    ("chat", "expected"), [("19:meeting_moved@thread.v2", "19:meeting_moved@thread.v2"), (None, THREAD)]
)
async def test_the_meeting_chat_is_graphs_else_the_ids(
    meetings: GraphMeetings, graph: FakeGraph, chat: str | None, expected: str
) -> None:
    meeting = weekly(OLDER)
    meeting.chat = chat
    found = await meetings.transcript(graph.add_meeting(meeting))
    assert found is not None
    assert expected == found.chat


# ---------------------------------------------------------------------- refusals and failures


async def test_speaker_attribution_not_allowed_is_an_upstream_error_naming_it(
    meetings: GraphMeetings, graph: FakeGraph
) -> None:
    graph_id = graph.add_meeting(weekly(OLDER))
    graph.fail(403, code="SpeakerAttributionNotAllowed")
    with pytest.raises(UpstreamError, match="SpeakerAttributionNotAllowed") as caught:
        await meetings.transcript(graph_id)
    message = str(caught.value)
    assert "403" in message
    assert "application access policy" in message
    assert "\n" not in message
    [call] = graph.meeting_calls()
    assert (call.authorization or "").removeprefix("Bearer ") not in message


async def test_an_unknown_meeting_is_an_upstream_error(meetings: GraphMeetings, graph: FakeGraph) -> None:
    graph.add_meeting(weekly(OLDER))
    with pytest.raises(UpstreamError, match=r"404 \(NotFound\)"):
        await meetings.transcript(meeting_id(STRANGER, THREAD))


async def test_unavailable_then_answered_is_retried_by_the_session(meetings: GraphMeetings, graph: FakeGraph) -> None:
    graph_id = graph.add_meeting(weekly(OLDER))
    graph.fail(503, times=2)
    found = await meetings.transcript(graph_id)
    assert found is not None
    assert OLDER.content == found.content
    assert 5 == len(graph.meeting_calls())  # transcripts ×3, content, meeting


@pytest.mark.parametrize(
    "origin",
    ["https://graph.evil.example", "http://127.0.0.1:{port}", "https://127.0.0.1:1", "https://u@127.0.0.1:{port}"],
)
async def test_a_next_link_to_another_origin_is_not_followed(
    meetings: GraphMeetings, graph: FakeGraph, origin: str
) -> None:
    graph_id = graph.add_meeting(weekly(OLDER, NEWER))
    graph.page_size = 1
    graph.next_link_origin = origin.format(port=graph.port)
    with pytest.raises(UpstreamError, match="refused"):
        await meetings.transcript(graph_id)
    assert 1 == len(graph.calls)  # the token went nowhere else


@pytest.mark.parametrize("chunked", [False, True])
async def test_oversize_content_is_refused(
    session: aiohttp.ClientSession, tokens: TokenSource, graph: FakeGraph, chunked: bool
) -> None:
    graph_id = graph.add_meeting(weekly(GraphTranscript(NEWER.id, NEWER.created, b"x" * 1_000_001)))
    graph.chunked_content = chunked  # without a Content-Length, the bytes read are counted
    # With one, the answer is refused before it is read.
    refusal = "larger than 1000000 bytes: not read" if chunked else r"larger than 1000000 bytes \(1000001\)"
    with pytest.raises(InputError, match=refusal):
        await GraphMeetings(session, tokens, graph.base_url, max_bytes=1_000_000).transcript(graph_id)
    found = await GraphMeetings(session, tokens, graph.base_url, max_bytes=1_000_001).transcript(graph_id)
    assert found is not None
    assert 1_000_001 == len(found.content)


async def test_the_default_cap_is_20_mb(meetings: GraphMeetings, graph: FakeGraph) -> None:
    assert 20 * 1024 * 1024 == MAX_TRANSCRIPT_BYTES
    graph_id = graph.add_meeting(weekly(GraphTranscript(NEWER.id, NEWER.created, b"x" * (MAX_TRANSCRIPT_BYTES + 1))))
    with pytest.raises(InputError, match="larger than"):
        await meetings.transcript(graph_id)


# ---------------------------------------------------------------------- settings


def test_the_token_is_for_graph(session: aiohttp.ClientSession, tokens: TokenSource) -> None:
    assert GRAPH_SCOPE == GraphMeetings(session, tokens, GraphSettings().base_url).scope


def test_meetings_are_off_unless_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    assert GraphSettings().meetings is False
    monkeypatch.setenv("KURA_GRAPH_MEETINGS", "true")
    assert KuraSettings().graph.meetings is True
