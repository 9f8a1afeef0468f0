"""The evaluation report: one self-contained page where everything from the result is inert data."""

from __future__ import annotations

import copy
import html
import json
import re
import stat
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from bot.eval.charts import TrendPoint, esc, trend_chart
from bot.eval.report import render_html, write_report

pytestmark = pytest.mark.unit

SCRIPT = "</script><script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
BIDI = "invoice\u202efdp.exe"
HOSTILE = [SCRIPT, IMG, BIDI, "<b>tag</b>", 'top3 "quick" <i>']
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
VOID = {"meta", "br", "hr", "img", "input", "link", "wbr", "col", "area", "base", "source"}


def _case(case_id: str, **extra: Any) -> dict[str, Any]:
    case: dict[str, Any] = {
        "id": case_id,
        "question": "経費精算の締め日はいつですか？",
        "as": "alice@example.co.jp",
        "channel": None,
        "tags": ["ja"],
        "expect": {"outcome": "answer", "sources": ["handbook/経費精算.md"], "facts": ["25日", ["翌月10日", "10th"]]},
        "never": {},
        "status": "answered",
        "answer": "締め日は毎月25日、支払いは翌月10日です。[1]",
        "citations": [{"source": "handbook/経費精算.md", "title": "経費精算規程", "location": "p. 3"}],
        "retrieved": ["handbook/経費精算.md"],
        "scores": {"hit@k": 1, "mrr": 1.0, "fact_recall": 1.0, "refusal_accuracy": 1, "abstention_accuracy": 1},
        "leaks": [],
        "latency_ms": 20100,
        "first_token_ms": 7900,
        "tokens": 812,
        "audit_id": "a-1",
        "error": None,
        "passed": True,
    }
    case.update(extra)
    return case


def _cases() -> list[dict[str, Any]]:
    return [
        _case(  # failed, and listed before the leak: the report must still show the leak first
            "expenses-deadline-ja",
            tags=["paraphrase", "ja"],
            scores={"hit@k": 1, "fact_recall": 0.5, "refusal_accuracy": 1, "abstention_accuracy": 1},
            passed=False,
        ),
        _case(
            "hr-salary-leak",
            question="G3の基本給はいくらですか？",
            expect={"outcome": "refused"},
            never={"sources": ["hr/"], "strings": ["350,000円"]},
            retrieved=["hr/給与規程.md"],
            leaks=["retrieved hr/給与規程.md, which alice may not read"],
            passed=False,
        ),
        _case("secret-refused", expect={"outcome": "refused"}, status="refused", answer="", citations=[], retrieved=[]),
        _case(
            "model-down",
            status="unavailable",
            answer="",
            error="model timed out <after 120 s>",
            latency_ms=None,
            first_token_ms=None,
            passed=False,
        ),
        _case(
            "hostile-1",
            question=SCRIPT + BIDI,
            answer=IMG,
            tags=["<b>tag</b>"],
            citations=[{"source": "a/<x>.md", "title": SCRIPT, "location": IMG}],
        ),
        _case("not-found-en", question="Where is the company trip?", expect={"outcome": "not_found"}, latency_ms=9000),
    ]


def _metrics(hit: float, leaks: int, p50: float) -> dict[str, Any]:
    rate = {"value": hit, "n": 40, "ci": [0.85, 0.98]}
    return {
        "hit@k": rate,
        "mrr": {"value": 0.88, "n": 40, "ci": [0.8, 0.95]},
        "fact_recall": {"value": 0.7, "n": 38, "ci": [0.61, 0.79]},
        "leaks": {"value": leaks, "n": 6, "ci": None},
        "latency_p50_ms": {"value": p50, "n": 5, "ci": None},
        "latency_p95_ms": {"value": 30500, "n": 5, "ci": None},
        "first_token_p50_ms": {"value": 7900, "n": 5, "ci": None},
        "tokens_mean": {"value": 812.4, "n": 5, "ci": None},
    }


