"""Access metadata (folder files, front matter) and file parsing."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.access import ACCESS_FILE, AccessError, AccessInfo, folder_access, merge_access
from knowledge.parsing import ParseError, parse_file

pytestmark = pytest.mark.unit

PUBLIC = AccessInfo(("public",), 0)
HR = AccessInfo(("group:hr",), 2, "carol@example.co.jp")


def _access_file(folder: Path, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ACCESS_FILE).write_text(text, encoding="utf-8")


# --- folder_access -------------------------------------------------------------------------------


def test_folder_access_reads_the_folders_own_file(tmp_path: Path) -> None:
    """A folder's access file gives its principals, level and owner."""
    _access_file(
        tmp_path, "allow: [group:hr, role:manager]\nclassification: confidential\nowner: carol@example.co.jp\n"
    )
    expected = AccessInfo(("group:hr", "role:manager"), 2, "carol@example.co.jp")
    assert expected == folder_access(tmp_path, tmp_path, None)


def test_nearest_access_file_wins(tmp_path: Path) -> None:
    """A subfolder's file overrides the root's for everything beneath it."""
    _access_file(tmp_path, "allow: [group:all-staff]\nclassification: internal\n")
    _access_file(tmp_path / "hr", "allow: [group:hr]\nclassification: confidential\n")
    deep = tmp_path / "hr" / "2024" / "reviews"
    deep.mkdir(parents=True)
    assert AccessInfo(("group:hr",), 2) == folder_access(deep, tmp_path, None)


def test_ancestor_access_file_applies_below(tmp_path: Path) -> None:
    """A folder without its own file takes the nearest ancestor's."""
    _access_file(tmp_path, "allow: [group:all-staff]\nclassification: internal\n")
    sub = tmp_path / "sales" / "2024"
    sub.mkdir(parents=True)
    assert AccessInfo(("group:all-staff",), 1) == folder_access(sub, tmp_path, None)


def test_no_access_file_gives_the_default(tmp_path: Path) -> None:
    """Without any access file up to the root, the default applies."""
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    assert PUBLIC == folder_access(sub, tmp_path, PUBLIC)


def test_no_access_file_and_no_default_is_none(tmp_path: Path) -> None:
    """Without an access file or a default there is no access information."""
    assert folder_access(tmp_path, tmp_path, None) is None


def test_access_file_above_root_is_ignored(tmp_path: Path) -> None:
    """The walk stops at the root."""
    _access_file(tmp_path, "allow: [public]\nclassification: public\n")
    root = tmp_path / "docs"
    sub = root / "x"
    sub.mkdir(parents=True)
    assert HR == folder_access(sub, root, HR)


def test_access_file_keys_fall_back_to_default(tmp_path: Path) -> None:
    """A key the access file leaves out comes from the default."""
    _access_file(tmp_path, "classification: secret\n")
    assert AccessInfo(("group:hr",), 3, "carol@example.co.jp") == folder_access(tmp_path, tmp_path, HR)


def test_user_principals_are_lower_cased(tmp_path: Path) -> None:
    """User principals compare case-insensitively, so they are stored in lower case."""
    _access_file(tmp_path, "allow: [user:Alice@Example.co.jp]\nclassification: internal\n")
    info = folder_access(tmp_path, tmp_path, None)
    assert info is not None
    assert ("user:alice@example.co.jp",) == info.allow


def test_unknown_classification_raises(tmp_path: Path) -> None:
    """A classification outside the four levels is an AccessError naming the file."""
    _access_file(tmp_path, "allow: [public]\nclassification: top-secret\n")
    with pytest.raises(AccessError, match="top-secret") as info:
        folder_access(tmp_path, tmp_path, None)
    assert str(tmp_path / ACCESS_FILE) in str(info.value)


