"""Metrics: the exposition names every metric, labels are bounded code words, never users or channels."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.metrics import Metrics

pytestmark = pytest.mark.unit

ALLOWED_LABELS = {"platform", "outcome", "reason", "stage", "kind", "le"}


def _samples(metrics: Metrics) -> dict[str, list[tuple[dict[str, str], float]]]:
    body, _ = metrics.exposition()
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return found


def test_every_call_shows_in_the_exposition_with_bounded_labels() -> None:
    metrics = Metrics()
    metrics.request("slack", "answered")
    metrics.request("slack", "refused")
    metrics.refusal("classification_above_clearance")
    metrics.observe("decide", 0.004)
    with metrics.timed("total"):
        pass
    metrics.tokens(42)
    metrics.job_run("retention", "ok")
    metrics.faq_answer()
    with metrics.in_flight():
        assert [({}, 1.0)] == _samples(metrics)["kura_requests_in_flight"]

    samples = _samples(metrics)
    assert {
        "kura_requests_total",
        "kura_refusals_total",
        "kura_stage_seconds_bucket",
        "kura_stage_seconds_count",
        "kura_generated_tokens_total",
        "kura_requests_in_flight",
        "kura_job_runs_total",
        "kura_faq_answers_total",
    } <= set(samples)
    assert [({}, 1.0)] == samples["kura_faq_answers_total"]
    assert ({"platform": "slack", "outcome": "answered"}, 1.0) in samples["kura_requests_total"]
    assert [({}, 42.0)] == samples["kura_generated_tokens_total"]
    assert [({}, 0.0)] == samples["kura_requests_in_flight"]
    assert {"decide", "total"} == {labels["stage"] for labels, _ in samples["kura_stage_seconds_count"]}
    used = {key for series in samples.values() for labels, _ in series for key in labels}
    assert used <= ALLOWED_LABELS


def test_values_that_look_like_people_or_channels_are_counted_as_other() -> None:
    metrics = Metrics()
    metrics.request("slack", "alice@example.com")
    metrics.refusal("C0123ABCD")
    metrics.job_run("minutes for 経理部", "ok")

    samples = _samples(metrics)
    body, _ = metrics.exposition()
    assert b"alice" not in body
    assert b"C0123ABCD" not in body
    assert ({"platform": "slack", "outcome": "other"}, 1.0) in samples["kura_requests_total"]
    assert ({"reason": "other"}, 1.0) in samples["kura_refusals_total"]
    assert ({"kind": "other", "outcome": "ok"}, 1.0) in samples["kura_job_runs_total"]


def test_each_metrics_object_has_its_own_registry() -> None:
    first, second = Metrics(), Metrics()
    first.tokens(5)
    assert [({}, 0.0)] == _samples(second)["kura_generated_tokens_total"]
