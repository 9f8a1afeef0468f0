"""The report's per-case section: one expandable row per case, leaks first, then failures.

A row opens (``<details>``, no script) on the question, the answer, its citations, what was retrieved,
what the set expected and forbade, and the error if any. Every value passes through ``esc``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.eval.charts import as_list, as_map, esc, fmt, number

__all__ = ["cases_section", "is_leak_text", "leaking"]


def leaking(case: Mapping[str, Any]) -> bool:
    leaks = case.get("leaks")
    return bool(as_list(leaks)) or (number(leaks) or 0) > 0


def _rank(case: Mapping[str, Any]) -> int:
    return 0 if leaking(case) else 1 if case.get("passed") is not True else 2


def is_leak_text(failure: str) -> bool:
    return failure.lower().startswith("leak")


def cases_section(configs: list[Mapping[str, Any]]) -> str:
    out = [
        '<section><h2>Cases</h2><p class="note">Leaking cases first, then failed ones; click a case for the '
        "question, the answer, its citations and what was retrieved.</p>"
    ]
    for i, c in enumerate(configs):
        cases = [as_map(x) for x in as_list(c.get("cases"))]
        ranked = sorted(enumerate(cases), key=lambda kc: (_rank(kc[1]), kc[0]))
        failed = sum(1 for x in cases if x.get("passed") is not True)
        leaks = sum(1 for x in cases if leaking(x))
        out.append(
            f"<h3>{esc(c.get('name', f'config {i + 1}'))} <span class=count>{len(cases)} cases: "
            f"{len(cases) - failed} passed, {failed} failed, "
            f'<span class="{"leak" if leaks else ""}">{leaks} leaking</span></span></h3>'
        )
        out.append(
            '<div class="cases"><div class="row head"><span></span><span>Case</span><span>Tags</span>'
            "<span>As</span><span>Channel</span><span>Status</span><span>Hit</span><span>Facts</span>"
            "<span>Leak</span><span>Latency</span></div>"
        )
        out += [_case(case) for _, case in ranked]
        out.append("</div>")
    out.append("</section>")
    return "".join(out)


def _cell(text: object, cls: str = "") -> str:
    shown = esc(text) if text is not None and text != "" else "—"
    return f'<span class="{cls}" title="{shown}">{shown}</span>' if cls else f'<span title="{shown}">{shown}</span>'


def _case(case: Mapping[str, Any]) -> str:
    scores, expect, never = as_map(case.get("scores")), as_map(case.get("expect")), as_map(case.get("never"))
    leak, passed = leaking(case), case.get("passed") is True
    hit = number(scores.get("hit@k"))
    facts, recall = as_list(expect.get("facts")), number(scores.get("fact_recall"))
    found = f"{round(recall * len(facts))}/{len(facts)}" if facts and recall is not None else fmt("fact_recall", recall)
    status = "error" if case.get("error") else case.get("status")
    row = [
        '<span class="tw">▸</span>',
        _cell(case.get("id"), "id"),
        _cell(", ".join(str(t) for t in as_list(case.get("tags")))),
        _cell(case.get("as")),
        _cell(case.get("channel") if case.get("channel") is not None else "DM"),
        _cell(status, f"status {'bad' if status == 'error' else ''}"),
        f"<span>{'—' if hit is None else '✓' if hit >= 1 else '✗'}</span>",
        _cell(found),
        '<span class="leak">✗ leak</span>' if leak else '<span class="ok">✓</span>',
        f'<span class="num">{fmt("latency_ms", number(case.get("latency_ms")))}</span>',
    ]
    kind = "leak" if leak else "pass" if passed else "fail"
    out = [f'<details class="case case-{kind}"><summary class="row">{"".join(row)}</summary><dl>']
    out.append(f'<dt>Question</dt><dd class="text">{_show(case.get("question"))}</dd>')
    out.append(f'<dt>Answer</dt><dd class="text">{_show(case.get("answer"))}</dd>')
    citations = [as_map(x) for x in as_list(case.get("citations"))]
    items = [
        f"<li><code>{esc(x.get('source', ''))}</code> {esc(x.get('title', ''))}"
        f"{' — ' + esc(x['location']) if x.get('location') else ''}</li>"
        for x in citations
    ]
    out.append(f"<dt>Citations</dt><dd>{'<ol>' + ''.join(items) + '</ol>' if items else '—'}</dd>")
    out.append(f"<dt>Retrieved</dt><dd>{_retrieved(case, expect, never)}</dd>")
    shown = [("outcome", expect.get("outcome", "answer")), ("sources", expect.get("sources")), ("facts", facts or None)]
    out.append("<dt>Expected</dt><dd>" + _pairs(shown) + "</dd>")
    if never:
        forbidden = [("sources", never.get("sources")), ("strings", never.get("strings"))]
        out.append(f"<dt>Never</dt><dd>{_pairs(forbidden)}</dd>")
    if leak:
        items = [f"<li>{_show(x)}</li>" for x in as_list(case.get("leaks"))]
        out.append(f'<dt class="leak">Leaks</dt><dd class="leak"><ul>{"".join(items)}</ul></dd>')
    if case.get("error"):
        out.append(f'<dt class="bad">Error</dt><dd class="text bad">{_show(case.get("error"))}</dd>')
    out.append(f"<dt>Scores</dt><dd>{_pairs(list(scores.items())) or '—'}</dd>")
    timing = [
        ("latency", fmt("latency_ms", number(case.get("latency_ms")))),
        ("first token", fmt("first_token_ms", number(case.get("first_token_ms")))),
        ("tokens", fmt("tokens", number(case.get("tokens")))),
        ("audit record", case.get("audit_id")),
    ]
    out.append(f"<dt>Run</dt><dd>{_pairs(timing)}</dd></dl></details>")
    return "".join(out)


def _retrieved(case: Mapping[str, Any], expect: Mapping[str, Any], never: Mapping[str, Any]) -> str:
    wanted = {str(s) for s in as_list(expect.get("sources"))}
    banned = [str(s) for s in as_list(never.get("sources"))]
    items = []
    for doc in (str(d) for d in as_list(case.get("retrieved"))):
        if any(doc == b or (b.endswith("/") and doc.startswith(b)) for b in banned):
            items.append(f'<li class="leak"><code>{esc(doc)}</code> never allowed</li>')
        else:
            items.append(f"<li><code>{esc(doc)}</code>{' <b>expected</b>' if doc in wanted else ''}</li>")
    return f"<ol>{''.join(items)}</ol>" if items else "—"


def _pairs(pairs: Sequence[tuple[object, object]]) -> str:
    return " ".join(
        f'<span class="pair"><i>{esc(k)}</i> {_show(v)}</span>' for k, v in pairs if v is not None and v != []
    )


def _show(value: object) -> str:
    """A value of the set or the result (a fact may be a string, alternatives, or a pattern) as text."""
    if value is None:
        return "—"
    if isinstance(value, Mapping):
        if set(value) == {"pattern"}:
            return f"<code>/{esc(value['pattern'])}/</code>"
        return "; ".join(f"{esc(k)}: {_show(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return " · ".join(_show(v) if not isinstance(v, list | tuple) else " or ".join(map(_show, v)) for v in value)
    if isinstance(value, float):
        return esc(f"{value:.2f}")
    return esc(value)
