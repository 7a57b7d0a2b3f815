# ruff: noqa: RUF001  (Russian titles of the seed report)
"""Markdown tables in the seed's form, English and Russian."""

from __future__ import annotations

import pytest

from loadtest import analysis, report
from loadtest.analysis import CapacityResult, CapacityStep, RunSummary


def run(name: str, rps: float, mean: float, p95: float, p99: float, err: float) -> RunSummary:
    return RunSummary(
        name=name,
        rps=rps,
        mean_ms=mean,
        p50=0.0,
        p95=p95,
        p99=p99,
        error_pct=err,
        requests=1000,
        failures=int(err * 10),
        users=300,
        duration=60.0,
    )


SEED_ONE = run("1 реплика", 219.50, 46.18, 150.0, 270.0, 0.0)
SEED_FOUR = run("4 реплики", 222.49, 30.39, 110.0, 190.0, 0.0)
SEED_K8S = run("Kubernetes (4 реплики)", 223.91, 18.89, 96.0, 180.0, 100.0)


def lines(table: str) -> list[list[str]]:
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in table.splitlines()]


def test_seed_table_in_russian_reproduces_the_report() -> None:
    table = report.comparison_table(SEED_ONE, SEED_FOUR, "1 реплика", "4 реплики", lang="ru")
    rows = lines(table)
    assert rows[0] == ["Метрика", "1 реплика", "4 реплики", "Изменение"]
    assert set(rows[1][0]) == {"-"}
    assert rows[2:] == [
        ["RPS (запросов/сек)", "219.50", "222.49", "+1.4%"],
        ["Среднее время отклика", "46.18 мс", "30.39 мс", "-34.2%"],
        ["95-й перцентиль", "150.00 мс", "110.00 мс", "-26.7%"],
        ["99-й перцентиль", "270.00 мс", "190.00 мс", "-29.6%"],
        ["Процент ошибок", "0%", "0%", "-"],
    ]


def test_swarm_vs_kubernetes_errors_change_not_meaningful() -> None:
    table = report.comparison_table(SEED_FOUR, SEED_K8S, "Docker Swarm", "Kubernetes", "ru")
    rows = lines(table)
    assert rows[2] == ["RPS (запросов/сек)", "222.49", "223.91", "+0.6%"]
    assert rows[3][-1] == "-37.8%"
    assert rows[4][-1] == "-12.7%"
    assert rows[5][-1] == "-5.3%"
    assert rows[6] == ["Процент ошибок", "0%", "100%", "-"]


def test_english_titles_by_default() -> None:
    rows = lines(report.comparison_table(SEED_ONE, SEED_FOUR, "1 replica", "4 replicas"))
    assert rows[0] == ["Metric", "1 replica", "4 replicas", "Change"]
    assert [row[0] for row in rows[2:]] == [
        "RPS (requests/s)",
        "Mean response time",
        "95th percentile",
        "99th percentile",
        "Error rate",
    ]
    assert rows[3][1] == "46.18 ms"


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        (100.0, 110.0, "+10.0%"),
        (100.0, 90.0, "-10.0%"),
        (100.0, 100.0, "0.0%"),
        (100.0, 100.04, "0.0%"),  # rounds to zero: no sign
        (0.0, 0.0, "-"),
        (0.0, 5.0, "-"),
        (2.0, 0.0, "-100.0%"),
        (219.50, 222.49, "+1.4%"),
    ],
)
def test_format_change(before: float, after: float, expected: str) -> None:
    assert report.format_change(before, after) == expected


@pytest.mark.parametrize(
    ("value", "expected"), [(0.0, "0%"), (100.0, "100%"), (0.5, "0.5%"), (1.234, "1.23%")]
)
def test_format_pct(value: float, expected: str) -> None:
    assert report.format_pct(value) == expected


def test_unknown_language() -> None:
    with pytest.raises(ValueError, match="unknown language 'de'"):
        report.comparison_table(SEED_ONE, SEED_FOUR, "a", "b", lang="de")


