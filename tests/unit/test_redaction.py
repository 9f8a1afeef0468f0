"""PII redaction: each kind with its near-misses, spans in the original text and linear time.
The logging filter: test_redaction_log.py; the forms added for Japanese text: test_redaction_forms.py."""

from __future__ import annotations

import itertools
import time
import unicodedata

import pytest

from bot.redaction import KINDS, Finding, find_pii, redact
from tests.hang import HANG_S
from tests.pii import VALID_MY_NUMBER, kinds_in, luhn_valid, my_number

pytestmark = pytest.mark.unit


# --- email -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("taro@example.co.jp", "[EMAIL]"),
        ("連絡先はtaro.yamada+kura@mail.example.co.jpまで", "連絡先は[EMAIL]まで"),
        ("taro＠example.com", "[EMAIL]"),
        ("Mail: <hanako_s@sub.example-corp.com>.", "Mail: <[EMAIL]>."),
    ],
)
def test_email_is_redacted(text: str, expected: str) -> None:
    """Addresses with dots, plus tags, subdomains and a full-width ＠ are redacted."""
    assert expected == redact(text)


@pytest.mark.parametrize("text", ["@channel 明日の会議", "<@U024BE7LH> さん", "user@localhost", "example.co.jp", "a@b"])
def test_email_near_misses_are_kept(text: str) -> None:
    """Mentions, hosts without a TLD and bare domains are not emails."""
    assert text == redact(text)


# --- phone -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "phone",
    [
        "03-1234-5678",
        "075-123-4567",
        "0166-12-3456",
        "090-1234-5678",
        "080 1234 5678",
        "070-1234-5678",
        "0120-123-456",
        "0312345678",
        "09012345678",
        "(03) 1234-5678",
        "03(1234)5678",
        "０３－１２３４－５６７８",
        "０９０ー１２３４ー５６７８",
    ],
)
def test_japanese_phone_is_redacted(phone: str) -> None:
    """Domestic numbers in every common grouping, full-width or not, are redacted inside Japanese text."""
    assert "電話は[PHONE]まで" == redact(f"電話は{phone}まで")


@pytest.mark.parametrize(
    "phone", ["+81-3-1234-5678", "+81 90 1234 5678", "+819012345678", "+81 (0)3-1234-5678", "+1 (415) 555-0100"]
)
def test_international_phone_is_redacted(phone: str) -> None:
    """+CC numbers with 8–15 digits are redacted."""
    assert "TEL: [PHONE]" == redact(f"TEL: {phone}")


@pytest.mark.parametrize(
    "text",
    [
        "期限は2026-11-24です",
        "kura 1.20.1 をリリース",
        "受付 10:00–15:00",
        "受付 09:00-18:00",
        "報酬 320,000円",
        "売上 1,117,320,768円",
        "請求書 INV-2026-0001",
        "請求書 INV-0312345678",
        "サーバー 192.168.10.1 と 10.0.0.1",
        "短い番号 03-1234",
        "桁不足 012-345-678",
        "+1 と +100%",
        "UTC+09:00",
    ],
)
def test_phone_near_misses_are_kept(text: str) -> None:
    """Dates, versions, times, amounts, invoice numbers, IP addresses and short numbers are not phones."""
    assert text == redact(text)


def test_postal_code_is_an_address_not_a_phone() -> None:
    """A 〒 postal code alone is an address part, never a phone."""
    assert [Finding("address", 0, 9)] == find_pii("〒530-0001")
    assert [] == find_pii("530-0001")


# --- card --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "card",
    [
        "4111111111111111",
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "5555555555554444",
        "3530111333300000",
        "378282246310005",
        "3782 822463 10005",
        "6011000990139424",
        "4222222222222",
        "４１１１ １１１１ １１１１ １１１１",
    ],
)
def test_card_is_redacted(card: str) -> None:
    """13–19 digit numbers that pass Luhn, grouped or not, are redacted."""
    assert luhn_valid(unicodedata.normalize("NFKC", card).replace(" ", "").replace("-", ""))
    assert "カード [CARD] で決済" == redact(f"カード {card} で決済")


