"""Capacity: group a stepped run by user count, pick the best step within the SLO."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from loadtest import analysis
from loadtest.analysis import History, HistoryRow


def row(t: int, users: int, total: int, failures: int = 0, p99: float | None = 10.0) -> HistoryRow:
    return HistoryRow(
        timestamp=t,
        users=users,
        current_rps=0.0,
        p50_ms=None,
        p95_ms=None,
        p99_ms=p99,
        total_requests=total,
        total_failures=failures,
        mean_ms=0.0,
    )


def synthetic() -> list[HistoryRow]:
    """Steps of 10 users, 2 s each, after an idle first row:
    10 users: 0 -> 200 requests in 2 s = 100 req/s, p99 50
    20 users: 200 -> 600 in 2 s = 200 req/s, p99 120
    30 users: 600 -> 1100 in 2 s = 250 req/s, p99 400, 10 failures of 500 = 2 %
    40 users: 1100 -> 1600 in 2 s = 250 req/s, p99 900
    """
    return [
        row(100, 0, 0, p99=None),
        row(101, 10, 90, p99=0.0),
        row(102, 10, 200, p99=50.0),
        row(103, 20, 400, p99=100.0),
        row(104, 20, 600, p99=120.0),
        row(105, 30, 850, 5, p99=300.0),
        row(106, 30, 1100, 10, p99=400.0),
        row(107, 40, 1350, 10, p99=800.0),
        row(108, 40, 1600, 10, p99=900.0),
    ]


def test_steps_from_cumulative_counts() -> None:
    result = analysis.capacity_steps(synthetic(), slo_p99_ms=500.0)
    assert [step.users for step in result.steps] == [10, 20, 30, 40]
    assert [step.rps for step in result.steps] == [100.0, 200.0, 250.0, 250.0]
    assert [step.p99_ms for step in result.steps] == [50.0, 120.0, 400.0, 900.0]
    assert [step.error_pct for step in result.steps] == [0.0, 0.0, 2.0, 0.0]
    assert [step.requests for step in result.steps] == [200, 400, 500, 500]
    assert result.steps[1].start_s == 3.0
    assert result.steps[1].end_s == 4.0


def test_best_step_respects_errors_and_slo() -> None:
    # 30 users has 250 req/s and p99 400 <= 500, but 2 % errors > 1 %: 20 users wins.
    result = analysis.capacity_steps(synthetic(), slo_p99_ms=500.0)
    assert result.best is not None
    assert (result.best.users, result.best.rps) == (20, 200.0)
    # Allow 5 % errors: 30 users qualifies.
    loose = analysis.capacity_steps(synthetic(), slo_p99_ms=500.0, max_error_pct=5.0)
    assert loose.best is not None and loose.best.users == 30
    # A tight SLO: only the first step.
    tight = analysis.capacity_steps(synthetic(), slo_p99_ms=60.0)
    assert tight.best is not None and tight.best.users == 10
    # Nothing within 10 ms.
    assert analysis.capacity_steps(synthetic(), slo_p99_ms=10.0).best is None


def test_empty_and_bad_input() -> None:
    assert analysis.capacity_steps([], slo_p99_ms=100.0).steps == []
    with pytest.raises(ValueError):
        analysis.capacity_steps(synthetic(), slo_p99_ms=0)


def test_cumulative_history_is_flagged() -> None:
    result = analysis.capacity_steps(History(synthetic(), full_history=False), 500.0)
    assert result.p99_is_cumulative
    assert not analysis.capacity_steps(
        History(synthetic(), full_history=True), 500
    ).p99_is_cumulative


def test_recorded_capacity_run_from_history(fixtures_dir: Path) -> None:
    """The recorded run's history (the fallback for runs without a timeline): 5, 10, 15
    users, 3 s each; RPS recomputed here from the raw CSV."""
    path = fixtures_dir / "capacity" / "locust_stats_history.csv"
    with path.open(newline="", encoding="utf-8") as handle:
        raw = [r for r in csv.DictReader(handle) if r["Name"] == "Aggregated"]
    result = analysis.capacity_steps(analysis.parse_history(path), slo_p99_ms=10_000)
    assert [step.users for step in result.steps] == [5, 10, 15]
    for step in result.steps:
        members = [i for i, r in enumerate(raw) if int(r["User Count"]) == step.users]
        first, last = members[0], members[-1]
        before = raw[first - 1]
        seconds = int(raw[last]["Timestamp"]) - int(before["Timestamp"])
        requests = int(raw[last]["Total Request Count"]) - int(before["Total Request Count"])
        assert step.rps == pytest.approx(requests / seconds)
        assert step.p99_ms == float(raw[last]["99%"])
    assert result.best is not None
    assert result.best.users == 15  # the most users within the SLO
