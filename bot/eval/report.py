"""The evaluation report: the result JSON as ``report.json`` and one self-contained ``report.html``.

The page loads nothing (a CSP meta forbids it), runs no script (``<details>`` opens a case), and
treats everything from the result as data: each string passes through :func:`bot.eval.charts.esc`.
The shape read is the result JSON of ``kura eval`` (README, "Evaluation"); missing or odd values
show as "—" rather than stopping a report of a run that took a quarter of an hour."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.eval.charts import (
    Bar,
    LatencySeries,
    TrendPoint,
    as_list,
    as_map,
    esc,
    fmt,
    fmt_difference,
    latency_chart,
    metric_bars,
    number,
    trend_chart,
)
from bot.eval.files import write_atomic
from bot.eval.metrics import QUALITY_METRICS
from bot.eval.report_cases import cases_section, is_leak_text, leaking

__all__ = ["render_html", "write_report"]

#: Metrics on a 0..1 scale (higher is better), in the order the report shows them; then the others.
RATES = QUALITY_METRICS
OTHERS = ("leaks", "latency_p50_ms", "latency_p95_ms", "first_token_p50_ms", "tokens_mean")
LABELS = {
    "hit@k": "Hit@k (retrieval)",
    "mrr": "MRR (retrieval)",
    "citation_precision": "Citation precision",
    "citation_recall": "Citation recall",
    "fact_recall": "Fact recall",
    "refusal_accuracy": "Refusal accuracy",
    "abstention_accuracy": "Abstention accuracy",
    "faithfulness": "Faithfulness (judge)",
    "leaks": "Leaks (must be 0)",
    "latency_p50_ms": "Latency p50",
    "latency_p95_ms": "Latency p95",
    "first_token_p50_ms": "First token p50",
    "tokens_mean": "Tokens (mean)",
}
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def write_report(result: Mapping[str, Any], directory: Path) -> Path:
    """Write ``report.json`` and ``report.html`` into ``directory`` (created if need be).

    Each file is written whole or not at all (a new 0600 file in the same folder, synced, then
    renamed over the old one): a report holds answers drawn from internal documents.

    Returns:
        The path of the HTML report.
    """
    page = render_html(result)  # first: a result that cannot be rendered leaves the old report alone
    directory.mkdir(parents=True, exist_ok=True)
    data = json.dumps(result, ensure_ascii=False, indent=2) + "\n"
    # A lone surrogate cannot be UTF-8; "\udXXX" is how JSON itself writes one.
    write_atomic(directory / "report.json", data.encode("utf-8", "backslashreplace"))
    path = directory / "report.html"
    write_atomic(path, page.encode("utf-8"))
    return path


def render_html(result: Mapping[str, Any]) -> str:
    """The whole report as one HTML page with inline CSS and SVG, no script and nothing to fetch."""
    run = as_map(result.get("run"))
    configs = [as_map(c) for c in as_list(result.get("configs"))]
    title = f"Kura evaluation — {run.get('set') or 'set'}"
    return "".join(
        [
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
            '<meta name="referrer" content="no-referrer">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{esc(title)}</title><style>{STYLE}</style></head><body><main>",
            _header(result, run, configs, title),
            _metrics_section(result, configs),
            _charts_section(result, run, configs),
            _tags_section(configs),
            cases_section(configs),
            "</main></body></html>\n",
        ]
    )


def _header(result: Mapping[str, Any], run: Mapping[str, Any], configs: list[Mapping[str, Any]], title: str) -> str:
    leaked = any(leaking(as_map(case)) for c in configs for case in as_list(c.get("cases"))) or any(
        (number(as_map(as_map(c.get("metrics")).get("leaks")).get("value")) or 0) > 0 for c in configs
    )
    # Any leak fails the run whatever else the result says: the banner never shows PASSED over one.
    passed = result.get("passed") is True and not leaked
    failures = [str(f) for f in as_list(result.get("failures"))]
    failures.sort(key=lambda f: not is_leak_text(f))
    facts = [
        ("Set", run.get("set")),
        ("Set file", run.get("set_file")),
        ("Run", run.get("id")),
        ("Started", _when(run.get("started_at"))),
        ("Cases", run.get("cases")),
        ("Seconds", run.get("seconds")),
        ("Machine", run.get("machine")),
        ("Kura", run.get("kura")),
    ]
    out = [f'<header><h1>{esc(title)}</h1><dl class="run">']
    out += [f"<div><dt>{name}</dt><dd>{esc(v) if v is not None else '—'}</dd></div>" for name, v in facts]
    verdict = "PASSED" if passed else "FAILED"
    out.append(f'</dl><div class="banner {verdict.lower()}"><strong>{verdict}</strong>')
    if failures:
        out.append('<ul class="failures">')
        out += [f"<li{' class=leak' if is_leak_text(f) else ''}>{esc(f)}</li>" for f in failures]
        out.append("</ul>")
    elif not passed:
        why = "Leaks found: see the cases below." if leaked else "The result does not say the run passed."
        out.append(f"<p>{why}</p>")
    out.append("</div>")
    gates = [as_map(g) for g in as_list(result.get("gates"))]
    if gates:
        heads = _heads("Metric Configuration Threshold Value Result")
        out.append(f"<table><caption>Gates</caption><tr>{heads}</tr>")
        for g in gates:
            name = str(g.get("metric", ""))
            limit = " ".join(f"{k} {fmt(name, number(g.get(k)))}" for k in ("min", "max") if k in g)
            value, ok = fmt(name, number(g.get("value"))), g.get("passed") is True
            out.append(
                f"<tr><td>{esc(LABELS.get(name, name))}</td><td>{esc(g.get('config', '—'))}</td><td>{esc(limit)}</td>"
                f'<td class=num>{value}</td><td class="{"ok" if ok else "bad"}">{"passed" if ok else "failed"}</td>'
                "</tr>"
            )
        out.append("</table>")
    out.append("</header>")
    return "".join(out)


def _heads(names: str) -> str:
    return "".join(f"<th>{n}</th>" for n in names.split())


def _when(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    return moment.strftime("%Y-%m-%d %H:%M:%S %Z").strip()


def _metric_names(configs: Sequence[Mapping[str, Any]]) -> list[str]:
    present = {str(k) for c in configs for k in as_map(c.get("metrics"))}
    known = [m for m in (*RATES, *OTHERS) if m in present]
    return known + sorted(present - set(known))


def _baseline(result: Mapping[str, Any], configs: Sequence[Mapping[str, Any]]) -> str:
    for item in as_list(result.get("comparison")):
        if isinstance(item, Mapping) and item.get("baseline") is not None:
            return str(item["baseline"])
    return str(configs[0].get("name", "")) if configs else ""


def _metrics_section(result: Mapping[str, Any], configs: list[Mapping[str, Any]]) -> str:
    names = [str(c.get("name", f"config {i + 1}")) for i, c in enumerate(configs)]
    baseline = _baseline(result, configs)
    others = [n for n in names if n != baseline]
    compared = {
        (str(item.get("config")), str(item.get("metric"))): item
        for item in (as_map(x) for x in as_list(result.get("comparison")))
    }
    out = ['<section><h2>Metrics</h2><p class="note">Value (95% bootstrap interval), n = cases the metric applies to.']
    if others:
        out.append(
            f" Δ = difference from the baseline <b>{esc(baseline)}</b> over the cases both have;"
            " ▲ better / ▼ worse when its interval excludes 0, ≈ when it does not."
        )
    out.append('</p><div class="wide"><table class="metrics"><tr><th>Metric</th>')
    out += [f"<th>{esc(n)}</th>" for n in names]
    out += [f"<th>Δ {esc(n)}</th>" for n in others]
    out.append("</tr>")
    by_name = dict(zip(names, configs, strict=True))
    for metric in _metric_names(configs):
        out.append(f"<tr><th scope=row>{esc(LABELS.get(metric, metric))}</th>")
        for c in configs:
            out.append(_metric_cell(metric, as_map(as_map(c.get("metrics")).get(metric))))
        for n in others:
            mine = number(as_map(as_map(by_name[n].get("metrics")).get(metric)).get("value"))
            theirs = number(as_map(as_map(as_map(by_name.get(baseline)).get("metrics")).get(metric)).get("value"))
            out.append(_difference_cell(metric, compared.get((n, metric)), mine, theirs))
        out.append("</tr>")
    out.append("</table></div>")
    out.append(_settings_table(configs, names))
    out.append("</section>")
    return "".join(out)


def _metric_cell(metric: str, m: Mapping[str, Any]) -> str:
    value = number(m.get("value"))
    if value is None:
        return '<td class="na">—</td>'
    ci = [number(v) for v in as_list(m.get("ci"))]
    text = fmt(metric, value)
    if len(ci) == 2 and ci[0] is not None and ci[1] is not None:
        text += f' <span class="ci">({fmt(metric, ci[0])}–{fmt(metric, ci[1])})</span>'
    n = number(m.get("n"))
    if n is not None:
        text += f' <span class="n">n={n:g}</span>'
    leak = metric == "leaks" and value > 0
    return f'<td class="num{" leakcell" if leak else ""}">{text}</td>'


def _difference_cell(metric: str, item: Mapping[str, Any] | None, mine: float | None, theirs: float | None) -> str:
    if item is not None and number(item.get("difference")) is not None:
        diff = number(item.get("difference"))
        ci = [number(v) for v in as_list(item.get("ci"))]
        better = item.get("better")
    elif mine is not None and theirs is not None:
        diff, ci, better = mine - theirs, [], None
    else:
        return '<td class="na">—</td>'
    assert diff is not None  # noqa: S101 - both branches above give a number; mypy cannot see it
    text = fmt_difference(metric, diff)
    if len(ci) == 2 and ci[0] is not None and ci[1] is not None:
        text += f' <span class="ci">({fmt_difference(metric, ci[0])} to {fmt_difference(metric, ci[1])})</span>'
    if better is True:
        text += ' <span class="better">▲ better</span>'
    elif better is False:
        text += ' <span class="worse">▼ worse</span>'
    elif len(ci) == 2:
        text += ' <span class="same">≈</span>'
    return f'<td class="num">{text}</td>'


def _settings_table(configs: Sequence[Mapping[str, Any]], names: Sequence[str]) -> str:
    keys = sorted({str(k) for c in configs for k in as_map(c.get("settings"))})
    if not keys:
        return ""
    out = ['<details class="settings"><summary>Settings of each configuration (overrides in bold)</summary>']
    out.append("<table><tr><th>Setting</th>" + "".join(f"<th>{esc(n)}</th>" for n in names) + "</tr>")
    for key in keys:
        out.append(f"<tr><th scope=row>{esc(key)}</th>")
        for c in configs:
            settings, overrides = as_map(c.get("settings")), as_map(c.get("overrides"))
            value = esc(json.dumps(settings.get(key), ensure_ascii=False)) if key in settings else "—"
            out.append(f"<td><b>{value}</b></td>" if key in overrides else f"<td>{value}</td>")
        out.append("</tr>")
    out.append("</table></details>")
    return "".join(out)


def _charts_section(result: Mapping[str, Any], run: Mapping[str, Any], configs: list[Mapping[str, Any]]) -> str:
    names = [str(c.get("name", f"config {i + 1}")) for i, c in enumerate(configs)]
    rows: list[tuple[str, list[Bar | None]]] = []
    for metric in (m for m in _metric_names(configs) if m in RATES):
        bars: list[Bar | None] = []
        for c in configs:
            m = as_map(as_map(c.get("metrics")).get(metric))
            value, ci = number(m.get("value")), [number(v) for v in as_list(m.get("ci"))]
            low, high = (ci[0], ci[1]) if len(ci) == 2 else (None, None)
            bars.append(None if value is None else Bar(value, low, high))
        rows.append((LABELS.get(metric, metric), bars))
    out = ["<section><h2>Charts</h2>"]
    out.append("<figure><figcaption>Quality per configuration (bars: value, whiskers: 95% interval)</figcaption>")
    out.append(metric_bars(rows, names) if rows else '<p class="empty">No quality metrics in this result.</p>')
    out.append(
        "</figure><figure><figcaption>Latency per case: box = middle half, thick line = median, "
        "whiskers = fastest to slowest; dots = total, dashes = first token</figcaption>"
    )
    series = [_latency_series(name, c) for name, c in zip(names, configs, strict=True)]
    out.append(latency_chart(series) if series else '<p class="empty">No configurations in this result.</p>')
    baseline = names[0] if names else ""
    out.append(f"</figure><figure><figcaption>Trend of earlier runs of this set ({esc(baseline)})</figcaption>")
    out.append(trend_chart(_trend_points(result, run, configs[0] if configs else {}, baseline), _trend_metrics()))
    out.append("</figure></section>")
    return "".join(out)


def _latency_series(name: str, config: Mapping[str, Any]) -> LatencySeries:
    cases = [as_map(c) for c in as_list(config.get("cases"))]
    total = [v for v in (number(c.get("latency_ms")) for c in cases) if v is not None]
    first = [v for v in (number(c.get("first_token_ms")) for c in cases) if v is not None]
    metrics = as_map(config.get("metrics"))

    def caption(keys: Sequence[tuple[str, str]], count: int) -> str:
        parts = [f"{word} {fmt(key, number(as_map(metrics.get(key)).get('value')))}" for key, word in keys]
        return " · ".join([*parts, f"n={count}"])

    return LatencySeries(
        name,
        total,
        first,
        caption((("latency_p50_ms", "p50"), ("latency_p95_ms", "p95")), len(total)),
        caption((("first_token_p50_ms", "p50"),), len(first)),
    )


def _trend_metrics() -> list[tuple[str, str]]:
    return [(m, LABELS[m]) for m in RATES]


def _trend_points(
    result: Mapping[str, Any], run: Mapping[str, Any], config: Mapping[str, Any], name: str
) -> list[TrendPoint]:
    points: list[TrendPoint] = []
    for item in (as_map(x) for x in as_list(result.get("trend"))):
        if item.get("config") not in (None, name) or (run.get("id") and item.get("run_id") == run.get("id")):
            continue
        points.append(_point(_when(item.get("started_at")) or str(item.get("run_id", "")), as_map(item.get("metrics"))))
    if config:  # this run is the newest point
        values = {str(k): as_map(v).get("value") for k, v in as_map(config.get("metrics")).items()}
        points.append(_point("this run", values))
    return points


def _point(label: str, metrics: Mapping[str, Any]) -> TrendPoint:
    values = {k: v for k, v in ((m, number(metrics.get(m))) for m in RATES) if v is not None}
    return TrendPoint(label[:16], values, number(metrics.get("leaks")))


def _tags_section(configs: list[Mapping[str, Any]]) -> str:
    out = ["<section><h2>By tag</h2>"]
    for i, c in enumerate(configs):
        by_tag = as_map(c.get("by_tag"))
        counts: dict[str, int] = {}
        for case in (as_map(x) for x in as_list(c.get("cases"))):
            for tag in as_list(case.get("tags")):
                counts[str(tag)] = counts.get(str(tag), 0) + 1
        metrics = _metric_names([{"metrics": {k: 1 for t in by_tag.values() for k in as_map(t) if k != "cases"}}])
        out.append(f"<h3>{esc(c.get('name', f'config {i + 1}'))}</h3>")
        if not by_tag:
            out.append('<p class="empty">No tags.</p>')
            continue
        out.append('<div class="wide"><table class="tags"><tr><th>Tag</th><th>Cases</th>')
        out += [f"<th>{esc(LABELS.get(m, m))}</th>" for m in metrics]
        out.append("</tr>")
        for tag in sorted(by_tag, key=str):
            values = as_map(by_tag[tag])
            count = number(values.get("cases"))  # the runner counts a tag's cases; older results may not
            shown = f"{count:g}" if count is not None else counts.get(str(tag), "—")
            out.append(f"<tr><th scope=row>{esc(tag)}</th><td class=num>{shown}</td>")
            for m in metrics:
                raw = values.get(m)
                v = number(as_map(raw).get("value") if isinstance(raw, Mapping) else raw)
                leak = m == "leaks" and (v or 0) > 0
                out.append(f'<td class="num{" leakcell" if leak else ""}">{fmt(m, v)}</td>')
            out.append("</tr>")
        out.append("</table></div>")
    out.append("</section>")
    return "".join(out)


# Readable at 1280 px and on paper; system fonts only (the CSP forbids font files), Japanese first
# so kanji get Japanese glyph shapes whatever the page language.
STYLE = """
:root{--ink:#1d1d1f;--mute:#5f6368;--line:#d9dce1;--leak:#c62828;--leakbg:#fdecea;--fail:#8a5300;--failbg:#fff6e0;
--ok:#1e7b34;--okbg:#e8f5ea}
*{box-sizing:border-box}
body{margin:0;color:var(--ink);background:#fff;font:14px/1.5 "Noto Sans CJK JP","Hiragino Sans",
"Hiragino Kaku Gothic ProN","Yu Gothic","Meiryo",system-ui,sans-serif;font-variant-numeric:tabular-nums}
main{max-width:1240px;margin:0 auto;padding:20px}
h1{font-size:24px;margin:0 0 8px}h2{font-size:19px;margin:28px 0 8px;border-bottom:2px solid var(--line)}
h3{font-size:15px;margin:18px 0 6px}.count{font-weight:normal;color:var(--mute);margin-left:8px}
.note,.empty,.na{color:var(--mute)}.ci,.n{color:var(--mute);font-size:12px}
dl.run{display:flex;flex-wrap:wrap;gap:4px 24px;margin:0 0 12px}dl.run div{display:flex;gap:6px}
dl.run dt{color:var(--mute)}dl.run dd{margin:0;overflow-wrap:anywhere}
.banner{padding:10px 14px;border-radius:6px;margin:8px 0;font-size:15px}.banner strong{font-size:20px}
.banner.passed{background:var(--okbg);color:var(--ok)}.banner.failed{background:var(--leakbg);color:var(--ink);
border-left:6px solid var(--leak)}.banner.failed strong{color:var(--leak)}
.failures{margin:6px 0 0;padding-left:20px}.failures li{overflow-wrap:anywhere}
li.leak,.leak,dd.leak{color:var(--leak);font-weight:600}.ok{color:var(--ok)}.bad{color:var(--leak)}
.better{color:var(--ok);font-weight:600}.worse{color:var(--leak);font-weight:600}.same{color:var(--mute)}
.wide{overflow-x:auto}table{border-collapse:collapse;margin:6px 0}
th,td{border:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top;overflow-wrap:anywhere}
th{background:#f4f5f7}td.num{text-align:right;white-space:nowrap}td.leakcell{background:var(--leakbg);
color:var(--leak);font-weight:700}caption{text-align:left;font-weight:600}
table.metrics th{max-width:220px}details.settings{margin:8px 0}
figure{margin:14px 0;break-inside:avoid}figcaption{font-weight:600;margin-bottom:4px}
svg{display:block;max-width:100%;height:auto}svg text{font-size:12px;fill:var(--ink)}
svg .label{font-size:13px}svg .small{font-size:11px;fill:var(--mute)}svg .axis{fill:var(--mute)}
svg .value{font-size:11px}svg .na{fill:var(--mute);font-style:italic}svg .leak{fill:var(--leak);font-weight:700}
svg .grid{stroke:#e3e5e8}svg .whisker{stroke:var(--ink);stroke-width:1.3;fill:none}
svg .trend{fill:none;stroke-width:2}svg .leakline{stroke:var(--leak);stroke-dasharray:4 3}
svg .dot{fill-opacity:.65}svg .tick{stroke-width:1.5}
.cases{border:1px solid var(--line);border-radius:4px}
.row{display:grid;grid-template-columns:18px minmax(150px,2.2fr) 1.3fr 1.6fr .9fr 90px 40px 50px 64px 92px;
gap:8px;padding:4px 8px;align-items:center}.row>span{overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.row.head{font-weight:600;background:#f4f5f7}
summary.row{cursor:pointer;list-style:none;border-top:1px solid var(--line)}
summary.row::-webkit-details-marker{display:none}details[open]>summary .tw{display:inline-block;transform:rotate(90deg)}
.case-leak>summary{background:var(--leakbg)}.case-fail>summary{background:var(--failbg)}.row .id{font-weight:600}
.row .num{text-align:right}.case dl{display:grid;grid-template-columns:120px 1fr;gap:4px 12px;margin:0;
padding:8px 12px 12px 34px;border-top:1px dashed var(--line)}.case dt{color:var(--mute)}.case dd{margin:0;
overflow-wrap:anywhere}.text{white-space:pre-wrap}.case ol,.case ul{margin:0;padding-left:20px}
.pair{margin-right:14px}.pair i{color:var(--mute);font-style:normal}
code{font-size:12px;background:#f4f5f7;padding:0 3px}
@media print{main{max-width:none;padding:0}.wide{overflow:visible}details>summary{break-inside:avoid}
details::details-content{content-visibility:visible;display:contents}.banner{border:2px solid currentColor}}
@page{size:A4 landscape;margin:12mm}
"""
