# ruff: noqa: RUF001  (Russian text)
"""Saturation verdict: Little's law with hand-computed numbers, the seed's case first."""

from __future__ import annotations

import pytest

from loadtest import analysis
from loadtest.analysis import GENERATOR_BOUND, SERVER_SATURATED, THINK_TIME_BOUND


def test_seed_numbers_are_think_time_bound() -> None:
    """300 users, think 1-2 s (mean 1.5 s), mean response 46.18 ms, 219.50 req/s achieved.

    Offered = 300 / (1.5 + 0.04618) = 300 / 1.54618 = 194.03 req/s; achieved / offered =
    219.50 / 194.03 = 1.131; think share = 1.5 / 1.54618 = 0.970; ceiling = 300 / 1.5 = 200.
    """
    verdict = analysis.saturation_verdict(300, 1.5, 46.18, 219.50)
    assert verdict.verdict == THINK_TIME_BOUND
    assert verdict.offered_rps == pytest.approx(194.03, abs=0.01)
    assert verdict.ceiling_rps == pytest.approx(200.0)
    assert verdict.achieved_ratio == pytest.approx(1.131, abs=0.001)
    assert verdict.think_share == pytest.approx(0.970, abs=0.001)
    assert verdict.mean_response_s == pytest.approx(0.04618)
    text = verdict.explanation
    assert "300 users / (1.500 s think + 0.046 s response) = 194.0 req/s" in text
    assert "achieved 219.5 req/s = 113% of offered" in text
    assert "300 / 1.500 s = 200.0 req/s" in text
    assert "not the system's capacity" in text


def test_seed_four_replicas_is_the_same_verdict() -> None:
    """4 replicas: 300 / (1.5 + 0.03039) = 196.03 req/s offered; 222.49 achieved."""
    verdict = analysis.saturation_verdict(300, 1.5, 30.39, 222.49)
    assert verdict.verdict == THINK_TIME_BOUND
    assert verdict.offered_rps == pytest.approx(196.03, abs=0.01)


def test_seed_in_russian() -> None:
    verdict = analysis.saturation_verdict(300, 1.5, 46.18, 219.50, lang="ru")
    assert verdict.verdict == THINK_TIME_BOUND
    assert "закону Литтла" in verdict.explanation
    assert "= 194.0 запр./с" in verdict.explanation


def test_no_think_time_is_server_bound() -> None:
    """50 users, no think time, 100 ms: offered = 50 / 0.1 = 500 req/s; 480 achieved is 96 %
    but the whole cycle is response time, so the server sets the pace."""
    verdict = analysis.saturation_verdict(50, 0.0, 100.0, 480.0)
    assert verdict.offered_rps == pytest.approx(500.0)
    assert verdict.ceiling_rps is None
    assert verdict.think_share == 0.0
    assert verdict.verdict == SERVER_SATURATED
    assert "users mostly wait on the server" in verdict.explanation


def test_achieved_well_below_offered_is_server_saturated() -> None:
    """100 users, 1 s think, 500 ms: offered = 100 / 1.5 = 66.67 req/s; 30 achieved = 45 %."""
    verdict = analysis.saturation_verdict(100, 1.0, 500.0, 30.0, generator_cpu_pct=20.0)
    assert verdict.offered_rps == pytest.approx(66.667, abs=0.001)
    assert verdict.achieved_ratio == pytest.approx(0.45)
    assert verdict.verdict == SERVER_SATURATED
    assert "well below" in verdict.explanation


def test_latency_dominating_the_cycle_is_server_saturated() -> None:
    """100 users, 0.2 s think, 800 ms: offered = 100 / 1.0 = 100; think share 0.2."""
    verdict = analysis.saturation_verdict(100, 0.2, 800.0, 99.0)
    assert verdict.offered_rps == pytest.approx(100.0)
    assert verdict.think_share == pytest.approx(0.2)
    assert verdict.verdict == SERVER_SATURATED


def test_busy_generator_wins() -> None:
    verdict = analysis.saturation_verdict(300, 1.5, 46.18, 219.50, generator_cpu_pct=97.0)
    assert verdict.verdict == GENERATOR_BOUND
    assert "Load generator CPU: 97%" in verdict.explanation
    below = analysis.saturation_verdict(300, 1.5, 46.18, 219.50, generator_cpu_pct=89.0)
    assert below.verdict == THINK_TIME_BOUND


def test_requests_per_iteration() -> None:
    """20 users, k = 13/11 requests per think time (crud sends 3 of weights 3,3,3,1,1),
    1.5 s think, 5 ms: offered = 20 * 13/11 / (1.5 + 13/11 * 0.005) = 15.696 req/s."""
    k = 13 / 11
    verdict = analysis.saturation_verdict(20, 1.5, 5.0, 15.0, requests_per_iteration=k)
    assert verdict.offered_rps == pytest.approx(20 * k / (1.5 + k * 0.005))
    assert verdict.offered_rps == pytest.approx(15.696, abs=0.001)
    assert verdict.ceiling_rps == pytest.approx(20 * k / 1.5)
    assert verdict.verdict == THINK_TIME_BOUND
    assert "x 1.18 requests per iteration" in verdict.explanation


def test_offered_load_formula() -> None:
    assert analysis.offered_load(300, 1.5, 0.0) == pytest.approx(200.0)
    assert analysis.offered_load(10, 0.0, 0.02) == pytest.approx(500.0)
    with pytest.raises(ValueError):
        analysis.offered_load(10, 0.0, 0.0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"users": 0},
        {"think_mean_s": -1.0},
        {"mean_response_ms": -1.0},
        {"requests_per_iteration": 0.5},
    ],
)
def test_bad_inputs(kwargs: dict[str, float]) -> None:
    args = {"users": 300, "think_mean_s": 1.5, "mean_response_ms": 46.0, "achieved_rps": 200.0}
    with pytest.raises(ValueError):
        analysis.saturation_verdict(**(args | kwargs))


def test_errors_add_a_warning() -> None:
    """The seed's Kubernetes run: 100 % errors at the same RPS."""
    verdict = analysis.saturation_verdict(300, 1.5, 18.89, 223.91, error_pct=100.0)
    assert verdict.verdict == THINK_TIME_BOUND
    assert "Warning: 100.0% of the requests failed" in verdict.explanation
    ru = analysis.saturation_verdict(300, 1.5, 18.89, 223.91, error_pct=100.0, lang="ru")
    assert "100.0% запросов завершились ошибкой" in ru.explanation
    quiet = analysis.saturation_verdict(300, 1.5, 18.89, 223.91, error_pct=0.5)
    assert "Warning" not in quiet.explanation