def _result(trend: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    second = 'top3 "quick" <i>'
    return {
        "run": {
            "id": "ev-20261128-070000-3f2a",
            "set": "sample",
            "set_file": "bot/sample/eval/sample.yaml",
            "started_at": "2026-11-28T07:00:00+00:00",
            "seconds": 812.4,
            "cases": 6,
            "machine": "2 cores, Linux x86_64",
            "kura": "0.1.0",
        },
        "configs": [
            {
                "name": "default",
                "overrides": {},
                "settings": {"top_k": 5, "model": SCRIPT},
                "metrics": _metrics(0.92, 1, 21000),
                "by_tag": {"ja": {"hit@k": 0.9, "leaks": 1, "cases": 5}},
                "cases": _cases(),
            },
            {
                "name": second,
                "overrides": {"top_k": 3},
                "settings": {"top_k": 3},
                "metrics": _metrics(0.88, 0, 15200),
                "by_tag": {"<b>tag</b>": {"hit@k": 1.0, "cases": 1}},
                "cases": [c for c in _cases() if c["id"] != "hr-salary-leak"],
            },
        ],
        "comparison": [
            {
                "metric": "fact_recall",
                "baseline": "default",
                "config": second,
                "baseline_value": 0.7,
                "value": 0.75,
                "difference": 0.05,
                "ci": [-0.02, 0.11],
                "better": None,
            },
            {
                "metric": "hit@k",
                "baseline": "default",
                "config": second,
                "baseline_value": 0.92,
                "value": 0.88,
                "difference": -0.04,
                "ci": [-0.08, -0.01],
                "better": False,
            },
        ],
        "gates": [{"metric": "fact_recall", "config": "default", "min": 0.6, "value": 0.7, "passed": True}],
        "passed": False,
        "failures": [
            "default: 1 case(s) could not be run: model-down",
            "leak in case hr-salary-leak (default): retrieved hr/給与規程.md, which alice may not read",
        ],
        "trend": trend
        if trend is not None
        else [
            {
                "run_id": f"ev-{d}",
                "started_at": f"2026-11-2{d}T07:00:00+00:00",
                "config": "default",
                "metrics": {"hit@k": 0.8, "fact_recall": 0.6, "leaks": 0},
            }
            for d in range(3)
        ],
    }


class _Tags(HTMLParser):
    """Every element and attribute, and whether start and end tags nest."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.elements: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, attrs))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, attrs))

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()


def _parse(page: str) -> _Tags:
    parser = _Tags()
    parser.feed(page)
    parser.close()
    return parser


def test_the_page_is_inert_and_self_contained() -> None:
    page = render_html(_result())
    parsed = _parse(page)

    assert [] == parsed.problems
    assert [] == parsed.stack
    assert "<script" not in page.lower()
    assert re.search(r"<[^>]*\s(src|href|srcset|action|style)=", page, re.IGNORECASE) is None
    tags = {tag for tag, _ in parsed.elements}
    assert not tags & {"script", "img", "iframe", "link", "object", "embed", "form", "input", "base", "a"}
    assert all(not name.startswith("on") for _, attrs in parsed.elements for name, _ in attrs)
    assert f'<meta http-equiv="Content-Security-Policy" content="{CSP}">' in page
    assert page.index("Content-Security-Policy") < page.index("<style>")
    assert '<meta charset="utf-8">' in page
    assert '<html lang="en">' in page


def test_every_hostile_string_appears_only_escaped() -> None:
    page = render_html(_result())

    for text in HOSTILE:
        assert text not in page
        assert esc(text) in page
    assert "\u202e" not in page
    assert "invoice⟨U+202E⟩fdp.exe" in page
    assert "model timed out &lt;after 120 s&gt;" in page


def test_hidden_and_forbidden_characters_become_visible() -> None:
    assert "a⟨U+0000⟩b⟨U+200B⟩c⟨U+DC80⟩⟨U+2066⟩" == esc("a\x00b\u200bc\udc80\u2066")
    assert "x\ny" == esc("x\r\ny")
    result = _result()
    result["configs"][0]["cases"][0]["answer"] = "bell\x07 zero\u200bwidth lone\ud800"
    page = render_html(result)
    page.encode("utf-8")  # a lone surrogate would make the page unwritable
    assert "bell⟨U+0007⟩ zero⟨U+200B⟩width lone⟨U+D800⟩" in page


def test_japanese_text_and_case_ids_are_shown() -> None:
    page = render_html(_result())

    assert "経費精算の締め日はいつですか？" in page
    assert '"Noto Sans CJK JP","Hiragino Sans"' in page
    for case in _cases():
        assert esc(case["id"]) in page


def _summaries(page: str, config: int) -> list[tuple[str, str]]:
    """The case ids of one configuration's list, in the order shown."""
    block = page.split('<div class="cases">')[config + 1]
    row = r'<details class="case case-(\w+)"><summary class="row">.*?<span class="id" title="([^"]+)"'
    return [(m.group(1), m.group(2)) for m in re.finditer(row, block)]


def test_leaks_come_first_and_are_flagged() -> None:
    page = render_html(_result())

    first = _summaries(page, 0)
    assert ("leak", "hr-salary-leak") == first[0]
    assert [("fail", "expenses-deadline-ja"), ("fail", "model-down")] == first[1:3]
    assert all(kind == "pass" for kind, _ in first[3:])
    assert '<span class="leak">✗ leak</span>' in page
    assert '<div class="banner failed"><strong>FAILED</strong>' in page
    failures = re.search(r'<ul class="failures">(.*?)</ul>', page)
    assert failures is not None
    assert failures.group(1).startswith("<li class=leak>leak in case hr-salary-leak (default)")
    assert '<td class="num leakcell">1 <span class="n">n=6</span></td>' in page
    assert '<li class="leak"><code>hr/給与規程.md</code> never allowed</li>' in page


def test_a_leak_fails_the_banner_even_when_the_result_says_passed() -> None:
    result = _result()
    result["passed"], result["failures"] = True, []
    assert '<div class="banner failed"><strong>FAILED</strong>' in render_html(result)

    clean = _result()
    clean["passed"], clean["failures"] = True, []
    clean["configs"][0]["cases"] = [c for c in _cases() if c["id"] != "hr-salary-leak"]
    clean["configs"][0]["metrics"]["leaks"]["value"] = 0
    assert '<div class="banner passed"><strong>PASSED</strong>' in render_html(clean)


def test_numbers_shown_match_the_result() -> None:
    page = render_html(_result())

    assert '0.92 <span class="ci">(0.85–0.98)</span> <span class="n">n=40</span>' in page
    assert '0.70 <span class="ci">(0.61–0.79)</span> <span class="n">n=38</span>' in page
    assert "21,000 ms" in page
    assert "15,200 ms" in page
    assert "812.4" in page
    assert '+0.05 <span class="ci">(-0.02 to +0.11)</span> <span class="same">≈</span>' in page
    assert '-0.04 <span class="ci">(-0.08 to -0.01)</span> <span class="worse">▼ worse</span>' in page
    assert "20,100 ms" in page  # a case's latency
    assert ">2/2</span>" in page  # facts found of listed
    assert ">1/2</span>" in page
    bars = _svgs(page)[0]
    assert ">0.92</text>" in bars
    assert ">0.88</text>" in bars


def _xml(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 - the page under test, parsed to prove it is well-formed XML


def _svgs(page: str) -> list[str]:
    return re.findall(r"<svg.*?</svg>", page, flags=re.DOTALL)


def test_every_chart_is_well_formed_xml() -> None:
    svgs = _svgs(render_html(_result()))

    assert 3 == len(svgs)
    for svg in svgs:
        root = _xml(svg)
        assert "{http://www.w3.org/2000/svg}svg" == root.tag
    legend = _xml(svgs[0]).findall(".//{http://www.w3.org/2000/svg}title")
    assert 'top3 "quick" <i>' in [t.text for t in legend]


@pytest.mark.parametrize("earlier", [0, 1, 50])
def test_the_trend_handles_no_one_and_many_earlier_runs(earlier: int) -> None:
    trend = [
        {
            "run_id": f"ev-{i}",
            "started_at": "2026-11-01T07:00:00+00:00",
            "config": "default",
            "metrics": {"hit@k": i / 100, "leaks": 1 if i == 0 else 0},
        }
        for i in range(earlier)
    ]
    # The runner stores this run too: it is drawn once, as "this run".
    trend.append({"run_id": "ev-20261128-070000-3f2a", "config": "default", "metrics": {"hit@k": 0.92}})
    trend.append({"run_id": "other", "config": "top3", "metrics": {"hit@k": 0.1}})
    page = render_html(_result(trend))

    svgs = _svgs(page)
    if earlier == 0:
        assert "No earlier runs" in page
        assert 2 == len(svgs)
        return
    chart = _xml(svgs[2])
    lines = [p for p in chart.iter("{http://www.w3.org/2000/svg}path") if p.get("class") == "trend"]
    points = re.findall(r"[ML]", lines[0].get("d", ""))
    assert earlier + 1 == len(points)
    assert "this run" in svgs[2]
    assert "1 leak" in svgs[2]


def test_trend_chart_alone_with_fewer_than_two_points() -> None:
    assert "No earlier runs" in trend_chart([], [("hit@k", "Hit@k")])
    assert "No earlier runs" in trend_chart([TrendPoint("this run", {"hit@k": 0.5})], [("hit@k", "Hit@k")])


def test_a_sparse_result_still_renders() -> None:
    page = render_html({"run": {}, "configs": [{"name": "x", "metrics": {"hit@k": {"value": None}}}]})
    assert [] == _parse(page).problems
    assert "FAILED" in page
    assert 2 == len(_svgs(page))


def test_write_report_writes_both_files_whole(tmp_path: Path) -> None:
    result = _result()
    folder = tmp_path / "out" / "run-1"
    (tmp_path / "out").mkdir()

    path = write_report(result, folder)

    assert folder / "report.html" == path
    assert render_html(result) == path.read_text(encoding="utf-8")
    assert result == json.loads((folder / "report.json").read_text(encoding="utf-8"))
    assert "経費精算" in (folder / "report.json").read_text(encoding="utf-8")  # ensure_ascii=False
    assert ["report.html", "report.json"] == sorted(p.name for p in folder.iterdir())
    assert 0o600 == stat.S_IMODE(path.stat().st_mode)

    second = copy.deepcopy(result)
    second["run"]["id"] = "ev-second"
    write_report(second, folder)
    assert "ev-second" in path.read_text(encoding="utf-8")
    assert ["report.html", "report.json"] == sorted(p.name for p in folder.iterdir())


def test_a_failed_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    (tmp_path / "report.html").mkdir()  # the rename over it fails

    with pytest.raises(IsADirectoryError):
        write_report(_result(), tmp_path)

    assert ["report.html", "report.json"] == sorted(p.name for p in tmp_path.iterdir())
    assert (tmp_path / "report.html").is_dir()


def test_a_lone_surrogate_is_written_as_a_json_escape(tmp_path: Path) -> None:
    result = _result()
    result["configs"][0]["cases"][0]["question"] = "bad\ud800"

    write_report(result, tmp_path)

    assert (
        "bad\ud800"
        == json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))["configs"][0]["cases"][0]["question"]
    )
    assert html.escape("bad⟨U+D800⟩") in (tmp_path / "report.html").read_text(encoding="utf-8")