@pytest.mark.parametrize(
    "text",
    [
        "4111111111111112",
        "4111 1111 1111 1112",
        "41111111111111111111",
        "注文番号 1234567890123",
    ],
)
def test_card_near_misses_are_kept(text: str) -> None:
    """Numbers failing Luhn, and runs longer than 19 digits, are not cards (nor parts of one)."""
    assert text == redact(text)


def test_twelve_digit_luhn_number_is_not_a_card() -> None:
    """Cards need at least 13 digits: a Luhn-valid 12-digit number without a My Number check digit stays."""
    number = next(
        f"4111111111{n:02d}"
        for n in range(100)
        if luhn_valid(f"4111111111{n:02d}") and my_number(f"4111111111{n:02d}"[:11]) != f"4111111111{n:02d}"
    )
    assert [] == find_pii(number)


# --- My Number ---------------------------------------------------------------------------------------------------


def test_helper_matches_the_published_example() -> None:
    """The test helper reproduces the widely published valid example 123456789018."""
    assert "123456789018" == VALID_MY_NUMBER


@pytest.mark.parametrize(
    "text",
    [VALID_MY_NUMBER, "1234 5678 9018", "1234-5678-9018", "１２３４５６７８９０１８"],
)
def test_my_number_is_redacted(text: str) -> None:
    """A valid 個人番号, plain, grouped 4-4-4 or full-width, is redacted."""
    assert "個人番号: [MY_NUMBER] です" == redact(f"個人番号: {text} です")


@pytest.mark.parametrize("first_eleven", ["00000000001", "98765432109", "20240401123", "55555555555", "10000000000"])
def test_generated_my_numbers_are_redacted_as_my_number(first_eleven: str) -> None:
    """Numbers generated with the official check digit are found as My Number, never as a card."""
    number = my_number(first_eleven)
    assert [Finding("my_number", 0, 12)] == find_pii(number)


def test_my_number_with_a_wrong_check_digit_is_kept() -> None:
    """Every wrong check digit leaves the twelve digits alone."""
    for digit in "0123456789":
        candidate = VALID_MY_NUMBER[:11] + digit
        if candidate != VALID_MY_NUMBER:
            assert candidate == redact(candidate)


@pytest.mark.parametrize(
    "text",
    [VALID_MY_NUMBER[:11], VALID_MY_NUMBER + "0", "1234 5678 9018 1234", "1111 1234 5678 9018", "1234-5678 9018"],
)
def test_my_number_near_misses_are_kept(text: str) -> None:
    """Eleven or thirteen digits, a valid number inside a longer grouping and mixed separators are not My Numbers."""
    assert "my_number" not in kinds_in(text)


# --- address -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "〒530-0001 大阪府大阪市北区梅田1-2-3",
        "大阪府大阪市北区梅田1-2-3",
        "〒100-0005 東京都千代田区丸の内1-9-1",
        "東京都千代田区丸の内一丁目9番1号",
        "東京都港区芝公園4丁目2-8",
        "北海道札幌市中央区北1条西2丁目",
        "神奈川県横浜市西区みなとみらい2-3-1",
        "鹿児島県鹿児島市山下町11番1号",
        "〒530-0001 大阪市北区梅田1−2−3",
        "〒５３０－０００１　大阪府大阪市北区梅田１ー２ー３",
    ],
)
def test_address_is_redacted_through_the_block_number(address: str) -> None:
    """From the postal code or prefecture through the block number, the whole address is one finding."""
    assert "送付先: [ADDRESS] 宛" == redact(f"送付先: {address} 宛")


def test_address_stops_at_the_block_number() -> None:
    """A building name after the block number stays."""
    assert "[ADDRESS] グランフロント大阪 5F にお越しください" == redact(
        "大阪府大阪市北区梅田1-2-3 グランフロント大阪 5F にお越しください"
    )


@pytest.mark.parametrize(
    "text",
    [
        "大阪本社に集合",
        "東京都の天気は晴れ",
        "東京都港区に出張します",
        "京都府と大阪府の支社",
        "東京都の区民は3人",
        "大阪府立大学の2023年度",
        "神奈川県の支社は3月に移転",
    ],
)
def test_address_near_misses_are_kept(text: str) -> None:
    """Prefectures mentioned without a municipality and block number are not addresses."""
    assert text == redact(text)


