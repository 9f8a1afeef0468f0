"""Redaction of the forms Japanese text uses: folded invisible characters and dashes, other phone
separators, dotted cards, written-out emails, bank accounts, birth dates, addresses without the
prefecture, with their near-misses."""

from __future__ import annotations

import time

import pytest

from bot.redaction import find_pii, redact
from tests.hang import HANG_S

pytestmark = pytest.mark.unit


# --- folding: invisible characters and every dash ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("090\u200b1234\u200b5678", "phone"),
        ("090\u2060-1234-5678", "phone"),
        ("03\u00ad-1234-5678", "phone"),
        ("4111\u200b1111\u200b1111\u200b1111", "card"),
        ("taro\u200b@example.com", "email"),
        ("ta\u200dro@exa\ufeffmple.com", "email"),
    ],
)
def test_invisible_characters_do_not_hide_pii(text: str, kind: str) -> None:
    """Zero-width characters inside a number or an address are removed before matching, and the
    finding covers them in the original text."""
    findings = find_pii(f"連絡 {text} まで")
    assert [kind] == [f.kind for f in findings]
    assert text == f"連絡 {text} まで"[findings[0].start : findings[0].end]


# --- phones with other separators --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "phone",
    [
        "03.1234.5678",
        "03・1234・5678",
        "03･1234･5678",  # half-width katakana middle dot
        "03 - 1234 - 5678",
        "03─1234─5678",  # box drawing
        "03━1234━5678",
        "03–1234–5678",  # en dash
        "03—1234—5678",  # em dash
        "03‐1234‐5678",  # hyphen
        "090ｰ1234ｰ5678",  # half-width long vowel mark
        "０３・１２３４・５６７８",
        "０３．１２３４．５６７８",
        "(03)1234-5678",
        "（０３）１２３４－５６７８",
        "(03) 1234.5678",
    ],
)
def test_phone_with_any_separator_is_redacted(phone: str) -> None:
    """Dots, middle dots, box-drawing lines, every dash, spaces and parentheses separate phone groups."""
    assert "電話は[PHONE]まで" == redact(f"電話は{phone}まで")


@pytest.mark.parametrize(
    "phone",
    ["+81.3.1234.5678", "+81 3 1234 5678", "+81(3)1234-5678", "＋８１－３－１２３４－５６７８", "+81・90・1234・5678"],
)
def test_international_phone_with_any_separator_is_redacted(phone: str) -> None:
    """+81 numbers with dots, middle dots, parentheses or full-width characters."""
    assert "TEL: [PHONE]" == redact(f"TEL: {phone}")


@pytest.mark.parametrize(
    "text",
    ["日付 2026.01.02", "締切 03.12.2024", "ver 0.12.345", "v1.2.3", "価格 1.234.567円", "IP 192.168.0.1", "03.1234"],
)
def test_dotted_numbers_that_are_not_phones_are_kept(text: str) -> None:
    """Dates, versions, amounts and IP addresses with dots stay."""
    assert text == redact(text)


# --- cards with dots -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "card",
    ["4111.1111.1111.1111", "４１１１．１１１１．１１１１．１１１１", "5555.5555.5555.4444", "3782.822463.10005"],
)
def test_card_with_dots_is_redacted(card: str) -> None:
    """Dot-grouped cards, full-width too, are redacted (the Luhn check still applies)."""
    assert "カード [CARD] で決済" == redact(f"カード {card} で決済")


def test_dotted_numbers_failing_luhn_are_not_cards() -> None:
    """A dot-grouped 16-digit number that fails Luhn stays: Luhn keeps other long numbers out."""
    assert "注文 4111.1111.1111.1112" == redact("注文 4111.1111.1111.1112")


def test_my_number_with_dots_is_redacted() -> None:
    """A 4.4.4 My Number with a valid check digit."""
    assert "個人番号 [MY_NUMBER]" == redact("個人番号 1234.5678.9018")


# --- written-out and non-ASCII emails ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "email",
    [
        "taro[at]example[dot]com",
        "taro [at] example [dot] com",
        "TARO [AT] EXAMPLE [DOT] COM",
        "taro(at)example.co.jp",
        "taro (at) example.co.jp",
        "taro{at}example.com",
        "taro<at>example.com",
        "taro at example dot com",
        "taro アットマーク example.com",
        "taro@example(dot)co(dot)jp",
        "taro＠example.jp",
        "ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ",
        "taro﹫example.jp",  # small commercial at
        "山田@example.jp",
        "山田太郎@example.co.jp",
        "ヤマダ.タロウ@example.jp",
        "tarō@example.jp",
        "josé.garcía@example.es",
    ],
)
def test_written_out_and_non_ascii_emails_are_redacted(email: str) -> None:
    """[at]/(at)/at and [dot]/(dot)/dot forms, full-width forms and non-ASCII local parts."""
    assert "連絡先: [EMAIL] まで" == redact(f"連絡先: {email} まで")


