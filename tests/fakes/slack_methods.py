"""The fake Slack's Web API methods over its small in-memory workspace (a mixin of FakeSlack)."""

from __future__ import annotations

import uuid
from typing import Any

from tests.fakes.slack_wire import (
    _TS_STEP_MICROS,
    APP_ID,
    BOT_ID,
    JSON,
    SlackUser,
    _as_int,
    _decode_cursor,
    _encode_cursor,
    _micros_to_ts,
    _ts_to_micros,
)

__all__ = ["WebApiMethods"]


class WebApiMethods:
    """Users, channels, messages, threads and streams, answering like Slack's Web API."""

    users: dict[str, SlackUser]
    channels: dict[str, list[str]]
    private: set[str]
    group_dms: set[str]
    shared: set[str]
    bot_user_id: str
    team_id: str
    _messages: list[JSON]
    _last_ts_micros: int
    _tickets: set[str]
    _triggers: set[str]
    views: dict[str, JSON]
    history_page_cap: int | None

    @property
    def port(self) -> int:
        """The bound port (FakeSlack provides it)."""
        raise NotImplementedError

    def _next_ts(self) -> str:
        self._last_ts_micros += _TS_STEP_MICROS
        return _micros_to_ts(self._last_ts_micros)

    def _new_message(
        self,
        channel: str,
        ts: str,
        *,
        text: str,
        user: str,
        thread_ts: str | None,
        bot_id: str | None = None,
        blocks: Any = None,
        subtype: str | None = None,
        files: list[JSON] | None = None,
    ) -> JSON:
        return {
            "channel": channel,
            "ts": ts,
            "thread_ts": thread_ts,
            "text": text,
            "blocks": blocks,
            "user": user,
            "bot_id": bot_id,
            "subtype": subtype,
            "files": files,
            "unfurl_links": None,
            "unfurl_media": None,
            "markdown_text": "",
            "chunks": [],
            "streaming": False,
        }

    def _find(self, channel: str, ts: str) -> JSON | None:
        for message in self._messages:
            if message["channel"] == channel and message["ts"] == ts:
                return message
        return None

    def _replies_to(self, message: JSON) -> list[JSON]:
        return [
            other
            for other in self._messages
            if other["channel"] == message["channel"] and other["thread_ts"] == message["ts"] and other is not message
        ]

    def _has_replies(self, message: JSON) -> bool:
        return bool(self._replies_to(message))

    def _wire(self, message: JSON) -> JSON:
        """A stored message as Slack's APIs return it: a thread's parent with ``reply_count``,
        ``reply_users`` and ``latest_reply``; a bot's message without a user when it has none."""
        wire: JSON = {"type": "message", "text": message["text"], "ts": message["ts"]}
        if message["user"]:
            wire["user"] = message["user"]
        if message["subtype"] is not None:
            wire["subtype"] = message["subtype"]
        if message["bot_id"] is not None:
            wire.update(bot_id=message["bot_id"], app_id=APP_ID)
        if message["blocks"] is not None:
            wire["blocks"] = message["blocks"]
        if message["files"]:
            wire["files"] = message["files"]
        replies = self._replies_to(message) if message["thread_ts"] in (None, message["ts"]) else []
        thread_ts = message["thread_ts"] or (message["ts"] if replies else None)
        if thread_ts is not None:
            wire["thread_ts"] = thread_ts
        if replies:
            wire["reply_count"] = len(replies)
            wire["reply_users"] = sorted({str(r["user"]) for r in replies if r["user"]})
            wire["latest_reply"] = max((r["ts"] for r in replies), key=_ts_to_micros)
        wire["team"] = self.team_id
        return wire

    def _post(self, params: JSON) -> JSON:
        thread_ts = params.get("thread_ts") or None
        message = self._new_message(
            str(params["channel"]),
            self._next_ts(),
            text=str(params.get("text") or params.get("markdown_text") or ""),
            user=self.bot_user_id,
            thread_ts=None if thread_ts is None else str(thread_ts),
            bot_id=BOT_ID,
            blocks=params.get("blocks"),
        )
        self._messages.append(message)
        return message

    # ------------------------------------------------------------------ Web API methods

    def _auth_test(self, params: JSON) -> JSON:
        return {
            "ok": True,
            "url": "https://kura-test.slack.com/",
            "team": "Kura Test",
            "user": "kura",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _apps_connections_open(self, params: JSON) -> JSON:
        ticket = str(uuid.uuid4())
        self._tickets.add(ticket)
        return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/link/?ticket={ticket}&app_id={APP_ID}"}

    @staticmethod
    def _user_object(user: SlackUser, *, locale: bool = True) -> JSON:
        name = user.name or user.id.lower()
        profile: JSON = {"display_name": name, "real_name": name}
        if user.email is not None:
            profile["email"] = user.email
        found: JSON = {
            "id": user.id,
            "team_id": user.team_id,
            "name": name,
            "is_bot": user.is_bot,
            "deleted": False,
            "profile": profile,
        }
        if locale:
            found["locale"] = user.locale
        return found

    def _users_info(self, params: JSON) -> JSON:
        user = self.users.get(str(params.get("user", "")))
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": self._user_object(user)}

    def _users_list(self, params: JSON) -> JSON:
        """Every member of this workspace (not people of other organisations), paged; ``locale``
        only with ``include_locale``, as Slack does."""
        ours = [u for u in self.users.values() if u.team_id == self.team_id]
        paged = self._page(ours, params, default_limit=0)
        if paged is None:
            return {"ok": False, "error": "invalid_cursor"}
        page, next_cursor = paged
        locale = str(params.get("include_locale", "")).lower() in ("1", "true")
        return {
            "ok": True,
            "members": [self._user_object(u, locale=locale) for u in page],
            "cache_ts": 1_700_000_000,
            "response_metadata": {"next_cursor": next_cursor},
        }

    def _page(self, items: list[Any], params: JSON, default_limit: int) -> tuple[list[Any], str] | None:
        """One page of ``items`` and the next cursor ("" at the end); None for a cursor this fake never issued."""
        offset = _decode_cursor(str(params.get("cursor") or ""))
        if offset is None:
            return None
        limit = _as_int(params.get("limit"), default_limit)
        limit = default_limit if limit <= 0 else limit
        limit = len(items) if limit <= 0 else limit  # a default of 0: everything at once
        page = items[offset : offset + limit]
        end = offset + len(page)
        return page, _encode_cursor(end) if end < len(items) else ""

    def _conversations_members(self, params: JSON) -> JSON:
        members = self.channels.get(str(params.get("channel", "")))
        if members is None:
            return {"ok": False, "error": "channel_not_found"}
        paged = self._page(members, params, default_limit=100)
        if paged is None:
            return {"ok": False, "error": "invalid_cursor"}
        page, next_cursor = paged
        return {"ok": True, "members": page, "response_metadata": {"next_cursor": next_cursor}}

    def _conversations_info(self, params: JSON) -> JSON:
        """The conversation object's kind flags, as Slack sets them: a DM is ``is_im``; a group DM
        ``is_mpim`` and private; a private channel ``is_private``; a Slack Connect channel
        ``is_shared`` and ``is_ext_shared``. ``num_members`` with ``include_num_members``."""
        channel = str(params.get("channel", ""))
        if channel not in self.channels:
            return {"ok": False, "error": "channel_not_found"}
        is_im = channel.startswith("D")
        is_mpim = channel in self.group_dms
        shared = channel in self.shared
        found: JSON = {
            "id": channel,
            "name": channel.lower(),
            "is_channel": not (is_im or is_mpim),
            "is_group": False,
            "is_im": is_im,
            "is_mpim": is_mpim,
            "is_private": is_im or is_mpim or channel in self.private,
            "is_shared": shared,
            "is_ext_shared": shared,
            "is_org_shared": False,
            "is_pending_ext_shared": False,
            "context_team_id": self.team_id,
            "is_member": self.bot_user_id in self.channels[channel],
        }
        if str(params.get("include_num_members", "")).lower() in ("1", "true"):
            found["num_members"] = len(self.channels[channel])
        return {"ok": True, "channel": found}

    def _conversations_replies(self, params: JSON) -> JSON:
        channel, ts = str(params.get("channel", "")), str(params.get("ts", ""))
        parent = self._find(channel, ts)
        replies = [m for m in self._messages if m["channel"] == channel and m["thread_ts"] == ts and m is not parent]
        if parent is None and not replies:
            return {"ok": False, "error": "thread_not_found"}
        replies.sort(key=lambda m: _ts_to_micros(m["ts"]))
        thread = ([] if parent is None else [parent]) + replies
        paged = self._page(thread, params, default_limit=1000)
        if paged is None:
            return {"ok": False, "error": "invalid_cursor"}
        page, next_cursor = paged
        return {
            "ok": True,
            "messages": [self._wire(m) for m in page],
            "has_more": bool(next_cursor),
            "response_metadata": {"next_cursor": next_cursor},
        }

    def _conversations_history(self, params: JSON) -> JSON:
        """A channel's top-level messages (and replies broadcast to it), newest first, between
        ``oldest`` and ``latest`` (both left out unless ``inclusive``), paged by cursor. At most
        ``history_page_cap`` a page when set: Slack's 15 for non-Marketplace apps created after 2025-05-29."""
        channel = str(params.get("channel", ""))
        members = self.channels.get(channel)
        if members is None:
            return {"ok": False, "error": "channel_not_found"}
        if self.bot_user_id not in members:
            return {"ok": False, "error": "not_in_channel"}
        oldest = _ts_to_micros(str(params.get("oldest") or "0"))
        latest_param = params.get("latest")
        latest = _ts_to_micros(str(latest_param)) if latest_param else None
        inclusive = str(params.get("inclusive", "")).lower() in ("1", "true")

        def inside(message: JSON) -> bool:
            at = _ts_to_micros(message["ts"])
            after = at >= oldest if inclusive else at > oldest
            before = latest is None or (at <= latest if inclusive else at < latest)
            return after and before

        top = [
            m
            for m in self._messages
            if m["channel"] == channel
            and (m["thread_ts"] in (None, m["ts"]) or m["subtype"] == "thread_broadcast")
            and inside(m)
        ]
        top.sort(key=lambda m: _ts_to_micros(m["ts"]), reverse=True)
        limit = min(max(_as_int(params.get("limit"), 100), 1), 999)
        if self.history_page_cap is not None:
            limit = min(limit, self.history_page_cap)
        paged = self._page(top, params | {"limit": limit}, default_limit=100)
        if paged is None:
            return {"ok": False, "error": "invalid_cursor"}
        page, next_cursor = paged
        return {
            "ok": True,
            "messages": [self._wire(m) for m in page],
            "has_more": bool(next_cursor),
            "pin_count": 0,
            "response_metadata": {"next_cursor": next_cursor},
        }

    def _chat_post_message(self, params: JSON) -> JSON:
        if not params.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if not (params.get("text") or params.get("blocks") or params.get("attachments") or params.get("markdown_text")):
            return {"ok": False, "error": "no_text"}
        message = self._post(params)
        message["unfurl_links"] = params.get("unfurl_links")
        message["unfurl_media"] = params.get("unfurl_media")
        return {"ok": True, "channel": message["channel"], "ts": message["ts"], "message": self._wire(message)}

    def _chat_update(self, params: JSON) -> JSON:
        message = self._find(str(params.get("channel", "")), str(params.get("ts", "")))
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        if "text" in params:
            message["text"] = str(params["text"])
        if "blocks" in params:
            message["blocks"] = params["blocks"]
        return {
            "ok": True,
            "channel": message["channel"],
            "ts": message["ts"],
            "text": message["text"],
            "message": self._wire(message),
        }

    def _chat_delete(self, params: JSON) -> JSON:
        message = self._find(str(params.get("channel", "")), str(params.get("ts", "")))
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        if message["user"] != self.bot_user_id:
            return {"ok": False, "error": "cant_delete_message"}
        self._messages.remove(message)
        return {"ok": True, "channel": message["channel"], "ts": message["ts"]}

    def _conversations_open(self, params: JSON) -> JSON:
        """A DM with one user: ``D`` + their id, a channel of the two of them (made on first use)."""
        users = [u for u in str(params.get("users", "")).split(",") if u]
        if len(users) != 1 or users[0] not in self.users:
            return {"ok": False, "error": "user_not_found"}
        channel = "D" + users[0].removeprefix("U")
        self.channels.setdefault(channel, [users[0], self.bot_user_id])
        return {"ok": True, "channel": {"id": channel, "is_im": True}}

    def _users_lookup_by_email(self, params: JSON) -> JSON:
        email = str(params.get("email", "")).lower()
        for user in self.users.values():
            if user.email is not None and user.email.lower() == email:
                return self._users_info({"user": user.id})
        return {"ok": False, "error": "users_not_found"}

    def _chat_post_ephemeral(self, params: JSON) -> JSON:
        if not params.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        return {"ok": True, "message_ts": self._next_ts()}

    def _chat_start_stream(self, params: JSON) -> JSON:
        if not params.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        message = self._post(params)
        message["text"] = ""
        self._extend_stream(message, params)
        message["streaming"] = True
        return {"ok": True, "channel": message["channel"], "ts": message["ts"]}

    @staticmethod
    def _stream_text(params: JSON) -> str:
        """The markdown a stream call adds: ``markdown_text`` then the text of any ``markdown_text`` chunks.

        (slack_sdk's ``chat_stream`` helper sends its buffer as chunks, never as ``markdown_text``.)
        """
        text = str(params.get("markdown_text") or "")
        chunks = params.get("chunks")
        if isinstance(chunks, list):
            text += "".join(
                str(chunk.get("text", ""))
                for chunk in chunks
                if isinstance(chunk, dict) and chunk.get("type") == "markdown_text"
            )
        return text

    def _extend_stream(self, message: JSON, params: JSON) -> None:
        message["markdown_text"] += self._stream_text(params)
        message["text"] = message["markdown_text"]
        chunks = params.get("chunks")
        if isinstance(chunks, list):
            message["chunks"].extend(chunks)

    def _streaming_message(self, params: JSON) -> JSON | str:
        message = self._find(str(params.get("channel", "")), str(params.get("ts", "")))
        if message is None:
            return "message_not_found"
        if not message["streaming"]:
            return "message_not_in_streaming_state"
        return message

    def _chat_append_stream(self, params: JSON) -> JSON:
        message = self._streaming_message(params)
        if isinstance(message, str):
            return {"ok": False, "error": message}
        self._extend_stream(message, params)
        return {"ok": True, "channel": message["channel"], "ts": message["ts"]}

    def _chat_stop_stream(self, params: JSON) -> JSON:
        message = self._streaming_message(params)
        if isinstance(message, str):
            return {"ok": False, "error": message}
        self._extend_stream(message, params)
        if "blocks" in params:
            message["blocks"] = params["blocks"]
        message["streaming"] = False
        return {"ok": True, "channel": message["channel"], "ts": message["ts"], "message": self._wire(message)}

    def _views_open(self, params: JSON) -> JSON:
        """A modal opened on a click: the trigger id of an interactive payload (once only), and a
        modal with a title and blocks; the opened view (with its id and an empty state) is kept."""
        trigger, view = str(params.get("trigger_id") or ""), params.get("view")
        if trigger not in self._triggers:
            return {"ok": False, "error": "invalid_trigger_id"}
        self._triggers.discard(trigger)
        if not isinstance(view, dict) or view.get("type") != "modal" or not view.get("title") or not view.get("blocks"):
            return {"ok": False, "error": "invalid_arguments"}
        view_id = "V" + uuid.uuid4().hex[:10].upper()
        opened: JSON = {
            "private_metadata": "",
            "callback_id": "",
            **view,
            "id": view_id,
            "team_id": self.team_id,
            "app_id": APP_ID,
            "bot_id": BOT_ID,
            "state": {"values": {}},
            "hash": uuid.uuid4().hex[:16],
            "root_view_id": view_id,
            "previous_view_id": None,
        }
        self.views[view_id] = opened
        return {"ok": True, "view": opened}

    def _assistant_threads_set_status(self, params: JSON) -> JSON:
        if not params.get("channel_id") or not params.get("thread_ts"):
            return {"ok": False, "error": "invalid_arguments"}
        return {"ok": True}