# --- spans, overlaps and the redact API --------------------------------------------------------------------------


def test_spans_point_into_the_original_full_width_text() -> None:
    """Findings in full-width text are offsets into the text as given, not its normalised form."""
    text = "㈱山田 電話：０３－１２３４－５６７８、ｔａｒｏ＠ｅｘａｍｐｌｅ．ｃｏｍ"
    findings = find_pii(text)
    assert ["phone", "email"] == [f.kind for f in findings]
    assert ["０３－１２３４－５６７８", "ｔａｒｏ＠ｅｘａｍｐｌｅ．ｃｏｍ"] == [text[f.start : f.end] for f in findings]


def test_findings_are_sorted_and_do_not_overlap() -> None:
    """A mixed text yields each kind once, in order, and an email's digits are not also a phone."""
    text = f"09012345678@example.jp / 4111 1111 1111 1111 / {VALID_MY_NUMBER} / 03-1234-5678 / 〒530-0001"
    findings = find_pii(text)
    assert ["email", "card", "my_number", "phone", "address"] == [f.kind for f in findings]
    assert all(a.end <= b.start for a, b in itertools.pairwise(findings))


def test_numbers_separated_by_spaces_are_each_redacted() -> None:
    """A card and My Numbers side by side are found one by one, not dropped as one long number."""
    text = f"4111111111111111 {VALID_MY_NUMBER} 1234 5678 9018 2枚目"
    assert "[CARD] [MY_NUMBER] [MY_NUMBER] 2枚目" == redact(text)


def test_redact_replaces_every_kind() -> None:
    """Each kind gets its own placeholder and the text around stays."""
    text = f"山田 taro@example.jp 090-1234-5678 4111111111111111 {VALID_MY_NUMBER} 東京都港区芝公園4-2-8"
    assert "山田 [EMAIL] [PHONE] [CARD] [MY_NUMBER] [ADDRESS]" == redact(text)


def test_redact_limits_itself_to_the_kinds_asked_for() -> None:
    """With ``kinds``, only those kinds are replaced, even where another kind would have claimed the text."""
    text = "09012345678@example.jp と 03-1234-5678"
    assert "[PHONE]@example.jp と [PHONE]" == redact(text, kinds=frozenset({"phone"}))
    assert "[EMAIL] と 03-1234-5678" == redact(text, kinds=frozenset({"email"}))


def test_redact_rejects_unknown_kinds() -> None:
    """A misspelt kind is an error, not a silent no-op."""
    with pytest.raises(ValueError, match="phonee"):
        redact("x", kinds=frozenset({"phonee"}))


@pytest.mark.parametrize("text", ["", "こんにちは、経費精算の締め日はいつですか？", "[EMAIL] [PHONE] [CARD]"])
def test_text_without_pii_is_unchanged(text: str) -> None:
    """Plain text, empty text and already redacted text come back as they were."""
    assert text == redact(text)


def test_kinds_are_the_documented_seven() -> None:
    """The public kinds are exactly the seven the placeholders name."""
    kinds = {"email", "phone", "card", "my_number", "address", "bank_account", "birth_date"}
    assert frozenset(kinds) == KINDS


# --- linear time -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "".join("0123456789-"[(i * 7919 + i // 13) % 11] for i in range(200_000)),
        "0-" * 100_000,
        "4" * 200_000,
        "a" * 200_000 + "@",
        "x@" + "ab." * 66_000,
        "東京都港区" * 40_000,
        "大阪府大阪市北区" + "1-" * 100_000,
        "+1 " * 66_000,
        "０３－１２３４－" * 25_000,
    ],
    ids=["digits-hyphens", "zero-hyphen", "digits", "letters-at", "labels", "prefecture", "blocks", "plus", "full"],
)
def test_long_inputs_take_linear_time(text: str) -> None:
    """200 KB of adversarial input is redacted without catastrophic backtracking (bench/hostile_text.py times it)."""
    started = time.perf_counter()
    redact(text)
    assert time.perf_counter() - started < HANG_S