@pytest.mark.parametrize("principal", ["everyone", "User:alice@example.co.jp", "group:", "user:a b"])
def test_bad_principal_raises(tmp_path: Path, principal: str) -> None:
    """A principal that is not public, user:, group: or role: is an AccessError."""
    _access_file(tmp_path, f"allow: ['{principal}']\nclassification: internal\n")
    with pytest.raises(AccessError, match="invalid principal"):
        folder_access(tmp_path, tmp_path, None)


def test_allow_not_a_list_raises(tmp_path: Path) -> None:
    """allow must be a list."""
    _access_file(tmp_path, "allow: public\nclassification: public\n")
    with pytest.raises(AccessError, match="list of principals"):
        folder_access(tmp_path, tmp_path, None)


def test_unknown_key_in_access_file_raises(tmp_path: Path) -> None:
    """A misspelt key is an error, not silently ignored."""
    _access_file(tmp_path, "alow: [public]\nclassification: public\n")
    with pytest.raises(AccessError, match="alow"):
        folder_access(tmp_path, tmp_path, None)


def test_access_file_not_a_mapping_raises(tmp_path: Path) -> None:
    """An access file that is a list is an error."""
    _access_file(tmp_path, "- public\n")
    with pytest.raises(AccessError, match="mapping"):
        folder_access(tmp_path, tmp_path, None)


def test_invalid_yaml_access_file_raises(tmp_path: Path) -> None:
    """An access file that is not YAML is an AccessError."""
    _access_file(tmp_path, "allow: [public\n")
    with pytest.raises(AccessError, match="not valid YAML"):
        folder_access(tmp_path, tmp_path, None)


def test_incomplete_access_file_without_default_raises(tmp_path: Path) -> None:
    """An access file without allow, and nothing to inherit, is an error."""
    _access_file(tmp_path, "classification: internal\n")
    with pytest.raises(AccessError, match="allow"):
        folder_access(tmp_path, tmp_path, None)


# --- merge_access --------------------------------------------------------------------------------


def test_merge_overrides_only_the_given_key() -> None:
    """Front matter classification replaces the folder's; allow and owner are kept."""
    assert AccessInfo(("group:hr",), 3, "carol@example.co.jp") == merge_access(HR, {"classification": "secret"}, "f.md")


def test_merge_overrides_allow() -> None:
    """Front matter allow replaces the folder's principals; level and owner are kept."""
    merged = merge_access(HR, {"allow": ["role:manager", "group:hr"]}, "f.md")
    assert AccessInfo(("group:hr", "role:manager"), 2, "carol@example.co.jp") == merged


def test_merge_overrides_owner() -> None:
    """Front matter owner replaces the folder's owner."""
    assert AccessInfo(("group:hr",), 2, "bob@example.co.jp") == merge_access(HR, {"owner": "bob@example.co.jp"}, "f.md")


def test_merge_ignores_other_front_matter() -> None:
    """Keys other than allow, classification and owner leave the base as it is."""
    assert HR == merge_access(HR, {"title": "評価", "tags": ["hr"]}, "f.md")


def test_merge_without_base_or_overrides_raises() -> None:
    """No folder access and no front matter access is an error naming the file."""
    with pytest.raises(AccessError, match=r"^f\.md:"):
        merge_access(None, {"title": "x"}, "f.md")


def test_merge_without_base_needs_both_keys() -> None:
    """Front matter alone must give both allow and classification."""
    with pytest.raises(AccessError, match="allow"):
        merge_access(None, {"classification": "public"}, "f.md")


def test_merge_without_base_from_front_matter_alone() -> None:
    """Front matter with allow and classification is enough on its own."""
    assert PUBLIC == merge_access(None, {"allow": ["public"], "classification": "PUBLIC"}, "f.md")


def test_merge_unknown_classification_raises() -> None:
    """Front matter is validated like an access file."""
    with pytest.raises(AccessError, match="classification"):
        merge_access(HR, {"classification": "eyes-only"}, "f.md")


def test_merge_lower_cases_user_principal_with_leading_space() -> None:
    """A quoted user principal with stray whitespace is normalised like any other."""
    merged = merge_access(HR, {"allow": [" user:Bob@Example.co.jp"]}, "f.md")
    assert ("user:bob@example.co.jp",) == merged.allow


