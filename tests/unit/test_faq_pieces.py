"""The FAQ's pure parts: paraphrase grouping and the distinct-askers rule, the policy's ``faq:``
section, and the exported page (escaped, self-contained)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from bot.faq import mining
from bot.faq.mining import Asked, frequent, paraphrase_groups
from bot.faq.render import export_html, export_markdown, review_actions
from knowledge.faq_store import FaqSourceView, FaqView
from policies import load_policy_text
from policies.loader import check_policy_text

pytestmark = pytest.mark.unit

POLICY = """\
version: 1
roles:
  employee:
    actions: [ask]
groups:
  all-staff:
    roles: [employee]
"""


def _cloud(centre: np.ndarray, n: int, spread: float, rng: np.random.Generator) -> np.ndarray:
    points = centre + spread * rng.standard_normal((n, centre.size)).astype(np.float32)
    return points / np.linalg.norm(points, axis=1, keepdims=True)


def test_groups_are_paraphrase_clouds_largest_first_each_row_once() -> None:
    rng = np.random.default_rng(7)
    centres = np.eye(16, dtype=np.float32)[:3]
    vectors = np.vstack([_cloud(centres[0], 5, 0.02, rng), _cloud(centres[1], 8, 0.02, rng), centres[2:3]])
    groups = paraphrase_groups(vectors, 0.9, min_size=2)
    assert [sorted(g) for g in groups] == [list(range(5, 13)), list(range(5))]
    assert len({i for g in groups for i in g}) == sum(len(g) for g in groups)


def test_similarities_are_computed_in_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    vectors = np.vstack([_cloud(np.eye(8, dtype=np.float32)[i], 7, 0.01, rng) for i in range(4)])
    whole = paraphrase_groups(vectors, 0.9)
    monkeypatch.setattr(mining, "BLOCK", 5)
    assert paraphrase_groups(vectors, 0.9) == whole


def test_one_persons_repeated_question_never_counts() -> None:
    rng = np.random.default_rng(1)
    vectors = np.vstack([_cloud(np.eye(8, dtype=np.float32)[0], 6, 0.01, rng), _cloud(np.eye(8)[1], 3, 0.01, rng)])
    askers = ["carol"] * 6 + ["alice", "BOB", "bob"]
    asked = [Asked(str(i), who, "q") for i, who in enumerate(askers)]
    assert frequent(asked, vectors, 0.9, min_askers=2) == [] or [
        g.askers for g in frequent(asked, vectors, 0.9, 2)
    ] == [2]
    groups = frequent(asked, vectors, 0.9, min_askers=2)
    assert [sorted(g.members) for g in groups] == [[6, 7, 8]]  # carol's six never make an entry
    assert groups[0].askers == 2  # bob twice is one asker
    assert abs(float(np.linalg.norm(groups[0].centroid)) - 1.0) < 1e-5
    assert frequent(asked, vectors, 0.9, min_askers=3) == []


def test_policy_faq_section_defaults_and_checks() -> None:
    assert load_policy_text(POLICY).faq.min_askers == 3
    rules = load_policy_text(POLICY + "faq:\n  min_askers: 5\n  match: 0.97\n  verify_every: 12w\n").faq
    assert (rules.min_askers, rules.match, rules.verify_every_days) == (5, 0.97, 84)
    report = check_policy_text(POLICY + "faq:\n  min_askers: 1\n", "p.yaml")
    assert report.errors
    assert "min_askers" in report.errors[0]
    report = check_policy_text(POLICY + "faq:\n  verify_every: soon\n", "p.yaml")
    assert report.errors == ["p.yaml:9: faq.verify_every: 'soon' is not a period (e.g. 90, 90d, 12w, 1y, forever)"]


def _entry(question: str, answer: str) -> FaqView:
    when = datetime(2026, 11, 28, tzinfo=UTC)
    source = FaqSourceView(1, "/kb", "handbook/a.md", "<b>Handbook</b>", ("group:all-staff",), 1, "hr@example.co.jp")
    return FaqView(7, question, answer, "ja", "approved", None, "mined", "dave@example.co.jp", 4, when, when, when,
                   "dave@example.co.jp", None, (source,))  # fmt: skip


def test_the_exported_page_escapes_everything_and_loads_nothing() -> None:
    page = export_html([_entry("<script>alert(1)</script>?", "a\nb <img src=x onerror=y>")], "FAQ", "ja")
    assert "<script>alert" not in page
    assert "&lt;img src=x onerror=y&gt;" in page
    assert "&lt;b&gt;Handbook&lt;/b&gt;" in page
    assert "http" not in page.lower().replace("http-equiv", "")
    markdown = export_markdown([_entry("Q?", "A.")], "FAQ")
    assert "### Q?" in markdown
    assert "2026-11-28" in markdown


def test_review_buttons_name_the_entry() -> None:
    assert [(a.name, a.value) for a in review_actions(_entry("Q", "A"), "en")] == [
        ("faq_approve", "7"),
        ("faq_edit", "7"),
        ("faq_reject", "7"),
    ]


def test_pieces_of_one_question_are_joined_by_their_centres() -> None:
    e = np.eye(6, dtype=np.float32)
    spread = [e[0] + 0.4 * e[1], e[0] - 0.4 * e[1], e[0] + 0.4 * e[2], e[0] - 0.4 * e[2], e[3] + 0.1 * e[4], e[3]]
    unit = np.stack([v / np.linalg.norm(v) for v in spread])
    assert float(unit[0] @ unit[2]) < 0.95  # apart at the grouping threshold
    assert mining.merged(unit, [[0, 1], [2, 3], [4, 5]], 0.95) == [[0, 1, 2, 3], [4, 5]]
