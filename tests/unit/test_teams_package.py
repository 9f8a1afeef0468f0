"""The Teams app package: exactly the scopes and permissions used, limits kept, valid icons, flat zip."""

from __future__ import annotations

import json
import re
import struct
import zipfile
import zlib
from pathlib import Path

import pytest

from bot.adapters.teams.package import (
    COMMANDS,
    MANIFEST_VERSION,
    PackageOptions,
    app_version_of,
    build_manifest,
    color_icon,
    outline_icon,
    write_package,
)

pytestmark = pytest.mark.unit

BOT = "11111111-2222-3333-4444-555555555555"


def _bot(manifest: dict[str, object]) -> dict[str, object]:
    bots = manifest["bots"]
    assert isinstance(bots, list)
    assert 1 == len(bots)
    bot: dict[str, object] = bots[0]
    return bot


def _decode_png(data: bytes) -> tuple[int, int, list[tuple[int, ...]]]:
    """Width, height and RGBA pixels, checking signature, chunk CRCs and the IHDR (8-bit RGBA)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    kinds: list[bytes] = []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF
        kinds.append(kind)
        header = body if kind == b"IHDR" else header
        idat += body if kind == b"IDAT" else b""
        pos += 12 + length
    assert kinds[0] == b"IHDR"
    assert kinds[-1] == b"IEND"
    width, height, depth, colour, _, _, _ = struct.unpack(">IIBBBBB", header)
    assert (depth, colour) == (8, 6)
    raw = zlib.decompress(idat)
    stride = 1 + 4 * width
    assert len(raw) == stride * height
    pixels = []
    for y in range(height):
        row = raw[y * stride : (y + 1) * stride]
        assert row[0] == 0  # filter none: the writer never uses another
        pixels += [tuple(row[1 + 4 * x : 5 + 4 * x]) for x in range(width)]
    return width, height, pixels


def test_manifest_has_exactly_the_scopes_permissions_and_bot_id() -> None:
    manifest, _ = build_manifest(PackageOptions(bot_id=BOT, app_version="0.1.0"))
    assert (
        manifest["$schema"]
        == f"https://developer.microsoft.com/json-schemas/teams/v{MANIFEST_VERSION}/MicrosoftTeams.schema.json"
    )
    assert manifest["manifestVersion"] == MANIFEST_VERSION
    bot = _bot(manifest)
    assert bot["botId"] == BOT
    assert ["personal", "team", "groupChat"] == bot["scopes"]
    assert bot["supportsFiles"] is False
    assert bot["isNotificationOnly"] is False
    assert ["identity", "messageTeamMembers"] == manifest["permissions"]
    assert "webApplicationInfo" not in manifest  # no single sign-on: nothing asks for it yet
    assert [] == manifest["validDomains"]


def test_app_id_is_a_stable_guid_per_bot() -> None:
    first = PackageOptions(bot_id=BOT, app_version="1.0.0").app_id
    assert first == PackageOptions(bot_id=f" {BOT} ", app_version="2.3.4").app_id
    assert first != PackageOptions(bot_id="another-bot", app_version="1.0.0").app_id
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", first)


def test_command_titles_and_descriptions_within_the_schema_limits() -> None:
    manifest, _ = build_manifest(PackageOptions(bot_id=BOT, app_version="0.1.0"))
    lists = _bot(manifest)["commandLists"]
    assert isinstance(lists, list)
    assert 1 == len(lists)
    commands = lists[0]["commands"]
    assert 1 <= len(commands) <= 10
    titles = [c["title"] for c in commands]
    assert len(set(titles)) == len(titles)
    for command in commands:
        assert 1 <= len(command["title"]) <= 32
        assert 1 <= len(command["description"]) <= 128
    assert {"help", "status", "sources", "audit verify"} <= {t for t, _ in COMMANDS}


def test_name_and_description_within_limits_in_both_languages() -> None:
    manifest, ja = build_manifest(PackageOptions(bot_id=BOT, app_version="0.1.0"))
    name, description = manifest["name"], manifest["description"]
    assert isinstance(name, dict)
    assert isinstance(description, dict)
    for short, full, _text in ((name["short"], name["full"], description), (ja["name.short"], ja["name.full"], None)):
        assert isinstance(short, str)
        assert isinstance(full, str)
        assert len(short) <= 30
        assert len(full) <= 100
    assert len(description["short"]) <= 80
    assert len(description["full"]) <= 4000
    assert isinstance(ja["description.short"], str)
    assert len(ja["description.short"]) <= 80
    assert str(ja["$schema"]).endswith("/MicrosoftTeams.Localization.schema.json")
    info = manifest["localizationInfo"]
    assert info == {
        "defaultLanguageTag": "en-us",
        "additionalLanguages": [{"languageTag": "ja-jp", "file": "ja-jp.json"}],
    }


@pytest.mark.parametrize(
    ("given", "expected"),
    [("0.1.0", "0.1.0"), ("1.2.3.dev4", "1.2.3"), ("2.0rc1", "2.0.0"), ("3", "3.0.0"), ("01.002.0", "1.2.0")],
)
def test_package_version_becomes_a_manifest_version(given: str, expected: str) -> None:
    assert expected == app_version_of(given)


@pytest.mark.parametrize("bad", ["1.0", "1.0.0-beta", "01.0.0", "1.0.0\n", " 1.0.0", "v1.0.0", ""])
def test_bad_app_versions_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match=r"MAJOR\.MINOR\.PATCH"):
        PackageOptions(bot_id=BOT, app_version=bad)


@pytest.mark.parametrize(
    "bad",
    [
        "https://kura.example.com",
        "kura.example.com/api",
        "*.example.com",
        "kura.example.com:443",
        "user@kura.example.com",
        "localhost",
        "-bad.example.com",
        "kura.example.com\n",
        "KURA..example.com",
        "a" * 64 + ".example.com",
    ],
)
def test_host_must_be_a_bare_host_name(bad: str) -> None:
    """validDomains lets Teams trust a host: never a wildcard, path or smuggled second value."""
    with pytest.raises(ValueError, match="host"):
        PackageOptions(bot_id=BOT, app_version="1.0.0", host=bad)


def test_host_goes_into_valid_domains_and_urls() -> None:
    manifest, _ = build_manifest(PackageOptions(bot_id=BOT, app_version="1.0.0", host="kura.example.com"))
    assert ["kura.example.com"] == manifest["validDomains"]
    developer = manifest["developer"]
    assert isinstance(developer, dict)
    assert all(str(url).startswith("https://kura.example.com") for k, url in developer.items() if k.endswith("Url"))


@pytest.mark.parametrize("bad", ["http://example.com/privacy", "javascript:alert(1)", "https://a b", ""])
def test_developer_urls_must_be_https(bad: str) -> None:
    with pytest.raises(ValueError, match="https"):
        PackageOptions(bot_id=BOT, app_version="1.0.0", privacy_url=bad)


def test_blank_bot_id_is_refused() -> None:
    with pytest.raises(ValueError, match="bot id"):
        PackageOptions(bot_id="  ", app_version="1.0.0")


def test_color_icon_is_a_192_png_with_a_white_glyph() -> None:
    width, height, pixels = _decode_png(color_icon())
    assert (width, height) == (192, 192)
    assert all(p[3] == 255 for p in pixels)  # opaque
    assert (255, 255, 255, 255) in pixels
    assert len(set(pixels)) == 2


def test_outline_icon_is_a_32_png_white_on_transparent() -> None:
    width, height, pixels = _decode_png(outline_icon())
    assert (width, height) == (32, 32)
    assert set(pixels) == {(255, 255, 255, 255), (0, 0, 0, 0)}
    assert 40 <= pixels.count((255, 255, 255, 255)) <= 600  # a visible glyph, not a filled square


def test_zip_has_every_file_at_the_top_level(tmp_path: Path) -> None:
    out = tmp_path / "kura-teams.zip"
    manifest, files = write_package(PackageOptions(bot_id=BOT, app_version="1.0.0"), out)
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        assert sorted(names) == sorted(["manifest.json", "ja-jp.json", "color.png", "outline.png"]) == sorted(files)
        assert json.loads(archive.read("manifest.json")) == manifest
        icons = manifest["icons"]
        assert isinstance(icons, dict)
        assert {icons["color"], icons["outline"]} <= set(names)
        assert "ja-jp.json" in names
    assert not (tmp_path / "kura-teams.zip.partial").exists()
    first = out.read_bytes()
    write_package(PackageOptions(bot_id=BOT, app_version="1.0.0"), out)
    assert first == out.read_bytes()  # reproducible: same inputs, same bytes


@pytest.mark.parametrize("bad", ["", "   ", "x" * 33])
def test_developer_name_within_the_schema_limit(bad: str) -> None:
    with pytest.raises(ValueError, match="developer name"):
        PackageOptions(bot_id=BOT, app_version="1.0.0", developer_name=bad)
