"""PNG plots with matplotlib's Agg backend (no display needed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt

from loadtest.analysis import CapacityResult, RatePoint


def plot_timeseries(
    runs: Mapping[str, Sequence[RatePoint]], out_png: str | Path, title: str = ""
) -> Path:
    """RPS (top) and p95 (bottom) over elapsed time, one line per run."""
    out = Path(out_png)
    fig, (ax_rps, ax_p95) = plt.subplots(2, 1, figsize=(9, 6.5), sharex=True)
    try:
        for name, points in runs.items():
            xs = [point.elapsed_s for point in points]
            ax_rps.plot(xs, [point.rps for point in points], label=name, linewidth=1.5)
            p95 = [(point.elapsed_s, point.p95_ms) for point in points if point.p95_ms is not None]
            ax_p95.plot([x for x, _ in p95], [y for _, y in p95], label=name, linewidth=1.5)
        ax_rps.set_ylabel("requests/s")
        ax_rps.set_title(title or "Throughput and p95 over time")
        ax_p95.set_ylabel("p95, ms")
        ax_p95.set_xlabel("elapsed, s")
        for axis in (ax_rps, ax_p95):
            axis.grid(True, alpha=0.3)
            if runs:
                axis.legend(loc="best", fontsize="small")
        fig.tight_layout()
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, dpi=100)
    finally:
        plt.close(fig)
    return out


def plot_capacity(
    results: Mapping[str, CapacityResult], out_png: str | Path, title: str = ""
) -> Path:
    """Capacity curves: p99 against RPS per user step, one line per run, the SLO line and
    each run's best step within the SLO (a star)."""
    out = Path(out_png)
    fig, axis = plt.subplots(figsize=(8, 5.5))
    try:
        slos = sorted({result.slo_p99_ms for result in results.values()})
        for name, result in results.items():
            steps = [step for step in result.steps if step.p99_ms is not None]
            xs = [step.rps for step in steps]
            ys = [float(step.p99_ms or 0.0) for step in steps]
            (line,) = axis.plot(xs, ys, marker="o", linewidth=1.5, label=name)
            for step, x, y in zip(steps, xs, ys, strict=True):
                axis.annotate(
                    f"{step.users}u", (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7
                )
            if result.best is not None and result.best.p99_ms is not None:
                axis.plot(
                    [result.best.rps],
                    [result.best.p99_ms],
                    marker="*",
                    markersize=14,
                    color=line.get_color(),
                    linestyle="none",
                    label=f"{name}: {result.best.rps:.0f} req/s within the SLO",
                )
        for slo in slos:
            axis.axhline(
                slo, color="tab:red", linestyle="--", linewidth=1, label=f"SLO p99 {slo:g} ms"
            )
        axis.set_xlabel("requests/s")
        axis.set_ylabel("p99, ms")
        axis.set_title(title or "Capacity: p99 against throughput per user step")
        axis.set_ylim(bottom=0)
        axis.grid(True, alpha=0.3)
        if results:
            axis.legend(loc="best", fontsize="small")
        fig.tight_layout()
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, dpi=100)
    finally:
        plt.close(fig)
    return out
