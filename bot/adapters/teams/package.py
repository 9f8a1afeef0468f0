"""The Teams app package an administrator uploads: ``manifest.json``, two icons, a ja-jp localization.

Only the standard library: the manifest is data, the icons are drawn pixel by pixel and written with
a small PNG encoder (zlib + struct), so ``kura teams package`` needs no image library. The manifest
asks for exactly what the adapter uses: a bot in personal, team and group-chat scopes, no files, no
tabs, no single sign-on (``webApplicationInfo``) and the two resource-specific permissions below.
"""

from __future__ import annotations

import io
import json
import re
import struct
import uuid
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "COMMANDS",
    "MANIFEST_VERSION",
    "SCHEMA_URL",
    "PackageOptions",
    "app_version_of",
    "build_manifest",
    "color_icon",
    "outline_icon",
    "png",
    "write_package",
]

#: The newest manifest schema we could verify in Microsoft's published docs (v1.22).
MANIFEST_VERSION = "1.22"
SCHEMA_URL = f"https://developer.microsoft.com/json-schemas/teams/v{MANIFEST_VERSION}/MicrosoftTeams.schema.json"
LOCALIZATION_SCHEMA_URL = (
    f"https://developer.microsoft.com/json-schemas/teams/v{MANIFEST_VERSION}/MicrosoftTeams.Localization.schema.json"
)
SCOPES = ("personal", "team", "groupChat")
ACCENT = "#2F5D62"
_ACCENT_RGB = (0x2F, 0x5D, 0x62)
# The manifest's own pattern for ``version``: three dot-separated numbers, no leading zeros.
_VERSION = re.compile(r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$")
# A bare host name (what ``validDomains`` takes for us): labels of letters, digits and hyphens, no
# scheme, port, path, user info or wildcard, so a typo can never whitelist more than one host.
_HOST = re.compile(r"^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+$")

#: The admin commands Kura answers (bot/core/admin.py), as the bot's command menu: (title, description).
#: Schema limits: title ≤ 32 characters, description ≤ 128, at most 10 commands per list.
COMMANDS: tuple[tuple[str, str], ...] = (
    ("help", "List Kura's admin commands (admins only)"),
    ("status", "Model, database, index size, requests in progress, schedules"),
    ("sources", "Knowledge sources with document counts and last sync"),
    ("sync", "Re-ingest one source, or all known sources"),
    ("policy explain", "A policy decision for a user, and every rule that fired"),
    ("audit verify", "Check the audit hash chain"),
    ("audit recent", "The last 10 audit records (needs the audit_export action)"),
    ("schedule list", "Scheduled jobs with their last run and last failure"),
)

_TEXT = {
    "en": {
        "name.short": "Kura",
        "name.full": "Kura: answers from your documents",
        "description.short": "Cited answers from internal documents, with your permissions enforced.",
        "description.full": (
            "Kura answers questions from your organisation's internal documents with a model that runs "
            "on your own servers. Every answer cites its sources, only documents you may read are used, "
            "policy decides who may ask what, and every exchange is kept in a tamper-evident audit log."
        ),
    },
    "ja": {
        "name.short": "Kura",
        "name.full": "Kura: 社内文書からの回答",
        "description.short": "社内文書から出典付きで回答します。閲覧権限は常に守られます。",
        "description.full": (
            "Kura は、自社サーバー上で動くモデルを使い、社内文書に基づいて質問に答えます。"
            "回答には必ず出典が付き、あなたが閲覧できる文書だけが使われます。"
            "誰が何を尋ねられるかはポリシーで決まり、すべてのやり取りは改ざん検知可能な監査ログに残ります。"
        ),
    },
}


@dataclass(frozen=True)
class PackageOptions:
    """What the operator chooses; everything else is fixed by what Kura's adapter supports."""

    bot_id: str
    app_version: str
    host: str | None = None
    developer_name: str = "Kura operator"
    website_url: str | None = None
    privacy_url: str | None = None
    terms_url: str | None = None

    def __post_init__(self) -> None:
        if not self.bot_id.strip():
            raise ValueError("the bot id is empty")
        if not _VERSION.fullmatch(self.app_version):
            raise ValueError(f"app version {self.app_version!r} is not MAJOR.MINOR.PATCH (e.g. 1.0.0)")
        if self.host is not None and not _HOST.fullmatch(self.host):
            raise ValueError(f"host {self.host!r} is not a bare host name (like kura.example.com)")
        if not 1 <= len(self.developer_name.strip()) <= 32:  # the schema's limit for developer.name
            raise ValueError("the developer name must be 1 to 32 characters")
        for url in (self.website_url, self.privacy_url, self.terms_url):
            if url is not None and not re.fullmatch(r"https://[^\s\"<>]+", url):
                raise ValueError(f"{url!r} is not an https:// URL")

    @property
    def app_id(self) -> str:
        """A stable GUID for the app: the same bot id always gives the same app, so re-uploads update it."""
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"urn:kura:teams-app:{self.bot_id.strip()}"))


