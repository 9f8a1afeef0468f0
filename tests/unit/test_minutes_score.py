"""The minutes benchmark's scorer (``bench/_minutes_score.py``) and the answer keys it reads.

The scorer lives with the benchmark, not in the package, so it is loaded from its file.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from knowledge.transcripts import parse_transcript

pytestmark = pytest.mark.unit

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_minutes_score", BENCH / "_minutes_score.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


ms = _load()
KEYS = sorted((BENCH / "minutes").glob("*.yaml"))


def _key(path: Path) -> Any:
    return ms.key_from_mapping(yaml.safe_load(path.read_text(encoding="utf-8")))


def _as_written(key: Any) -> Any:
    """The answer key itself, as if the writer had produced exactly it."""
    return ms.Predicted(
        key.decisions,
        tuple(ms.PredictedAction(a.task, a.owner, a.due) for a in key.action_items),
        key.open_questions,
    )


def test_the_set_has_the_meetings_the_benchmark_needs() -> None:
    keys = [_key(p) for p in KEYS]
    assert len(keys) >= 6
    assert {"ja", "en"} == {k.language for k in keys}
    assert any(k.language == "ja" and k.minutes == 60 for k in keys)
    assert any(k.minutes >= 90 for k in keys)
    assert any(k.minutes <= 20 for k in keys)
    assert any(any("budget" in m for m in k.must_not_appear) for k in keys)


@pytest.mark.parametrize("path", KEYS, ids=lambda p: p.stem)
def test_each_answer_key_scores_perfectly_against_itself(path: Path) -> None:
    key = _key(path)
    got = ms.score(_as_written(key), key)
    for counts in (got.decisions, got.actions, got.actions_full, got.questions):
        assert (counts.expected, counts.expected, counts.expected) == (
            counts.matched,
            counts.predicted,
            counts.expected,
        )
    assert () == got.violations


@pytest.mark.parametrize("path", KEYS, ids=lambda p: p.stem)
def test_each_transcript_parses_and_covers_the_keys_references(path: Path) -> None:
    key = _key(path)
    lines = parse_transcript(key.transcript, (path.parent / key.transcript).read_bytes())
    last = lines[-1].ref
    refs = [raw["ref"] for kind in ("decisions", "action_items") for raw in yaml.safe_load(path.read_text())[kind]]
    assert all(re.fullmatch(r"\d\d:\d\d:\d\d", r) and r <= last for r in refs)
    # the meeting really is as long as it says (within two minutes)
    h, m, s = (int(x) for x in last.split(":"))
    assert abs(h * 60 + m + s / 60 - key.minutes) < 2


@pytest.mark.parametrize(
    ("expected", "paraphrase"),
    [
        ("本番切替日を12月6日（土）に変更する", "本番の切替日を12月6日の土曜日に変更した"),
        ("移行ツールのテスト結果を資料にまとめる", "山田さんが来週金曜までに移行ツールのテスト結果をまとめる"),
        (
            "Move the monthly patch window to the second Saturday, 10 pm to 2 am",
            "Patch window moves to the second Saturday of each month (10pm-2am)",
        ),
        (
            "Submit the budget request to finance at 1.2 million as drafted",
            "The budget request of 1.2 million will be submitted to finance",
        ),
    ],
)
def test_a_paraphrase_matches(expected: str, paraphrase: str) -> None:
    assert [(0, 0)] == ms.match([paraphrase], [expected])


@pytest.mark.parametrize(
    ("expected", "other"),
    [
        ("移行ツールのテスト結果を資料にまとめる", "バックアップからの復元テストを実施する"),
        ("在宅勤務の上限日数は設けず、部門長の承認制にする", "在宅勤務の通信手当は月3,000円とする"),
        ("Update the rollback runbook", "Draft the communication to all staff about the new patch window"),
        (
            "Will the CFO accept splitting cloud costs as opex and the hardware refresh as capex?",
            "Are contractors' laptops in scope for the refresh?",
        ),
    ],
)
def test_a_different_item_of_the_same_meeting_does_not(expected: str, other: str) -> None:
    assert [] == ms.match([other], [expected])


def test_matching_is_one_to_one_and_prefers_the_closest_pair() -> None:
    expected = ["Update the rollback runbook", "Get quotes for the laptop refresh"]
    predicted = [
        "Update the rollback runbook by October",
        "Update the rollback runbook",
        "Obtain laptop refresh quotes",
    ]
    assert [(1, 0), (2, 1)] == ms.match(predicted, expected)


def test_normalising_folds_width_case_spaces_and_punctuation() -> None:
    assert "vpn装置のfw更新22時" == ms.normalise("ＶＰＮ装置の ＦＷ更新、22時！")
    assert 1.0 == ms.similarity("Budget: 1.2M", "budget 1.2m")


@pytest.mark.parametrize(
    ("predicted", "expected", "same"),
    [
        ("山田 太郎", "山田さん", True),
        ("佐藤", "佐藤部長", True),
        ("Raj-san", "raj", True),
        ("Tanaka san", "Tanaka", True),
        ("Susan", "Su", False),
        ("山田太郎", "山田さん", True),
        ("Emily Carter", "Emily", True),
        ("鈴木課長", "鈴木様", True),
        (None, None, True),
        (None, "山田さん", False),
        ("山田", None, False),
        ("山田", "鈴木さん", False),
        ("さん", "山田さん", False),
    ],
)
def test_owner_matching_ignores_honorifics_and_full_names(
    predicted: str | None, expected: str | None, same: bool
) -> None:
    assert same == ms.owner_matches(predicted, expected)


@pytest.mark.parametrize(
    ("predicted", "expected", "same"),
    [
        ("来週金曜", "来週金曜まで", True),
        ("Friday", "by Friday", True),
        ("End of the month", "end of the month", True),
        (None, None, True),
        (None, "今月末まで", False),
        ("今月末", "来週金曜まで", False),
    ],
)
def test_due_matching_is_containment_either_way(predicted: str | None, expected: str | None, same: bool) -> None:
    assert same == ms.due_matches(predicted, expected)


def test_a_perturbed_copy_loses_exactly_what_was_changed() -> None:
    key = _key(BENCH / "minutes" / "ja_file_server_migration_60min.yaml")
    perfect = _as_written(key)
    actions = list(perfect.action_items)
    actions[0] = replace(actions[0], owner="鈴木")  # wrong owner
    actions[1] = replace(actions[1], due="来週")  # a due the meeting did not give
    actions.append(ms.PredictedAction("議事録を共有する", "佐藤", None))  # not an action of this meeting
    perturbed = replace(perfect, decisions=perfect.decisions[1:], action_items=tuple(actions), open_questions=())
    got = ms.score(perturbed, key)
    assert ms.Counts(3, 3, 4) == got.decisions
    assert ms.Counts(5, 6, 5) == got.actions
    assert ms.Counts(3, 6, 5) == got.actions_full
    assert (4, 4) == (got.owner_matched, got.due_matched)
    assert ms.Counts(0, 0, 3) == got.questions
    assert got.questions.precision is None


def test_a_forbidden_statement_is_a_violation_and_its_denial_is_not() -> None:
    key = _key(BENCH / "minutes" / "en_it_quarterly_planning_90min.yaml")
    approved = ms.Predicted(("The budget was approved.", "Budget not yet approved"), (), (), ("Budget approved?",))
    assert ("The budget was approved.",) == ms.score(approved, key).violations
    reversed_date = ms.Predicted(("本番切替日を11月22日から12月6日に変更",), (), ())
    ja_key = _key(BENCH / "minutes" / "ja_file_server_migration_60min.yaml")
    assert () == ms.score(reversed_date, ja_key).violations
    assert 1 == len(ms.score(ms.Predicted(("本番切替日は11月22日（土）",), (), ()), ja_key).violations)


def test_totals_add_counts_not_ratios() -> None:
    a = ms.MeetingScore(decisions=ms.Counts(1, 1, 4))
    b = ms.MeetingScore(decisions=ms.Counts(3, 4, 4), violations=("x",))
    total = ms.add_scores([a, b])
    assert (0.8, 0.5, ("x",)) == (total.decisions.precision, total.decisions.recall, total.violations)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"language": "fr"}, "language: expected ja or en"),
        ({"minutes": 0}, "minutes: expected a positive whole number"),
        ({"action_items": [{"task": "x", "due": None, "ref": "00:00:01"}]}, "action_items[0]: missing 'owner'"),
        ({"decisions": [{"text": "", "ref": "00:00:01"}]}, "decisions[0].text: expected a non-empty string"),
        ({"open_questions": "why"}, "open_questions: expected a list"),
    ],
)
def test_a_malformed_answer_key_names_the_field(change: dict[str, object], message: str) -> None:
    good = {"transcript": "m.vtt", "language": "ja", "minutes": 10}
    with pytest.raises(ms.AnswerKeyError, match=re.escape(message)):
        ms.key_from_mapping({**good, **change})
