"""The evaluation's pure parts: set loading and its errors, facts, "not found", scores, bootstrap
intervals, paired comparison, configuration overrides and gates."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import InputError
from bot.eval.cases import Case, Pattern, fact_found, load_set
from bot.eval.config import apply, load_config
from bot.eval.metrics import CaseOutcome, bootstrap, compare, passed, said_not_found, score_case
from bot.eval.service import parse_gates
from bot.settings import KuraSettings

SET = """
name: tiny
knowledge: ./kb
defaults: {as: alice@example.co.jp, tags: [t]}
cases:
  - id: a
    question: 経費精算の締め日は？
    expect: {sources: [handbook/経費精算.md], facts: ["25日", ["翌月10日", "10th"], {pattern: "2[05]"}]}
  - id: b
    question: G3の基本給は？
    channel: C-GENERAL
    tags: [leak]
    expect: {outcome: not_found}
    never: {sources: [hr/], strings: ["350,000", {pattern: "G3.{0,5}円"}]}
"""


def write(tmp_path: Path, text: str, name: str = "set.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_set_loads_with_defaults_and_knowledge(tmp_path: Path) -> None:
    loaded = load_set(write(tmp_path, SET))
    assert loaded.name == "tiny"
    assert loaded.knowledge == (tmp_path / "kb").resolve()
    a, b = loaded.cases
    assert a.asker == b.asker == "alice@example.co.jp"
    assert a.channel is None
    assert b.channel == "C-GENERAL"
    assert a.tags == ("t",)
    assert b.tags == ("t", "leak")
    assert b.expect.outcome == "not_found"
    assert b.never.sources == ("hr/",)
    assert isinstance(b.never.strings[1], Pattern)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("cases: []", "cases"),
        ("cases:\n  - {id: a, question: q, as: x}\n  - {id: a, question: q2, as: x}", "used twice"),
        ("cases:\n  - {id: a, question: q, as: x, expected: []}", "case a"),
        ("cases:\n  - {id: a, question: q, as: x, expect: {facts: [{pattern: '('}]}}", "does not compile"),
        ("cases:\n  - {id: 'a b', question: q, as: x}", "case a b"),
        ("cases:\n  - {id: a, question: q}", "as"),
        ("cases:\n  - {id: a, question: q, as: x, expect: {outcome: maybe}}", "case a"),
        ("bogus: 1\ncases:\n  - {id: a, question: q, as: x}", "bogus"),
        ("a: &x [1]\nb: *x", "not a readable YAML set"),
        ("- just\n- a list", "the file"),
    ],
)
def test_a_bad_set_is_one_line_naming_the_problem(tmp_path: Path, text: str, says: str) -> None:
    with pytest.raises(InputError) as caught:
        load_set(write(tmp_path, text))
    message = str(caught.value)
    assert says in message
    assert "\n" not in message


def test_a_missing_set_file_is_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        load_set(tmp_path / "nope.yaml")


def test_facts_are_found_by_string_alternative_or_pattern() -> None:
    answer = "締め日は毎月２５日です。支払いは翌月 10 日。"
    assert fact_found("25日", answer)  # NFKC: full-width digits
    assert fact_found(["10th", "翌月10日"], answer)  # whitespace ignored
    assert fact_found(Pattern(pattern=r"2[05]日"), answer)
    assert not fact_found("30日", answer)
    assert not fact_found(["30th", "末日"], answer)
    assert fact_found("VPN", "use the vpn")  # case folded


@pytest.mark.parametrize(
    ("status", "answer", "expected"),
    [
        ("no_sources", "", True),
        ("answered", "提供された資料には記載がありません。", True),
        ("answered", "I don't know: the documents do not say. [1]", True),
        ("answered", "The documents do not contain the base salary for G3.", True),
        ("answered", "G3の基本給は30万円です [1]。他の等級は記載がありません。", False),
        ("answered", "締め日は25日です [1]", False),
        ("refused", "提供された資料には記載がありません", False),
    ],
)
def test_said_not_found_reads_the_first_sentence(status: str, answer: str, expected: bool) -> None:
    assert said_not_found(status, answer) is expected


def case(**kw: object) -> Case:
    return Case.model_validate({"id": "c", "question": "q", "as": "a@x", **kw})


def test_scores_of_an_answer() -> None:
    c = case(expect={"sources": ["h/a.md", "h/b.md"], "facts": ["25日", "10日"]})
    out = CaseOutcome("answered", "25日です [1]", ("x.md", "h/b.md"), ("h/b.md", "x.md"), ())
    s = score_case(c, out)
    assert s["hit@k"] == 1.0
    assert s["mrr"] == 0.5
    assert s["citation_precision"] == 0.5
    assert s["citation_recall"] == 0.5
    assert s["fact_recall"] == 0.5
    assert s["refusal_accuracy"] == 1.0
    assert s["abstention_accuracy"] == 1.0
    assert not passed(c, s, ())  # a fact is missing
    full = CaseOutcome("answered", "25日、10日 [1]", ("h/a.md",), ("h/a.md",), ())
    assert passed(c, score_case(c, full), ())
    assert not passed(c, score_case(c, full), ("used hr/x.md",))  # a leak fails whatever the scores


def test_scores_of_not_found_and_refused_cases() -> None:
    nf = case(expect={"outcome": "not_found"})
    said = score_case(nf, CaseOutcome("no_sources", "", (), (), ()))
    assert said["abstention_accuracy"] == 1.0
    assert said["hit@k"] is None
    assert said["fact_recall"] is None
    answered = score_case(nf, CaseOutcome("answered", "G3は30万円 [1]", ("handbook/x.md",), ("handbook/x.md",), ()))
    assert answered["abstention_accuracy"] == 0.0
    assert not passed(nf, answered, ())
    refuse = case(expect={"outcome": "refused"})
    assert score_case(refuse, CaseOutcome("refused", "no", (), (), ()))["refusal_accuracy"] == 1.0
    assert score_case(refuse, CaseOutcome("answered", "yes", (), (), ()))["refusal_accuracy"] == 0.0
    answerable = case(expect={"sources": ["a.md"]})
    wrongly = score_case(answerable, CaseOutcome("refused", "no", (), (), ()))
    assert wrongly["refusal_accuracy"] == 0.0
    assert wrongly["abstention_accuracy"] == 0.0


def test_a_folder_in_expected_sources_matches_documents_under_it() -> None:
    c = case(expect={"sources": ["hr/"]})
    assert score_case(c, CaseOutcome("answered", "x", ("hr/給与規程.md",), (), ()))["hit@k"] == 1.0


def test_bootstrap_interval_holds_the_mean_and_narrows_with_more_cases() -> None:
    few = bootstrap([1.0, 0.0, 1.0, 1.0])
    many = bootstrap([1.0, 0.0, 1.0, 1.0] * 25)
    assert few is not None
    assert many is not None
    assert few[0] <= 0.75 <= few[1]
    assert many[0] <= 0.75 <= many[1]
    assert many[1] - many[0] < few[1] - few[0]
    assert bootstrap([1.0]) is None
    assert bootstrap([0.5, 0.5]) == (0.5, 0.5)


def test_compare_is_paired_and_says_better_only_when_the_interval_excludes_zero() -> None:
    base = {f"c{i}": {"fact_recall": 0.0} for i in range(30)}
    better = {f"c{i}": {"fact_recall": 1.0} for i in range(30)}
    difference, ci, verdict = compare(base, better, "fact_recall")
    assert difference == 1.0
    assert ci == (1.0, 1.0)
    assert verdict is True
    assert compare(better, base, "fact_recall")[2] is False
    mixed = {f"c{i}": {"fact_recall": float(i % 2)} for i in range(30)}
    assert compare(base, mixed, "fact_recall")[2] is True
    noisy = {f"c{i}": {"fact_recall": 1.0 if i == 0 else 0.0} for i in range(30)}
    assert compare(base, noisy, "fact_recall")[2] is None  # one case of thirty: not shown better
    assert compare(base, {}, "fact_recall") == (None, None, None)
    fewer = {f"c{i}": {"leaks": 0.0} for i in range(30)}
    more = {f"c{i}": {"leaks": 1.0} for i in range(30)}
    assert compare(fewer, more, "leaks")[2] is False  # lower is better


def test_config_short_keys_and_settings_sections(tmp_path: Path) -> None:
    settings = KuraSettings(data_dir=tmp_path)
    path = write(tmp_path, "name: small\ntop_k: 2\nretrieval_mode: vector\ntemperature: 0\n", "c.yaml")
    config = load_config(path, settings)
    assert config.name == "small"
    assert not config.chunking
    changed = apply(settings, config)
    assert changed.retrieval.top_k == 2
    assert changed.retrieval.mode == "vector"
    assert changed.llm.temperature == 0
    assert settings.retrieval.top_k == 5  # the live settings are untouched
    chunk = load_config(write(tmp_path, "chunk_tokens: 128\n", "chunk.yaml"), settings)
    assert chunk.name == "chunk"
    assert chunk.chunking


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("retrieval_mode: fuzzy\n", "mode"),
        ("top_k: many\n", "top_k"),
        ("settings: {database: {url: 'postgresql://elsewhere'}}\n", "database"),
        ("settings: {policy: {file: /tmp/open.yaml}}\n", "policy"),
        ("settings: {secondary: {base_url: 'https://cloud.example'}}\n", "secondary"),
        ("settings: {embedding: {backend: openai}}\n", "embedding"),
        ("settings: {retrieval: {colour: blue}}\n", "colour"),
        ("unknown_key: 1\n", "unknown_key"),
    ],
)
def test_a_bad_config_is_refused_before_anything_runs(tmp_path: Path, text: str, says: str) -> None:
    with pytest.raises(InputError, match=says):
        load_config(write(tmp_path, text, "c.yaml"), KuraSettings(data_dir=tmp_path))


def test_gates_name_quality_metrics_only() -> None:
    assert parse_gates(["fact_recall=0.6", "hit@k=0.9"]) == {"fact_recall": 0.6, "hit@k": 0.9}
    for bad in ("leaks=0", "latency_p50_ms=100", "fact_recall=high", "nothing"):
        with pytest.raises(InputError):
            parse_gates([bad])
