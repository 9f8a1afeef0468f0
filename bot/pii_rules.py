"""The personal-data rules that :mod:`bot.redaction` applies: one compiled regex per form, written
for NFKC-folded text (ASCII digits, "-" for every dash, no invisible characters), plus a check
where the kind has one (Luhn, the 個人番号 check digit, IBAN mod 97).

Every quantifier is bounded and every rule starts on a literal, a character class or a cue word,
so a rule costs linear time on any input. A rule may name a group ``pii``: then only that group is
personal data and the cue around it (``生年月日``, ``口座番号``) stays readable.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["NAME", "RULES", "Rule", "digits"]

_ASCII_DIGITS = frozenset("0123456789")


@dataclass(frozen=True)
class Rule:
    """One form of a kind: its pattern, an optional check of the match, and whether the place name
    just before the match belongs to it (see ``NAME``)."""

    kind: str
    pattern: re.Pattern[str]
    valid: Callable[[re.Match[str]], bool] | None = None
    named: bool = False
    #: Text without this cannot match: a quick scan that spares the pattern most ordinary prose.
    needs: re.Pattern[str] | None = None

    def span(self, match: re.Match[str]) -> tuple[int, int]:
        """The personal data of a match: its ``pii`` (or ``pii2``) group when it has one, else all of it."""
        for group in ("pii", "pii2"):
            if group in self.pattern.groupindex and match.start(group) >= 0:
                return match.span(group)
        return match.span()


def digits(text: str) -> str:
    """The ASCII digits of ``text``, in order."""
    return "".join(char for char in text if char in _ASCII_DIGITS)


# --- numbers -------------------------------------------------------------------------------------

# A number must not continue one: no digit before it, nor a digit and a separator (dates, IPs, versions, amounts).
_NUMBER_START = r"(?<![0-9])(?<![0-9][-./:,])"
_NUMBER_END = r"(?![0-9])(?![-./:,][0-9])"
# Space-grouped cards and My Numbers also continue through a neighbouring four-digit group ("4111 1111 1111 1112").
_GROUP_BEFORE = r"(?<!(?<![0-9])[0-9]{4} )"
_GROUP_AFTER = r"(?! [0-9]{4}(?![0-9]))"
# Between the groups of a phone number: a dash (all dashes fold to "-"), a dot, ・ or a space; a
# spaced dash too ("03 - 1234 - 5678").
_SEP = r"(?: ?[-.・] ?| )"

_PHONE = re.compile(
    _NUMBER_START + r"(?<![A-Za-z]-)(?:"
    r"(?<![A-Za-z0-9+])\+(?:[ .\-・]{0,2}\(?[0-9]\)?){8,15}(?![ .\-・]{0,2}\(?[0-9])"  # +81 3-1234-5678
    rf"|0[0-9]{{1,4}}{_SEP}[0-9]{{1,4}}{_SEP}[0-9]{{3,4}}"  # 03-1234-5678, 03.1234.5678, 090 1234 5678
    rf"|\(0[0-9]{{1,4}}\) ?[0-9]{{1,4}}{_SEP}?[0-9]{{3,4}}"  # (03) 1234-5678
    r"|0[0-9]{1,4}\([0-9]{1,4}\)[0-9]{3,4}"  # 03(1234)5678
    r"|0[0-9]{9,10}"  # 0312345678, 09012345678
    r")" + _NUMBER_END,
    re.ASCII,
)

_CARD = re.compile(
    _NUMBER_START + r"(?:"
    r"[0-9]{13,19}"
    rf"|{_GROUP_BEFORE}[0-9]{{4}}(?:[ .\-][0-9]{{4}}){{3}}(?:[ .\-][0-9]{{1,3}})?{_GROUP_AFTER}"  # 4-4-4-4(-3)
    rf"|{_GROUP_BEFORE}[0-9]{{4}}[ .\-][0-9]{{6}}[ .\-][0-9]{{4,5}}{_GROUP_AFTER}"  # Amex 4-6-5, Diners 4-6-4
    r")" + _NUMBER_END,
    re.ASCII,
)

_MY_NUMBER = re.compile(
    _NUMBER_START
    + rf"(?:[0-9]{{12}}|{_GROUP_BEFORE}[0-9]{{4}}([ .\-])[0-9]{{4}}\1[0-9]{{4}}{_GROUP_AFTER})"
    + _NUMBER_END,
    re.ASCII,
)


def _luhn_valid(number: str) -> bool:
    """Whether ``number`` passes the Luhn check used by payment cards."""
    total = 0
    for position, char in enumerate(reversed(number)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _my_number_valid(number: str) -> bool:
    """Whether twelve digits carry the 個人番号 check digit (weights n+1 for n<=6, n-5 above, mod 11)."""
    total = sum(int(char) * (n + 1 if n <= 6 else n - 5) for n, char in enumerate(reversed(number[:11]), start=1))
    remainder = total % 11
    return int(number[11]) == (0 if remainder <= 1 else 11 - remainder)


def _phone_valid(match: re.Match[str]) -> bool:
    """International numbers have 8–15 digits, domestic ones 10 or 11."""
    count = len(digits(match.group()))
    return 8 <= count <= 15 if match.group().startswith("+") else 10 <= count <= 11


# --- email ---------------------------------------------------------------------------------------

# The local part is Latin (ASCII and accented letters), or of another script (山田): never both,
# so a Japanese label before an ASCII address ("メールアドレスtaro@…") stays. Hiragana is left out:
# it is the particle before an address ("連絡先は山田@…"), hardly ever part of one.
_LATIN_LOCAL = r"[A-Za-z0-9._%+\-\u00c0-\u024f\u1e00-\u1eff]"
_OTHER_LOCAL = r"(?:[^\W\u3040-\u309fA-Za-z0-9\u00c0-\u024f\u1e00-\u1eff]|[._\-])"
_LOCAL = rf"(?:(?<!{_LATIN_LOCAL}){_LATIN_LOCAL}{{1,64}}|(?<!{_OTHER_LOCAL}){_OTHER_LOCAL}{{1,64}})"
# "@" (＠ folds to it), or written out: [at], (at), {at}, <at>, アットマーク; " at " with a written-out dot.
_AT = r"(?: ?@ ?|\s{0,2}[\[({<]\s{0,2}(?:at|@)\s{0,2}[\])}>]\s{0,2}|\s{0,2}アットマーク\s{0,2}|\s{1,2}at\s{1,2})"
_OBFUSCATED_DOT = r"\s{0,2}[\[({<]\s{0,2}(?:dot|\.)\s{0,2}[\])}>]\s{0,2}|\s{1,2}dot\s{1,2}|\s{0,2}ドット\s{0,2}"
_DOT = rf"(?:\.|{_OBFUSCATED_DOT})"
_LABEL = r"[A-Za-z0-9\-]{1,63}"
_EMAIL = re.compile(
    rf"{_LOCAL}(?P<at>{_AT})(?P<domain>{_LABEL}(?:{_DOT}{_LABEL}){{0,8}}{_DOT}[A-Za-z]{{2,24}})(?![A-Za-z0-9\-])",
    re.IGNORECASE,
)
_WRITTEN_DOT = re.compile(_OBFUSCATED_DOT, re.IGNORECASE)


def _email_valid(match: re.Match[str]) -> bool:
    """A bare " at " needs a written-out dot too: "look at example.com" is not an address."""
    return match.group("at").strip().casefold() != "at" or _WRITTEN_DOT.search(match.group("domain")) is not None


# --- bank accounts -------------------------------------------------------------------------------

# A cue (口座番号, 普通, 当座, 支店, account number) then, a few separators or cue words on, the
# number: 7 digits in Japan (6–8 seen), up to 17 elsewhere. Not an amount (円, %, yen).
_BANK_GAP = r"(?:[\s:#=()\[\]\-]|預金|口座|番号|no\.?|number){0,6}"
_NOT_AMOUNT = r"(?![0-9])(?! ?(?:円|万|千|ドル|%|yen|dollars?)(?![A-Za-z]))"
_BANK_JA = re.compile(
    r"(?:口座番号|口座|普通預金|当座預金|貯蓄預金|普通|当座|貯蓄|店番 ?[0-9]{3}|支店(?: ?\( ?[0-9]{3} ?\))?)"
    rf"{_BANK_GAP}(?P<pii>[0-9]{{6,8}}){_NOT_AMOUNT}",
    re.IGNORECASE,
)
_BANK_EN = re.compile(
    r"(?<![A-Za-z])(?:account|acct\.?|a/c|bank account)(?: ?(?:no\.?|number|num|#))?"
    rf"{_BANK_GAP}(?P<pii>[0-9]{{6,17}}){_NOT_AMOUNT}",
    re.IGNORECASE,
)
# ゆうちょ銀行: 記号 (5 digits) and 番号 (up to 8), together or written out.
_YUCHO = re.compile(r"記号 ?:? ?(?P<pii>[0-9]{5} ?-? ?(?:番号 ?:? ?)?[0-9]{6,8})(?![0-9])")
_IBAN = re.compile(r"(?<![A-Z0-9])[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?![A-Z0-9])")


def _iban_valid(match: re.Match[str]) -> bool:
    """The IBAN check: the country and check digits moved to the end, letters as 10–35, mod 97 is 1."""
    text = match.group().replace(" ", "")
    moved = text[4:] + text[:4]
    return int("".join(str(int(char, 36)) for char in moved)) % 97 == 1


# --- birth dates ---------------------------------------------------------------------------------

_ERA = r"(?:明治|大正|昭和|平成|令和)"
_MONTHS = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?"
    r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DAY = r"[0-9]{1,2}(?:st|nd|rd|th)?"
_NUMERIC_DATE = (
    rf"(?:(?:[0-9]{{4}}|{_ERA} ?(?:[0-9]{{1,2}}|元)) ?年 ?)?[0-9]{{1,2}} ?月 ?[0-9]{{1,2}} ?日"  # 1990年1月2日, 1月2日
    r"|[0-9]{4}[-/.][0-9]{1,2}[-/.][0-9]{1,2}"  # 1990/01/02
    r"|[0-9]{1,2}[-/.][0-9]{1,2}[-/.][0-9]{4}"  # 01/02/1990
    r"|[MTSHR]\.? ?[0-9]{1,2}[-/.][0-9]{1,2}[-/.][0-9]{1,2}"  # S60.1.2, H2/1/2
    r"|(?:19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"  # 19900102
)
_DATE = (
    rf"{_NUMERIC_DATE}"
    rf"|{_MONTHS} ?{_DAY},? ?[0-9]{{4}}"  # January 2, 1990
    rf"|{_DAY} (?:of )?{_MONTHS},? ?[0-9]{{4}}"  # 2 January 1990
)
_BIRTH_CUE = (
    r"(?:生年月日|誕生日|生誕"
    r"|(?<![A-Za-z])(?:date of birth|birth ?date|birthday|born(?: on)?|d\.?o\.?b\.?)(?![A-Za-z]))"
)
_BIRTH_GAP = r"(?:\([^()]{0,6}\))?(?:[\s:=,\-]|は|が|is|was|on){0,4}"
_BIRTH_DATE = re.compile(rf"{_BIRTH_CUE}{_BIRTH_GAP}(?P<pii>{_DATE})(?![0-9])", re.IGNORECASE)
# The cue after the date: 1990年1月2日生まれ, 昭和60年1月2日生（39歳）. Not 生命, 生産: 生 alone needs a break after it.
_BORN_DATE = re.compile(
    rf"(?<![0-9A-Za-z])(?P<pii>{_NUMERIC_DATE})"
    r" ?(?:生まれ|生(?=[\s(),.、。]|$))"
)

# --- addresses -----------------------------------------------------------------------------------

_PREFECTURES = (
    "北海道|東京都|大阪府|京都府|(?:青森|岩手|宮城|秋田|山形|福島|茨城|栃木|群馬|埼玉|千葉|神奈川|新潟|富山|石川"
    "|福井|山梨|長野|岐阜|静岡|愛知|三重|滋賀|兵庫|奈良|和歌山|鳥取|島根|岡山|広島|山口|徳島|香川|愛媛|高知|福岡"
    "|佐賀|長崎|熊本|大分|宮崎|鹿児島|沖縄)県"
)
_KANA_KANJI = "[\u3005\u3006\u3041-\u3096\u30a1-\u30fa\u30fc\u4e00-\u9fff]"
#: A place name before 市区町村郡 or 丁目: kanji and katakana (hiragana is mostly particles).
NAME = "[\u3005\u3006\u30a1-\u30fa\u30fc\u4e00-\u9fff]"
_MUNICIPALITY = "[市区町村郡]"
_NOT_MUNICIPALITY = "(?:(?![市区町村郡])" + _KANA_KANJI + ")"
# 市区町村 starting an ordinary word, not a place: 区分, 区別, 市場, 町内, 村長…
_NOT_PLACE = "(?!分|別|間|域|切|画|長|民|場|販|内|議|役|立|営|街地|況|井)"
_BLOCK_NUMBER = "[1-9][0-9]{0,4}"
_CHOME = rf"(?:{_BLOCK_NUMBER}|[一二三四五六七八九十]{{1,3}})丁目"
_BLOCK = (
    rf"(?:{_CHOME}"  # 1丁目2番3号, 一丁目9-1
    rf"(?:{_BLOCK_NUMBER}(?:番地?(?:[0-9]{{1,5}}号?)?|-[0-9]{{1,5}}(?:-[0-9]{{1,5}})?|号))?"
    rf"|{_BLOCK_NUMBER}番地?(?:[0-9]{{1,5}}号?|-[0-9]{{1,5}})?"  # 2番地, 2番3号
    rf"|{_BLOCK_NUMBER}(?:-[0-9]{{1,5}}){{1,3}})"  # 1-2-3, 1-2-3-101
    r"(?![0-9])(?!-[0-9])"
)
# A building and a room number after the block are the address too; a building alone (a landmark,
# a floor: "グランフロント大阪 5F") is not personal and stays.
_ROOM = r"(?: ?(?:[\u3005\u3006\u3041-\u3096\u30a1-\u30fa\u30fc\u4e00-\u9fffA-Za-z0-9・&' ]){0,30}?[0-9]{1,5}号室)?"
# A street address needs a municipality (市区町村郡) and a block number after it; Sapporo's 北1条西2丁目 is allowed.
# The run up to the first 市区町村郡 has one way to match, so only the tail before the block backtracks.
_LOCALITY = rf"{_NOT_MUNICIPALITY}{{0,30}}{_MUNICIPALITY}(?:{_KANA_KANJI}| |[0-9]{{1,2}}条){{0,30}}?{_BLOCK}{_ROOM}"
_POSTAL = r"〒 ?[0-9]{3}-?[0-9]{4}(?![0-9])"
_ADDRESS = re.compile(rf"{_POSTAL}(?: ?(?:(?:{_PREFECTURES}) ?)?{_LOCALITY})?|(?:{_PREFECTURES}) ?{_LOCALITY}")
_POSTAL_CUE = re.compile(
    r"(?:郵便番号|(?<![A-Za-z])(?:postal code|post ?code|zip(?: ?code)?)(?![A-Za-z]))"
    r"(?: ?[:：]? ?)(?P<pii>[0-9]{3}-?[0-9]{4})(?![0-9])(?!-[0-9])",
    re.IGNORECASE,
)
# Without a prefecture: the municipality's name (just before, see ``NAME``), the town and the block
# (港区六本木6-10-1). Found from the 市区町村郡; the name is added by :mod:`bot.redaction`.
# The town after the 市区町村 starts with kanji or katakana: "中村さん3-2" is a person and a score.
_WARD = re.compile(
    rf"(?<={NAME}){_MUNICIPALITY}{_NOT_PLACE}{NAME}(?:{_KANA_KANJI}| |[0-9]{{1,2}}条){{0,29}}?{_BLOCK}{_ROOM}"
)
# No municipality at all, but a form no other text has: a town's 丁目 with its 番/号 or a 番地
# (六本木六丁目10番1号, 大木123番地). The town's name before it is added the same way.
_TOWN = re.compile(
    rf"(?<={NAME})(?:{_CHOME}(?:{_BLOCK_NUMBER}(?:番地?(?:[0-9]{{1,5}}号?)?|-[0-9]{{1,5}}(?:-[0-9]{{1,5}})?|号))"
    rf"|{_BLOCK_NUMBER}番地[0-9]{{0,5}}|{_BLOCK_NUMBER}番[0-9]{{1,5}}号)(?![0-9])(?!-[0-9]){_ROOM}"
)

_DIGIT = re.compile("[0-9]")
_DIGIT_OR_CHOME = re.compile("[0-9]|丁目")
_AT_SIGN = re.compile("@|at|アットマーク", re.IGNORECASE)

# Where two rules claim overlapping text, the longer match wins; on a tie, the earlier rule here.
RULES: tuple[Rule, ...] = (
    Rule("email", _EMAIL, _email_valid, needs=_AT_SIGN),
    Rule("phone", _PHONE, _phone_valid, needs=_DIGIT),
    Rule("card", _CARD, lambda m: _luhn_valid(digits(m.group())), needs=_DIGIT),
    Rule("my_number", _MY_NUMBER, lambda m: _my_number_valid(digits(m.group())), needs=_DIGIT),
    Rule("bank_account", _IBAN, _iban_valid, needs=_DIGIT),
    Rule("bank_account", _YUCHO, needs=_DIGIT),
    Rule("bank_account", _BANK_JA, needs=_DIGIT),
    Rule("bank_account", _BANK_EN, needs=_DIGIT),
    Rule("birth_date", _BIRTH_DATE, needs=_DIGIT),
    Rule("birth_date", _BORN_DATE, needs=_DIGIT),
    Rule("address", _ADDRESS, needs=_DIGIT_OR_CHOME),
    Rule("address", _POSTAL_CUE, needs=_DIGIT),
    Rule("address", _WARD, named=True, needs=_DIGIT_OR_CHOME),
    Rule("address", _TOWN, named=True, needs=_DIGIT),
)