def test_a_label_or_particle_before_an_address_stays() -> None:
    """The particle before a Japanese local part, and a Japanese label before an ASCII one, stay."""
    assert "連絡先は[EMAIL]まで" == redact("連絡先は山田@example.jpまで")
    assert "メールアドレス[EMAIL]" == redact("メールアドレスtaro@example.jp")


@pytest.mark.parametrize(
    "text",
    [
        "Please look at example.com for details",
        "meet at 3pm at the lobby",
        "support (at) the help desk",
        "@channel 明日の会議",
        "価格は＠100円",
        "at example dot",
    ],
)
def test_email_like_prose_is_kept(text: str) -> None:
    """The word at in prose, an at-sign before a price, and an incomplete written-out address stay."""
    assert text == redact(text)


# --- bank accounts -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("口座番号 1234567", "口座番号 [BANK_ACCOUNT]"),
        ("口座番号：1234567", "口座番号：[BANK_ACCOUNT]"),
        ("普通 1234567", "普通 [BANK_ACCOUNT]"),
        ("普通預金 1234567", "普通預金 [BANK_ACCOUNT]"),
        ("当座 7654321", "当座 [BANK_ACCOUNT]"),
        ("普通預金口座番号: １２３４５６７", "普通預金口座番号: [BANK_ACCOUNT]"),
        ("三井住友銀行 渋谷支店 普通 1234567", "三井住友銀行 渋谷支店 普通 [BANK_ACCOUNT]"),
        ("渋谷支店 1234567", "渋谷支店 [BANK_ACCOUNT]"),
        ("支店(123) 1234567", "支店(123) [BANK_ACCOUNT]"),
        ("店番123 口座1234567", "店番123 口座[BANK_ACCOUNT]"),
        ("ゆうちょ銀行 記号 12345 番号 12345671", "ゆうちょ銀行 記号 [BANK_ACCOUNT]"),
        ("記号12345-12345671", "記号[BANK_ACCOUNT]"),
        ("Account No. 12345678", "Account No. [BANK_ACCOUNT]"),
        ("account number: 123456789012", "account number: [BANK_ACCOUNT]"),
        ("Acct #: 9876543", "Acct #: [BANK_ACCOUNT]"),
        ("IBAN GB82 WEST 1234 5698 7654 32", "IBAN [BANK_ACCOUNT]"),
        ("IBAN DE89370400440532013000", "IBAN [BANK_ACCOUNT]"),
    ],
)
def test_bank_account_is_redacted(text: str, expected: str) -> None:
    """Account numbers after a cue (口座番号, 普通, 当座, 支店, account no.), ゆうちょ 記号/番号 and valid IBANs;
    the cue stays readable."""
    assert expected == redact(text)


@pytest.mark.parametrize(
    "text",
    [
        "普通は1234567円です",
        "普通 1000000円",
        "預金残高 1,234,567円",
        "口座数 1234567件",
        "支店の売上は1234567",
        "account for 1234567 users",
        "account balance 1234567 yen",
        "IBAN GB82 WEST 1234 5698 7654 33",
        "社員番号 1234567",
        "注文番号 12345678",
    ],
)
def test_bank_account_near_misses_are_kept(text: str) -> None:
    """Amounts after a cue, counts, numbers without a cue and IBANs failing mod 97 stay."""
    assert text == redact(text)


# --- birth dates -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("生年月日 1990年1月2日", "生年月日 [BIRTH_DATE]"),
        ("生年月日：1990/01/02", "生年月日：[BIRTH_DATE]"),
        ("生年月日（西暦）：1990-01-02", "生年月日（西暦）：[BIRTH_DATE]"),
        ("生年月日 平成2年1月2日", "生年月日 [BIRTH_DATE]"),
        ("生年月日 S60.1.2", "生年月日 [BIRTH_DATE]"),
        ("生年月日 19900102", "生年月日 [BIRTH_DATE]"),
        ("生年月日 １９９０年１月２日", "生年月日 [BIRTH_DATE]"),
        ("誕生日は1月2日です", "誕生日は[BIRTH_DATE]です"),
        ("1990年1月2日生まれ", "[BIRTH_DATE]生まれ"),
        ("昭和60年1月2日生（39歳）", "[BIRTH_DATE]生（39歳）"),
        ("DOB: 01/02/1990", "DOB: [BIRTH_DATE]"),
        ("D.O.B. 1990-01-02", "D.O.B. [BIRTH_DATE]"),
        ("Date of birth: January 2, 1990", "Date of birth: [BIRTH_DATE]"),
        ("born on 2 Jan 1990", "born on [BIRTH_DATE]"),
        ("Birthday: 1990.01.02", "Birthday: [BIRTH_DATE]"),
        ("birth date is 2nd of March, 1985", "birth date is [BIRTH_DATE]"),
    ],
)
def test_birth_date_is_redacted(text: str, expected: str) -> None:
    """A date next to a birth cue (生年月日, 誕生日, 生まれ, DOB, born, birthday) in any common format;
    the cue stays."""
    assert expected == redact(text)


