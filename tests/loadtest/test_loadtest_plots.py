"""Plots: real PNG files, not empty."""

from __future__ import annotations

from pathlib import Path

from loadtest import analysis, plots

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def is_png(path: Path) -> bool:
    return path.stat().st_size > 1000 and path.read_bytes()[:8] == PNG_MAGIC


def test_timeseries_overlays_runs(fixtures_dir: Path, tmp_path: Path) -> None:
    series = {
        name: analysis.rate_series(
            analysis.parse_history(fixtures_dir / name / "locust_stats_history.csv").rows
        )
        for name in ("one-replica", "four-replicas", "no-server")
    }
    out = plots.plot_timeseries(series, tmp_path / "sub" / "timeseries.png", title="runs")
    assert out == tmp_path / "sub" / "timeseries.png"
    assert is_png(out)


def test_capacity_curve(fixtures_dir: Path, tmp_path: Path) -> None:
    result = analysis.capacity_from_run(fixtures_dir / "capacity", slo_p99_ms=20)
    strict = analysis.capacity_from_run(fixtures_dir / "capacity", slo_p99_ms=1)
    assert result.best is not None and strict.best is None
    curves = [
        analysis.repeated_capacity("within", [result, result]),
        analysis.repeated_capacity("none within", [strict]),
    ]
    assert is_png(plots.plot_capacity(curves, tmp_path / "capacity.png"))


def test_empty_inputs_still_plot(tmp_path: Path) -> None:
    assert is_png(plots.plot_timeseries({}, tmp_path / "empty.png"))
    empty = analysis.capacity_steps([], slo_p99_ms=100)
    repeated = analysis.repeated_capacity("empty", [empty])
    assert is_png(plots.plot_capacity([repeated], tmp_path / "empty-capacity.png"))
    assert is_png(plots.plot_capacity([], tmp_path / "no-capacity.png"))
