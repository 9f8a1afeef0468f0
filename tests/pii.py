"""Personal data for the redaction tests: valid My Numbers and card numbers, and what ``find_pii`` finds."""

from __future__ import annotations

from bot.redaction import find_pii


def my_number_check_digit(first_eleven: str) -> int:
    """The 個人番号 check digit: weights n+1 (n=1..6) and n-5 (n=7..11) from the right, 0 if sum mod 11 <= 1."""
    total = sum(int(digit) * (n + 1 if n <= 6 else n - 5) for n, digit in enumerate(reversed(first_eleven), start=1))
    remainder = total % 11
    return 0 if remainder <= 1 else 11 - remainder


def my_number(first_eleven: str) -> str:
    """A valid twelve-digit My Number built from its first eleven digits."""
    return first_eleven + str(my_number_check_digit(first_eleven))


def luhn_valid(digits: str) -> bool:
    """The Luhn check, written out independently of the module under test."""
    doubled = [int(d) * (2 if i % 2 else 1) for i, d in enumerate(reversed(digits))]
    return 0 == sum(value - 9 if value > 9 else value for value in doubled) % 10


def kinds_in(text: str) -> list[str]:
    """The kinds found in ``text``, in order."""
    return [finding.kind for finding in find_pii(text)]


VALID_MY_NUMBER = my_number("12345678901")