@pytest.mark.parametrize(
    "text",
    [
        "会議は1990/01/02",
        "2026年1月2日の会議",
        "締め日は1月25日",
        "version 2024.01.02",
        "2026年4月1日生命保険の更新",
        "born in 1990",
        "Adobe 2024/01/02 release",
        "founded on January 2, 2001",
        "生年月日を入力してください",
    ],
)
def test_dates_without_a_birth_cue_are_kept(text: str) -> None:
    """Meeting dates, versions, a year alone and cue words inside other words are not birth dates."""
    assert text == redact(text)


# --- addresses without the prefecture, postal codes ---------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "港区六本木6-10-1",
        "港区六本木六丁目10番1号",
        "六本木六丁目10番1号",
        "大阪市北区梅田1-2-3",
        "千代田区丸の内1-9-1",
        "横浜市西区みなとみらい2-3-1",
        "港区六本木６－１０－１",
        "港区六本木6\u200b-10-1",
        "港区六本木6-10-1-2305",
        "港区六本木6-10-1 六本木ヒルズ森タワー 2305号室",
        "港区六本木6-10-1 ｶﾞｰﾃﾞﾝﾊｲﾂ 101号室",
        "西多摩郡瑞穂町箱根ケ崎2335番地",
        "字大木123番地",
        "郵便番号 100-0001",
        "郵便番号：1000001",
        "〒100-0001",
        "Postal code 100-0001",
        "ZIP: 100-0001",
    ],
)
def test_address_without_the_prefecture_is_redacted(address: str) -> None:
    """Ward or city, town and block (or a town's 丁目/番地 alone), with a building's room; postal
    codes after 〒, 郵便番号 or postal code."""
    redacted = redact(f"送付先: {address} 宛")
    assert "[ADDRESS]" in redacted
    for part in ("六本木", "梅田", "丸の内", "ヒルズ", "2305", "ﾃﾞﾝ", "101", "瑞穂", "大木", "100-0001", "1000001"):
        assert part not in redacted, part
    assert redacted.startswith("送付先: ")
    assert redacted.endswith(" 宛")


@pytest.mark.parametrize(
    "text",
    [
        "業務区分1-2-3",
        "区間1-2を走る",
        "市場調査2024-01-15",
        "市販品 1-2-3",
        "町内会 1-2-3",
        "図1-2-3を参照",
        "表3-1-2",
        "港区に出張します",
        "区民は3人",
        "東京駅1番線",
        "第3条1号",
        "地区1-2の担当",
        "中村さん3-2で勝利",
        "中村1-2-3",
        "郵便番号を記入",
        "ZIP 1.2.3",
    ],
)
def test_address_near_misses_without_the_prefecture_are_kept(text: str) -> None:
    """Words with 市区町村 that are not places, figure numbers and platform numbers stay."""
    assert text == redact(text)


def test_a_half_width_voiced_mark_is_folded_with_its_letter() -> None:
    """ｶﾞ folds to one letter; the span still ends after the mark in the original text."""
    text = "港区六本木6-10-1 ｶﾞｰﾃﾞﾝ 101号室"
    [finding] = find_pii(text)
    assert (0, len(text)) == (finding.start, finding.end)


@pytest.mark.parametrize(
    "text",
    [
        "口座番号" * 50_000,
        "普通 " * 66_000,
        "生年月日 1" * 40_000,
        "1990年1月2日" * 20_000,
        "a [at] " * 30_000,
        "taro at example dot " * 10_000,
        "港区" * 100_000,
        "六本木六丁目" * 30_000,
        "1番" * 100_000,
        "郵便番号 " * 40_000,
        "山田" * 100_000 + "@",
        "GB82 " * 40_000,
    ],
    ids=["bank-cue", "futsu", "birth-cue", "dates", "at", "words", "ward", "chome", "ban", "postal", "kanji", "iban"],
)
def test_new_rules_take_linear_time(text: str) -> None:
    """200 KB of input aimed at the new rules is redacted without catastrophic backtracking."""
    started = time.perf_counter()
    redact(text)
    assert time.perf_counter() - started < HANG_S