def app_version_of(package_version: str) -> str:
    """Kura's package version as the manifest's MAJOR.MINOR.PATCH (drops pre-release or local parts)."""
    match = re.match(r"^(\d+)(?:\.(\d+))?(?:\.(\d+))?", package_version)
    if not match:
        return "0.0.0"
    return ".".join(str(int(part or 0)) for part in match.groups())


def build_manifest(options: PackageOptions) -> tuple[dict[str, object], dict[str, object]]:
    """The manifest and its ja-jp localization file."""
    base = f"https://{options.host}" if options.host else "https://example.com/kura"
    en = _TEXT["en"]
    manifest: dict[str, object] = {
        "$schema": SCHEMA_URL,
        "manifestVersion": MANIFEST_VERSION,
        "version": options.app_version,
        "id": options.app_id,
        "developer": {
            "name": options.developer_name.strip(),
            "websiteUrl": options.website_url or base,
            "privacyUrl": options.privacy_url or f"{base}/privacy",
            "termsOfUseUrl": options.terms_url or f"{base}/terms",
        },
        "name": {"short": en["name.short"], "full": en["name.full"]},
        "description": {"short": en["description.short"], "full": en["description.full"]},
        "icons": {"color": "color.png", "outline": "outline.png"},
        "accentColor": ACCENT,
        "localizationInfo": {
            "defaultLanguageTag": "en-us",
            "additionalLanguages": [{"languageTag": "ja-jp", "file": "ja-jp.json"}],
        },
        "bots": [
            {
                "botId": options.bot_id.strip(),
                "scopes": list(SCOPES),
                "supportsFiles": False,
                "isNotificationOnly": False,
                "commandLists": [
                    {
                        "scopes": list(SCOPES),
                        "commands": [{"title": title, "description": text} for title, text in COMMANDS],
                    }
                ],
            }
        ],
        "permissions": ["identity", "messageTeamMembers"],
        "validDomains": [options.host] if options.host else [],
    }
    localization: dict[str, object] = {"$schema": LOCALIZATION_SCHEMA_URL, **_TEXT["ja"]}
    return manifest, localization


def png(width: int, height: int, pixel: Callable[[int, int], tuple[int, int, int, int]]) -> bytes:
    """An 8-bit RGBA PNG of ``pixel(x, y)``: signature, IHDR, one IDAT, IEND (filter 0 per row)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = bytearray()
    for y in range(height):
        rows.append(0)
        for x in range(width):
            rows.extend(pixel(x, y))
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + chunk(b"IEND", b"")
    )


def _in_k(u: float, v: float) -> bool:
    """Whether (u, v) in the unit square lies on a "K": a stem and two arms meeting left of centre."""
    if not (0.0 <= u <= 1.0 and 0.0 <= v <= 1.0):
        return False
    if u <= 0.22:
        return True
    half_width = 0.16
    # Each arm runs from the stem at mid-height to a top or bottom corner on the right.
    target = 0.2 + (0.5 - v) / 0.5 * 0.8 if v <= 0.5 else 0.2 + (v - 0.5) / 0.5 * 0.8
    return abs(u - target) <= half_width and u >= 0.15


def color_icon() -> bytes:
    """192×192: a white K on the accent colour (the full-colour icon Teams shows in the store)."""
    size, margin = 192, 44

    def pixel(x: int, y: int) -> tuple[int, int, int, int]:
        if _in_k((x - margin) / (size - 2 * margin), (y - margin) / (size - 2 * margin)):
            return (255, 255, 255, 255)
        return (*_ACCENT_RGB, 255)

    return png(size, size, pixel)


def outline_icon() -> bytes:
    """32×32: a white K on transparent, as Teams requires for the outline icon (no other colours)."""
    size, margin = 32, 5

    def pixel(x: int, y: int) -> tuple[int, int, int, int]:
        if _in_k((x - margin) / (size - 2 * margin), (y - margin) / (size - 2 * margin)):
            return (255, 255, 255, 255)
        return (0, 0, 0, 0)

    return png(size, size, pixel)


def write_package(options: PackageOptions, out: Path) -> tuple[dict[str, object], list[str]]:
    """Write the zip (every file at the top level, as Teams requires) and return the manifest and names."""
    manifest, localization = build_manifest(options)
    files = {
        "manifest.json": json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8"),
        "ja-jp.json": json.dumps(localization, ensure_ascii=False, indent=2).encode("utf-8"),
        "color.png": color_icon(),
        "outline.png": outline_icon(),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            # A fixed date keeps the package byte-identical for the same inputs.
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    # Written beside the target and renamed, so a failed run never leaves half a package.
    partial = out.with_name(out.name + ".partial")
    partial.write_bytes(buffer.getvalue())
    partial.replace(out)
    return manifest, list(files)
