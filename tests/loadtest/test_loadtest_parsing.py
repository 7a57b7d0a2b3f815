"""Parsing of recorded locust 2.47 CSVs, checked against the files read independently."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from loadtest import analysis

RUNS = ("one-replica", "four-replicas", "no-server", "capacity")


def raw_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    """Header and rows with plain csv.reader (positional, no DictReader)."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1:]


def raw_aggregated(run_dir: Path) -> dict[str, str]:
    header, rows = raw_rows(run_dir / "locust_stats.csv")
    name = header.index("Name")
    (row,) = [row for row in rows if row[name] == "Aggregated"]
    return dict(zip(header, row, strict=True))


@pytest.mark.parametrize("run", RUNS)
def test_fixture_has_locust_columns(fixtures_dir: Path, run: str) -> None:
    header, _ = raw_rows(fixtures_dir / run / "locust_stats.csv")
    assert header[:11] == [
        "Type",
        "Name",
        "Request Count",
        "Failure Count",
        "Median Response Time",
        "Average Response Time",
        "Min Response Time",
        "Max Response Time",
        "Average Content Size",
        "Requests/s",
        "Failures/s",
    ]
    assert {"50%", "95%", "99%"} <= set(header)
    history_header, _ = raw_rows(fixtures_dir / run / "locust_stats_history.csv")
    assert history_header[:4] == ["Timestamp", "User Count", "Type", "Name"]
    assert "Total Request Count" in history_header


@pytest.mark.parametrize("run", RUNS)
def test_summary_equals_csv(fixtures_dir: Path, run: str) -> None:
    raw = raw_aggregated(fixtures_dir / run)
    summary = analysis.summarize_run(fixtures_dir / run, run)
    requests = int(raw["Request Count"])
    failures = int(raw["Failure Count"])
    assert summary.name == run
    assert summary.requests == requests
    assert summary.failures == failures
    assert summary.rps == pytest.approx(float(raw["Requests/s"]))
    assert summary.mean_ms == pytest.approx(float(raw["Average Response Time"]))
    assert summary.p50 == float(raw["50%"])
    assert summary.p95 == float(raw["95%"])
    assert summary.p99 == float(raw["99%"])
    assert summary.error_pct == pytest.approx(100 * failures / requests)
    assert summary.duration == pytest.approx(requests / float(raw["Requests/s"]))


def test_users_from_history(fixtures_dir: Path) -> None:
    header, rows = raw_rows(fixtures_dir / "one-replica" / "locust_stats_history.csv")
    users = [int(row[header.index("User Count")]) for row in rows]
    summary = analysis.summarize_run(fixtures_dir / "one-replica")
    assert summary.users == max(users) == 20
    assert summary.mean_users is not None
    assert 10 < summary.mean_users <= 20


def test_error_runs(fixtures_dir: Path) -> None:
    """The no-server run: every request refused, 100 % errors; the others: none."""
    assert analysis.summarize_run(fixtures_dir / "no-server").error_pct == 100.0
    assert analysis.summarize_run(fixtures_dir / "one-replica").error_pct == 0.0


def test_stats_rows_and_names(fixtures_dir: Path) -> None:
    entries = analysis.parse_stats(fixtures_dir / "one-replica" / "locust_stats.csv")
    names = {(entry.method, entry.name) for entry in entries}
    assert ("", "Aggregated") in names
    assert ("GET", "/api/counters/[name]") in names
    assert ("POST", "/api/counters/[name]/incr") in names
    # Stable names: no raw counter name leaks into the stats.
    assert not any("lt-" in name for _, name in names)
    total = analysis.aggregated(entries)
    assert total.requests == sum(e.requests for e in entries if e.name != "Aggregated")


def test_history_aggregated_rows(fixtures_dir: Path) -> None:
    path = fixtures_dir / "capacity" / "locust_stats_history.csv"
    header, rows = raw_rows(path)
    name = header.index("Name")
    aggregated_rows = [row for row in rows if row[name] == "Aggregated"]
    history = analysis.parse_history(path)
    assert history.full_history  # recorded with --csv-full-history
    assert len(history.rows) == len(aggregated_rows)
    last = aggregated_rows[-1]
    assert history.rows[-1].total_requests == int(last[header.index("Total Request Count")])
    assert history.rows[-1].users == int(last[header.index("User Count")])
    # The first row is written before any request: N/A percentiles become None.
    assert history.rows[0].p99_ms is None


def test_rate_series_from_counts(fixtures_dir: Path) -> None:
    rows = analysis.parse_history(fixtures_dir / "one-replica" / "locust_stats_history.csv").rows
    points = analysis.rate_series(rows)
    assert 0 < len(points) <= len(rows) - 1
    total, previous = 0.0, 0.0
    for point in points:
        total += point.rps * (point.elapsed_s - previous)
        previous = point.elapsed_s
    assert total == pytest.approx(rows[-1].total_requests - rows[0].total_requests)
    # Locust writes 0 percentiles while its window is empty: not a measurement.
    assert all(point.p95_ms is None or point.p95_ms > 0 for point in points)


def test_missing_and_ambiguous_dirs(tmp_path: Path, fixtures_dir: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        analysis.summarize_run(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match=r"_stats\.csv"):
        analysis.summarize_run(tmp_path)
    for prefix in ("a", "b"):
        (tmp_path / f"{prefix}_stats.csv").write_text(
            (fixtures_dir / "one-replica" / "locust_stats.csv").read_text()
        )
    with pytest.raises(ValueError, match="several locust runs"):
        analysis.summarize_run(tmp_path)


def test_no_aggregated_row(tmp_path: Path) -> None:
    (tmp_path / "x_stats.csv").write_text("Type,Name,Request Count\nGET,/,3\n")
    with pytest.raises(ValueError):
        analysis.summarize_run(tmp_path)
