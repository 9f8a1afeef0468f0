"""Policy file checking: errors and warnings with file:line, and the loaders that raise."""

from __future__ import annotations

from pathlib import Path

import pytest

import policies
from policies import PolicyError, load_policy, load_policy_text
from policies.loader import check_policy_text

pytestmark = pytest.mark.unit

DEFAULT = Path(policies.__file__).parent / "default.yaml"

VALID = """\
version: 1
roles:
  employee:
    actions: [ask, minutes]
    clearance: internal
groups:
  all-staff:
    roles: [employee]
"""


def _line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """The 1-based line of the n-th line containing ``needle``."""
    hits = [n for n, line in enumerate(text.splitlines(), 1) if needle in line]
    return hits[occurrence - 1]


def test_default_policy_has_no_errors() -> None:
    """The shipped default policy checks clean."""
    report = check_policy_text(DEFAULT.read_text(encoding="utf-8"), str(DEFAULT))
    assert [] == report.errors
    assert report.policy is not None


def test_default_policy_has_no_warnings() -> None:
    """Every role of the default policy is reachable and every group grants something."""
    report = check_policy_text(DEFAULT.read_text(encoding="utf-8"), str(DEFAULT))
    assert [] == report.warnings


def test_valid_text_loads() -> None:
    """A small valid policy loads with its roles and groups."""
    policy = load_policy_text(VALID)
    assert {"employee"} == set(policy.roles)
    assert ("employee",) == policy.groups["all-staff"].roles


def test_unknown_action_names_its_line_and_action() -> None:
    """An action outside ACTIONS is an error at the line where it is written."""
    text = """\
version: 1
roles:
  employee:
    actions:
      - ask
      - dance
groups:
  all-staff:
    roles: [employee]
"""
    report = check_policy_text(text, "p.yaml")
    assert report.policy is None
    assert 1 == len(report.errors)
    assert report.errors[0].startswith(f"p.yaml:{_line_of(text, 'dance')}:")
    assert "'dance'" in report.errors[0]


def test_unknown_role_in_group_names_its_line() -> None:
    """A group granting a role the policy does not define is an error at that line."""
    text = """\
version: 1
roles:
  employee:
    actions: [ask]
groups:
  all-staff:
    roles: [employee]
  pilots:
    roles:
      - captain
"""
    report = check_policy_text(text, "p.yaml")
    assert report.policy is None
    assert 1 == len(report.errors)
    assert report.errors[0].startswith(f"p.yaml:{_line_of(text, 'captain')}:")
    assert "'captain'" in report.errors[0]


def test_unknown_classification_names_its_line() -> None:
    """A clearance that is not a classification is an error at its line."""
    text = """\
version: 1
roles:
  employee:
    actions: [ask]
    clearance: top-secret
groups:
  all-staff:
    roles: [employee]
"""
    report = check_policy_text(text, "p.yaml")
    assert report.policy is None
    assert 1 == len(report.errors)
    assert report.errors[0].startswith(f"p.yaml:{_line_of(text, 'top-secret')}:")
    assert "'top-secret'" in report.errors[0]


def test_unknown_classification_in_group_names_its_line() -> None:
    """A group's clearance is checked like a role's."""
    text = VALID + "  hr:\n    clearance: ultra\n"
    report = check_policy_text(text, "p.yaml")
    assert 1 == len(report.errors)
    assert report.errors[0].startswith(f"p.yaml:{_line_of(text, 'ultra')}:")


def test_unknown_key_is_an_error() -> None:
    """An extra field in a role is rejected, at its line."""
    text = """\
version: 1
roles:
  employee:
    actions: [ask]
    colour: blue
groups:
  all-staff:
    roles: [employee]
"""
    report = check_policy_text(text, "p.yaml")
    assert report.policy is None
    assert 1 == len(report.errors)
    assert report.errors[0].startswith(f"p.yaml:{_line_of(text, 'colour')}:")
    assert "colour" in report.errors[0]


