"""The timeline: step and window figures exact at their edges (issue: the saw-tooth of
Locust's history with distributed workers, which report every 3 s).

The fixtures are real runs (tests/loadtest/record_fixtures.py): a master and 2 workers with
users on constant pacing (0.1 s), so the true rate is known: 20 users = 200 req/s
(constant-rate), steps of 5, 10, 15 users = 50, 100, 150 req/s (constant-steps).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from loadtest import analysis
from loadtest import timeline as tl
from loadtest.analysis import CapacityResult, CapacityStep

TOLERANCE = 0.05


def history_rates(run_dir: Path) -> list[float]:
    rows = analysis.parse_history(run_dir / "locust_stats_history.csv").rows
    return [point.rps for point in analysis.rate_series(rows)]


def test_every_window_of_a_constant_rate_is_within_5_percent(fixtures_dir: Path) -> None:
    run = fixtures_dir / "constant-rate"
    timeline = tl.read_timeline(run)
    assert timeline is not None and timeline.report_interval_s == 3.0
    windows = tl.windows(timeline, 5)
    assert len(windows) >= 3
    for window in windows:
        assert window.seconds == 5
        assert window.rps == pytest.approx(200.0, rel=TOLERANCE)
    points = analysis.run_series(run, 5)
    assert [point.rps for point in points] == [window.rps for window in windows]
    # The same run's history moves only when a worker reports: per second it reads 0 or
    # about 600, nowhere near 200 (what timeseries.png drew before).
    shifted = [rate for rate in history_rates(run) if abs(rate - 200.0) > 0.5 * 200.0]
    assert len(shifted) > len(history_rates(run)) / 2


def test_windows_are_never_shorter_than_the_report_interval(fixtures_dir: Path) -> None:
    timeline = tl.read_timeline(fixtures_dir / "constant-rate")
    assert timeline is not None
    assert {window.seconds for window in tl.windows(timeline, 1)} == {3}
    with pytest.raises(ValueError):
        tl.windows(timeline, 0)


def test_every_step_of_a_known_rate_is_within_5_percent(fixtures_dir: Path) -> None:
    run = fixtures_dir / "constant-steps"
    result = analysis.capacity_from_run(run, slo_p99_ms=1000)
    assert [step.users for step in result.steps] == [5, 10, 15]
    for step in result.steps:
        assert step.rps == pytest.approx(step.users / 0.1, rel=TOLERANCE)
        # 7 s steps, 1 s warm-up (run.json), whole seconds only
        assert 5 <= step.end_s - step.start_s <= 6
    # The history's step figures, with edges where the reports fell, miss by far more.
    history = analysis.parse_history(run / "locust_stats_history.csv")
    misses = [
        abs(step.rps - step.users / 0.1) / (step.users / 0.1)
        for step in analysis.capacity_steps(history, 1000).steps
    ]
    assert max(misses) > TOLERANCE


def test_timeline_counts_every_request_locust_counted(fixtures_dir: Path) -> None:
    for name in ("constant-rate", "constant-steps"):
        timeline = tl.read_timeline(fixtures_dir / name)
        assert timeline is not None
        counted = sum(bucket.count for bucket in timeline.buckets.values())
        assert counted == analysis.summarize_run(fixtures_dir / name).requests


def test_percentile_from_the_histogram() -> None:
    histogram = {1: 50, 2: 40, 10: 9, 100: 1}
    assert tl.percentile_ms(histogram, 0.5) == 1.0
    assert tl.percentile_ms(histogram, 0.9) == 2.0
    assert tl.percentile_ms(histogram, 0.99) == 10.0
    assert tl.percentile_ms(histogram, 1.0) == 100.0
    assert tl.percentile_ms({}, 0.99) is None


def test_steps_leave_out_their_warmup_and_partial_seconds() -> None:
    buckets = {second: tl.Bucket(10, 0, {5: 10}) for second in range(100, 120)}
    buckets[100] = tl.Bucket(1000, 0, {500: 1000})  # spawn burst in the warm-up
    timeline = tl.Timeline(
        buckets=buckets,
        steps=[tl.Step(10, 100.2), tl.Step(20, 110.5)],
        started=100.0,
        stopped=119.7,
    )
    steps = tl.step_totals(timeline, warmup_s=1.0)
    assert [(step.totals.start, step.totals.end) for step in steps] == [(102, 110), (112, 119)]
    assert [step.totals.rps for step in steps] == [10.0, 10.0]
    assert steps[0].totals.percentile(0.99) == 5.0
    with pytest.raises(ValueError):
        tl.step_totals(timeline, warmup_s=-1)


def test_not_a_timeline() -> None:
    with pytest.raises(ValueError, match="not a timeline"):
        tl.parse_timeline({"steps": []})


def steps(*figures: tuple[int, float, float | None]) -> list[CapacityStep]:
    return [
        CapacityStep(users, 0, 10, rps, p99, 0.0, int(rps * 10), 0) for users, rps, p99 in figures
    ]


def test_a_step_a_repetition_never_reached_counts_as_a_breach() -> None:
    # Two of three repetitions broke the SLO at 20 users and stopped: 30 users ran once.
    runs = [
        steps((10, 100.0, 50.0), (20, 180.0, 90.0), (30, 200.0, 95.0)),
        steps((10, 110.0, 40.0), (20, 170.0, 150.0)),
        steps((10, 90.0, 60.0), (20, 190.0, 130.0)),
    ]
    result = analysis.repeated_capacity("x", [CapacityResult(100.0, 1.0, run) for run in runs])
    by_users = {step.users: step for step in result.steps}
    assert by_users[30].runs == 1 and not by_users[30].within
    assert by_users[30].p99_median is None
    assert by_users[20].p99_median == 130.0 and not by_users[20].within
    assert result.best is not None and result.best.users == 10
    assert result.capacity_rps == 100.0
    assert (by_users[10].rps_min, by_users[10].rps_max) == (90.0, 110.0)
    # Each repetition's own capacity: the highest step it ran within the SLO.
    assert result.per_repetition == [200.0, 110.0, 90.0]


def test_scaling_ratio_pairs_the_repetitions_in_run_order() -> None:
    def repeated(name: str, rates: list[float]) -> analysis.RepeatedCapacity:
        results = [CapacityResult(100.0, 1.0, steps((10, rate, 50.0))) for rate in rates]
        return analysis.repeated_capacity(name, results)

    one = repeated("1", [100.0, 120.0, 110.0])
    four = repeated("4", [250.0, 240.0, 264.0])
    ratio = analysis.scaling_ratio(one, four)
    assert ratio.ratio == pytest.approx(250.0 / 110.0)
    assert ratio.ratio_min == pytest.approx(2.0)
    assert ratio.ratio_max == pytest.approx(2.5)
    empty = analysis.repeated_capacity(
        "none", [CapacityResult(100.0, 1.0, steps((10, 5.0, 500.0)))]
    )
    assert analysis.scaling_ratio(empty, four).ratio is None
    assert math.isclose(tl.median([3.0, 1.0, 2.0, 10.0]), 2.5)


def synthetic(rates: dict[int, int]) -> tl.Timeline:
    buckets = {second: tl.Bucket(count, 0, {10: count}) for second, count in rates.items()}
    return tl.Timeline(buckets, [], float(min(rates)), float(max(rates) + 1))


def test_switched_cost_cancels_a_linear_drift() -> None:
    # 20 s windows switching every 20 s from t=1000 (on first); the machine speeds up by 1 %
    # per 20 s; being on costs 10 % of the throughput; the first 2 s of each window settle.
    switches = [(1000.0 + 20 * index, index % 2 == 0) for index in range(8)]
    rates = {}
    for second in range(1000, 1160):
        index = (second - 1000) // 20
        base = 1000 * (1 + 0.01 * index)
        settling = (second - 1000) % 20 < 2
        rates[second] = round(base * (0.9 if index % 2 == 0 else 1.0) * (0.5 if settling else 1))
    windows = tl.state_windows(synthetic(rates), switches, settle_s=2)
    assert [window.on for window in windows] == [True, False] * 4
    assert {window.totals.seconds for window in windows} == {18}
    estimates = tl.switched_cost(windows)
    assert len(estimates) == 6
    assert estimates == pytest.approx([10.0] * 6, abs=0.01)
    # without the settling time the halved seconds would show in every window
    assert tl.state_windows(synthetic(rates), switches)[0].totals.rps < 0.9 * 1000


def test_state_windows_are_cut_to_the_run() -> None:
    rates = dict.fromkeys(range(1000, 1060), 100)
    # switches before the run, in it, and one after it; the run's first 5 s left out
    switches = [(980.0, True), (1010.0, False), (1013.0, True), (1030.0, False), (1100.0, True)]
    windows = tl.state_windows(synthetic(rates), switches, settle_s=1, lead_s=5)
    assert [(w.on, w.totals.start, w.totals.end) for w in windows] == [
        (True, 1005, 1010),  # cut to the run's start + lead
        (True, 1014, 1030),  # the 3 s window (2 s after settling) is dropped
        (False, 1031, 1060),  # cut to the run's stop
    ]
    assert tl.switched_cost(windows) == []  # no window has the other state on both sides
    with pytest.raises(ValueError):
        tl.state_windows(synthetic(rates), switches, settle_s=-1)
