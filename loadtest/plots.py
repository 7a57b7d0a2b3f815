"""PNG plots with matplotlib's Agg backend (no display needed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt

from loadtest.analysis import RatePoint, RepeatedCapacity


def plot_timeseries(
    runs: Mapping[str, Sequence[RatePoint]], out_png: str | Path, title: str = ""
) -> Path:
    """RPS (top) and p95 (bottom) over elapsed time, one line per run (one point per window
    of the run's timeline)."""
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
    results: Sequence[RepeatedCapacity], out_png: str | Path, title: str = ""
) -> Path:
    """Capacity curves: median p99 against median RPS per user step, one line per scenario,
    bars from the min to the max over the repetitions, the SLO line and each scenario's
    capacity (a star)."""
    out = Path(out_png)
    fig, axis = plt.subplots(figsize=(8, 5.5))
    try:
        slos = sorted({result.slo_p99_ms for result in results})
        for result in results:
            steps = [step for step in result.steps if step.p99_median is not None]
            xs = [step.rps_median for step in steps]
            ys = [float(step.p99_median or 0.0) for step in steps]
            xerr = [
                [x - step.rps_min for x, step in zip(xs, steps, strict=True)],
                [step.rps_max - x for x, step in zip(xs, steps, strict=True)],
            ]
            yerr = [
                [
                    y - float(step.p99_min if step.p99_min is not None else y)
                    for y, step in zip(ys, steps, strict=True)
                ],
                [
                    float(step.p99_max if step.p99_max is not None else y) - y
                    for y, step in zip(ys, steps, strict=True)
                ],
            ]
            container = axis.errorbar(
                xs,
                ys,
                xerr=xerr,
                yerr=yerr,
                marker="o",
                linewidth=1.5,
                capsize=3,
                label=f"{result.name} (median of {result.repetitions}, bars: min-max)",
            )
            color = container[0].get_color()
            for step, x, y in zip(steps, xs, ys, strict=True):
                axis.annotate(
                    f"{step.users}u", (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7
                )
            best = result.best
            if best is not None and best.p99_median is not None:
                axis.plot(
                    [best.rps_median],
                    [best.p99_median],
                    marker="*",
                    markersize=14,
                    color=color,
                    linestyle="none",
                    label=f"{result.name}: {best.rps_median:.0f} req/s within the SLO",
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