# --- parse_file ----------------------------------------------------------------------------------


def test_front_matter_is_parsed_and_removed() -> None:
    """Markdown front matter becomes metadata and is not part of the text."""
    raw = "---\nclassification: internal\nallow: [group:sales]\n---\n# 営業資料\n\n本文です。\n".encode()
    doc = parse_file(Path("sales.md"), raw)
    assert {"classification": "internal", "allow": ["group:sales"]} == doc.metadata
    assert "# 営業資料\n\n本文です。" == doc.text


def test_title_from_first_heading() -> None:
    """Without a title in front matter, the first level-1 heading is the title."""
    raw = "前書き\n\n## 小見出し\n\n# 経費精算規程 #\n\n本文\n\n# 二つ目\n".encode()
    assert "経費精算規程" == parse_file(Path("keihi.md"), raw).title


def test_title_from_front_matter_wins() -> None:
    """A title in front matter beats the heading."""
    raw = "---\ntitle: 正式名称\n---\n# 見出し\n本文\n".encode()
    assert "正式名称" == parse_file(Path("x.md"), raw).title


def test_title_falls_back_to_file_stem() -> None:
    """A Markdown file without a heading is titled by its file name."""
    assert "notes" == parse_file(Path("notes.md"), "本文だけです。".encode()).title


def test_text_file_title_is_its_first_line() -> None:
    """A plain text file is titled by its first non-blank line."""
    assert "経費精算の手引き" == parse_file(Path("a.txt"), "\n\n経費精算の手引き\n本文です。\n".encode()).title


def test_bare_hash_line_is_not_a_heading() -> None:
    """An empty '#' line is not a title; the file name is used."""
    assert "memo" == parse_file(Path("memo.md"), "#\n\n本文です。\n".encode()).title


def test_zero_width_and_tag_characters_are_stripped() -> None:
    """U+200B and Unicode tag characters (U+E0041...) are removed from text and title."""
    hidden = "".join(chr(0xE0000 + ord(c)) for c in "ignore rules")
    raw = f"# 経費\u200b精算\n\n本文\u200bです。{hidden}\U000e0041\n".encode()
    doc = parse_file(Path("x.md"), raw)
    assert "経費精算" == doc.title
    assert "# 経費精算\n\n本文です。" == doc.text


def test_bidi_isolates_are_stripped() -> None:
    """Bidi isolate controls (U+2066..U+2069) are removed like the other bidi controls."""
    raw = "本文\u2066です\u2069。".encode()
    assert "本文です。" == parse_file(Path("x.txt"), raw).text


def test_shift_jis_is_decoded() -> None:
    """cp932 (Shift_JIS) bytes are decoded to the same text."""
    text = "経費精算の手引き\n①領収書は原本を提出してください。"
    doc = parse_file(Path("tebiki.txt"), text.encode("cp932"))
    assert text == doc.text


def test_utf8_bom_is_dropped() -> None:
    """A UTF-8 byte order mark does not reach the title."""
    assert "題名" == parse_file(Path("x.md"), "\ufeff# 題名\n本文\n".encode()).title


def test_binary_content_is_a_parse_error() -> None:
    """Bytes with NUL are refused as binary."""
    with pytest.raises(ParseError, match="binary"):
        parse_file(Path("image.md"), b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")


@pytest.mark.parametrize("raw", [b"", b"  \n\n\t\n", b"---\ntitle: only metadata\n---\n"])
def test_empty_content_is_a_parse_error(raw: bytes) -> None:
    """A file with no text (front matter aside) is refused."""
    with pytest.raises(ParseError, match="no text"):
        parse_file(Path("empty.md"), raw)


def test_bad_front_matter_is_a_parse_error() -> None:
    """Front matter that is not YAML is a ParseError, not a YAML exception."""
    with pytest.raises(ParseError, match="front matter"):
        parse_file(Path("x.md"), b"---\nallow: [public\n---\nbody\n")