def test_duplicate_key_names_the_second_occurrence() -> None:
    """A key written twice is an error at the line of the second one."""
    text = """\
version: 1
roles:
  employee:
    actions: [ask]
  employee:
    actions: [ask, minutes]
groups:
  all-staff:
    roles: [employee]
"""
    report = check_policy_text(text, "p.yaml")
    assert report.policy is None
    assert [f"p.yaml:{_line_of(text, 'employee:', 2)}: duplicate key 'employee'"] == report.errors


def test_invalid_yaml_is_an_error_not_an_exception() -> None:
    """Text that is not YAML is reported as an error."""
    report = check_policy_text("version: 1\nroles: [ask\n", "p.yaml")
    assert report.policy is None
    assert 1 == len(report.errors)
    assert "not valid YAML" in report.errors[0]


def test_unknown_yaml_tag_is_an_error_not_an_exception() -> None:
    """A scalar with an unknown tag is reported as an error, like any other bad YAML."""
    report = check_policy_text("version: !foo 1\nroles: {}\n", "p.yaml")
    assert report.policy is None
    assert 1 == len(report.errors)


@pytest.mark.parametrize("text", ["", "# nothing but a comment\n"])
def test_empty_file_is_an_error(text: str) -> None:
    """A file with no content is an error."""
    report = check_policy_text(text, "p.yaml")
    assert report.policy is None
    assert ["p.yaml:1: the policy file is empty"] == report.errors


def test_missing_required_field_is_an_error() -> None:
    """A policy without roles is rejected."""
    report = check_policy_text("version: 1\n", "p.yaml")
    assert report.policy is None
    assert 1 == len(report.errors)
    assert "roles" in report.errors[0]


def test_role_no_group_grants_is_unreachable() -> None:
    """A role that no group grants is a warning, not an error."""
    text = VALID.replace("groups:", "  auditor:\n    actions: [audit_export]\ngroups:")
    report = check_policy_text(text, "p.yaml")
    assert [] == report.errors
    assert report.policy is not None
    assert 1 == len(report.warnings)
    assert "unreachable" in report.warnings[0]
    assert "'auditor'" in report.warnings[0]


def test_unreachable_warning_names_the_role_line() -> None:
    """The unreachable warning points at the line where the role is named."""
    text = VALID.replace("groups:", "  auditor:\n    actions: [audit_export]\ngroups:")
    report = check_policy_text(text, "p.yaml")
    assert 1 == len(report.warnings)
    assert report.warnings[0].startswith(f"p.yaml:{_line_of(text, 'auditor:')}:")


def test_group_granting_nothing_is_a_warning() -> None:
    """A group with neither roles nor clearance is a warning."""
    text = VALID + "  visitors:\n    description: nothing\n"
    report = check_policy_text(text, "p.yaml")
    assert [] == report.errors
    assert 1 == len(report.warnings)
    assert "grants nothing" in report.warnings[0]


def test_load_policy_text_raises_with_every_error() -> None:
    """PolicyError.problems lists all errors, not just the first."""
    text = """\
version: 1
roles:
  employee:
    actions: [ask, dance]
    clearance: cosmic
groups:
  all-staff:
    roles: [employee, captain]
"""
    with pytest.raises(PolicyError) as info:
        load_policy_text(text, "p.yaml")
    problems = info.value.problems
    assert 3 == len(problems)
    assert any("'dance'" in p for p in problems)
    assert any("'cosmic'" in p for p in problems)
    assert any("'captain'" in p for p in problems)
    assert problems == check_policy_text(text, "p.yaml").errors


def test_load_policy_missing_file_raises_policy_error(tmp_path: Path) -> None:
    """A policy file that does not exist raises PolicyError naming it."""
    missing = tmp_path / "nope.yaml"
    with pytest.raises(PolicyError) as info:
        load_policy(missing)
    assert 1 == len(info.value.problems)
    assert info.value.problems[0].startswith(f"{missing}:1:")


def test_load_policy_records_source_and_version(tmp_path: Path) -> None:
    """A loaded policy names its file, and its version changes with its text."""
    path = tmp_path / "p.yaml"
    path.write_text(VALID, encoding="utf-8")
    first = load_policy(path)
    path.write_text(VALID + "# edited\n", encoding="utf-8")
    second = load_policy(path)
    assert str(path) == first.source
    assert first.version != second.version