def test_runs_table_has_one_row_per_run() -> None:
    rows = lines(report.runs_table([SEED_ONE, SEED_FOUR, SEED_K8S], lang="ru"))
    assert rows[0][0] == "Прогон"
    assert [row[0] for row in rows[2:]] == [SEED_ONE.name, SEED_FOUR.name, SEED_K8S.name]
    assert rows[4][-1] == "100%"


def step(users: int, rps: float, p99: float | None, errors: float = 0.0) -> CapacityStep:
    return CapacityStep(users, 0, 9, rps, p99, errors, int(rps * 10), int(rps * errors / 10))


def test_capacity_table_marks_slo() -> None:
    steps = [step(10, 300.0, 50.0), step(20, 500.0, 400.0), step(30, 520.0, 900.0)]
    result = analysis.repeated_capacity("a", [CapacityResult(500.0, 1.0, steps, steps[1])])
    rows = lines(report.capacity_table(result).split("\n\n")[0])
    assert [row[-1] for row in rows[2:]] == ["yes", "yes", "no"]
    assert [row[1] for row in rows[2:]] == ["1/1"] * 3
    assert "Capacity: 500.0 req/s at 20 users (median of 1" in report.capacity_table(result)
    assert "Ёмкость: 500.0 запр./с" in report.capacity_table(result, "ru")
    none = analysis.repeated_capacity("a", [CapacityResult(10.0, 1.0, steps, None)])
    assert "No step met the SLO" in report.capacity_table(none)


def test_capacity_table_shows_the_spread_of_repetitions() -> None:
    one = [step(10, 300.0, 50.0), step(20, 500.0, 80.0)]
    two = [step(10, 330.0, 40.0), step(20, 560.0, 120.0)]
    three = [step(10, 310.0, 45.0), step(20, 520.0, 90.0)]
    results = [CapacityResult(100.0, 1.0, run, None) for run in (one, two, three)]
    result = analysis.repeated_capacity("a", results)
    rows = lines(report.capacity_table(result).split("\n\n")[0])
    assert rows[2] == ["10", "3/3", "310.0 (300.0-330.0)", "45.00 ms (40-50)", "0%", "yes"]
    assert rows[3] == ["20", "3/3", "520.0 (500.0-560.0)", "90.00 ms (80-120)", "0%", "yes"]


def test_capacity_summary_compares_runs_with_generator_cpu() -> None:
    steps = [step(10, 300.0, 50.0), step(20, 500.0, 90.0)]
    one = analysis.repeated_capacity("1", [CapacityResult(100.0, 1.0, steps[:1], steps[0])])
    four = analysis.repeated_capacity(
        "4",
        [
            CapacityResult(100.0, 1.0, steps, steps[1]),
            CapacityResult(100.0, 1.0, [steps[0], step(20, 450.0, 95.0)], None),
        ],
    )
    none = analysis.repeated_capacity("x", [CapacityResult(10.0, 1.0, steps, None)])
    table = report.capacity_summary_table(
        [one, four, none], generator_cpu={"1": (40.0, 80.0), "4": (55.5, 55.5)}
    )
    rows = lines(table)
    assert rows[2] == ["1", "300.0", "300.0", "10", "50.00 ms", "1", "40% (80%)"]
    # median of 500 and 450; the second repetition's own capacity is 20 users too (450).
    assert rows[3] == ["4", "475.0", "450.0-500.0", "20", "92.50 ms", "2", "56%"]
    assert rows[4] == ["x", "none within the SLO", "-", "-", "-", "1", "-"]
    ru = lines(report.capacity_summary_table([one], lang="ru"))
    assert ru[0][1] == "Ёмкость, запр./с (медиана)"


def test_markdown_has_capacity_summary_before_the_per_run_steps() -> None:
    steps = [CapacityStep(10, 0, 9, 300.0, 50.0, 0.0, 3000, 0)]
    result = analysis.repeated_capacity("a-capacity", [CapacityResult(100.0, 1.0, steps, steps[0])])
    text = report.render_markdown([], [], [], [result])
    summary = text.index("## Capacity within the SLO (p99 <= 100 ms, errors <= 1%)")
    assert summary < text.index("## Capacity: a-capacity")
