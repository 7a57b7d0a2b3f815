"""The analysis of a set of run directories: summary.json, tables.md and the plots.

Runs of the think-time profile get their headline numbers, comparisons and the saturation
verdict; capacity runs are grouped by scenario (each scenario's repetitions in run order) into
medians with their spread, the capacity and the scaling ratio between scenarios; the nodes'
samples, when there are any, say what saturated during each run.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from loadtest import analysis, attribution, report
from loadtest import timeline as tl
from loadtest.runner import INSTANCES_FILE, read_json

DEFAULT_WINDOW_S = 5.0


@dataclass(frozen=True)
class AnalysisInput:
    """What to analyse and how."""

    out: Path
    runs: Sequence[tuple[str, Path]] = ()
    # scenario name -> its capacity runs' directories, in run order (one per repetition)
    capacities: Sequence[tuple[str, Sequence[Path]]] = ()
    compare: Sequence[tuple[str, str]] = ()
    think_mean_s: float | None = None
    generator_cpu_pct: float | None = None
    requests_per_iteration: float | None = None
    slo_p99_ms: float = 100.0
    max_error_pct: float = 1.0
    lang: str = "en"
    window_s: float = DEFAULT_WINDOW_S
    samples: Sequence[Path] = field(default_factory=list)


def _verdict(
    summary: analysis.RunSummary, spec: AnalysisInput
) -> tuple[analysis.SaturationVerdict | None, dict[str, Any]]:
    meta = summary.meta
    think = spec.think_mean_s if spec.think_mean_s is not None else meta.get("think_mean_s")
    cpu = spec.generator_cpu_pct
    if cpu is None:
        cpu = meta.get("generator_cpu_pct")
    per_iteration = spec.requests_per_iteration
    if per_iteration is None:
        per_iteration = float(meta.get("requests_per_iteration", 1.0))
    verdict = None
    users = summary.mean_users or summary.users
    if think is not None and users > 0 and (think > 0 or summary.mean_ms > 0):
        verdict = analysis.saturation_verdict(
            users,
            float(think),
            summary.mean_ms,
            summary.rps,
            cpu,
            requests_per_iteration=per_iteration,
            error_pct=summary.error_pct,
            lang=spec.lang,
        )
    record = {
        "think_mean_s": think,
        "generator_cpu_pct": cpu,
        "generator_cpu_total_pct": meta.get("generator_cpu_total_pct", cpu),
        "generator_processes": meta.get("generator_processes", 1),
        "workers_local": meta.get("workers", 0),
        "workers_remote": meta.get("remote_workers", 0),
        "locust_version": meta.get("locust_version"),
        "requests_per_iteration": per_iteration,
        "verdict": verdict.to_dict() if verdict else None,
    }
    return verdict, record


def _check_names(spec: AnalysisInput) -> None:
    if not spec.runs and not spec.capacities:
        raise ValueError("nothing to analyse: give --run NAME=DIR and/or --capacity NAME=DIR")
    names = [name for name, _ in spec.runs] + [name for name, _ in spec.capacities]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"run names must be unique: {', '.join(duplicates)}")
    if spec.window_s <= 0:
        raise ValueError("the time-series window must be > 0 s")


@dataclass(frozen=True)
class Window:
    """The part of a run whose node samples say what saturated: a think-time run from its
    start to its stop, a capacity run over its top step (the most users it ran)."""

    run: str
    t0: float
    t1: float
    note: str
    generator_cpu_pct: float | None


def run_window(name: str, directory: Path, capacity: bool) -> Window | None:
    """The window of a run directory; None when it recorded no start and stop."""
    meta = analysis.read_run_meta(directory)
    cpu = meta.get("generator_cpu_pct")
    timeline = tl.read_timeline(directory)
    if capacity and timeline is not None and timeline.steps:
        warmup = float(meta.get("step_warmup_s") or 0.0)
        steps = tl.step_totals(timeline, warmup)
        if steps:
            top = steps[-1]
            note = f"top step, {top.users} users"
            return Window(name, float(top.totals.start), float(top.totals.end), note, cpu)
    started, stopped = meta.get("started"), meta.get("stopped")
    if started is None or stopped is None:
        return None
    if timeline is not None and timeline.started and timeline.stopped:
        started, stopped = timeline.started, timeline.stopped
    return Window(name, float(started), float(stopped), "whole run", cpu)


def attribute_runs(
    windows: Sequence[Window], samples: Sequence[attribution.Sample], lang: str
) -> list[tuple[Window, attribution.Figures, attribution.Attribution]]:
    """What saturated in each window, from the nodes' samples."""
    found = []
    for window in windows:
        figures = attribution.window_figures(samples, window.t0, window.t1)
        found.append(
            (window, figures, attribution.attribute(figures, window.generator_cpu_pct, lang))
        )
    return found


def redis_answer(
    found: Sequence[tuple[Window, attribution.Figures, attribution.Attribution]],
) -> tuple[str, dict[str, Any]] | None:
    """The answer to the seed's "Redis is the main limit", from the run where Redis worked
    hardest (its highest CPU), and whether any run had Redis saturated."""
    sampled = [item for item in found if item[1].redis]
    if not sampled:
        return None
    window, figures, verdict = max(
        sampled, key=lambda item: max(redis.cpu_pct for redis in item[1].redis.values())
    )
    record = {
        "run": window.run,
        "claim": verdict.claim,
        "redis_is_limit_anywhere": any(item[2].redis_is_limit for item in found),
        "redis_cpu_pct_max": max(redis.cpu_pct for redis in figures.redis.values()),
    }
    return f"{verdict.claim} ({window.run}, {window.note}.)", record


def analyse(spec: AnalysisInput) -> dict[str, Any]:
    """Write summary.json, tables.md and the plots into ``spec.out``; return the summary."""
    from loadtest import plots  # matplotlib: only the analysis needs it

    _check_names(spec)
    out = spec.out
    out.mkdir(parents=True, exist_ok=True)

    summaries: list[analysis.RunSummary] = []
    series: dict[str, list[analysis.RatePoint]] = {}
    verdicts: list[tuple[str, analysis.SaturationVerdict | None]] = []
    instances: list[tuple[str, dict[str, int]]] = []
    run_records: list[dict[str, Any]] = []
    for name, directory in spec.runs:
        summary = analysis.summarize_run(directory, name)
        summaries.append(summary)
        points = analysis.run_series(directory, spec.window_s)
        if points:
            series[name] = points
        verdict, record = _verdict(summary, spec)
        verdicts.append((name, verdict))
        counts = read_json(directory / INSTANCES_FILE) or {}
        instances.append((name, counts))
        run_records.append(
            summary.to_dict()
            | {"directory": str(directory), "instances": counts or None}
            | record
            | {"series": [asdict(point) for point in points]}
        )

    by_name = {summary.name: summary for summary in summaries}
    pairs: list[tuple[analysis.RunSummary, analysis.RunSummary]] = []
    for baseline, candidate in spec.compare:
        for wanted in (baseline, candidate):
            if wanted not in by_name:
                raise ValueError(f"--compare: no run named {wanted!r} (runs: {', '.join(by_name)})")
        pairs.append((by_name[baseline], by_name[candidate]))
    if not spec.compare and len(summaries) > 1:
        pairs = [(summaries[0], other) for other in summaries[1:]]
    comparisons = [
        {
            "baseline": baseline.name,
            "candidate": candidate.name,
            "change_pct": {
                key: analysis.percent_change(getattr(baseline, key), getattr(candidate, key))
                for key in ("rps", "mean_ms", "p95", "p99", "error_pct")
            },
        }
        for baseline, candidate in pairs
    ]

    pngs: list[str] = []
    if series:
        pngs.append(plots.plot_timeseries(series, out / "timeseries.png").name)

    capacities: list[analysis.RepeatedCapacity] = []
    capacity_records = []
    capacity_cpu: dict[str, tuple[float | None, float | None]] = {}
    for name, directories in spec.capacities:
        if not directories:
            raise ValueError(f"--capacity {name}: no run directory")
        results = [
            analysis.capacity_from_run(directory, spec.slo_p99_ms, spec.max_error_pct)
            for directory in directories
        ]
        repeated = analysis.repeated_capacity(name, results)
        capacities.append(repeated)
        metas = [analysis.read_run_meta(directory) for directory in directories]
        busiest = [m["generator_cpu_pct"] for m in metas if m.get("generator_cpu_pct") is not None]
        total = [
            m["generator_cpu_total_pct"]
            for m in metas
            if m.get("generator_cpu_total_pct") is not None
        ]
        capacity_cpu[name] = (max(busiest, default=None), max(total, default=None))
        capacity_records.append(
            repeated.to_dict()
            | {
                "directories": [str(directory) for directory in directories],
                "generator_cpu_pct": capacity_cpu[name][0],
                "generator_cpu_total_pct": capacity_cpu[name][1],
            }
        )
    scaling = [analysis.scaling_ratio(capacities[0], other) for other in capacities[1:]]
    if capacities:
        pngs.append(plots.plot_capacity(capacities, out / "capacity.png").name)

    samples = attribution.load_samples(spec.samples) if spec.samples else []
    windows = [run_window(name, directory, False) for name, directory in spec.runs]
    windows += [
        run_window(directory.name, directory, True)
        for _, directories in spec.capacities
        for directory in directories
    ]
    found = attribute_runs([w for w in windows if w is not None], samples, spec.lang)
    answer = redis_answer(found) if samples else None
    if samples and found:
        # Per-service CPU of the think-time runs and each scenario's first capacity run.
        shown = [name for name, _ in spec.runs]
        shown += [directories[0].name for _, directories in spec.capacities]
        series = {
            f"{window.run} ({window.note})": attribution.cpu_series(
                samples, window.t0, window.t1, spec.window_s
            )
            for window, _, _ in found
            if window.run in shown
        }
        pngs.append(attribution.plot_service_cpu(series, out / "service-cpu.png", spec.lang).name)

    document = {
        "lang": spec.lang,
        "runs": run_records,
        "comparisons": comparisons,
        "capacity": capacity_records,
        "scaling": [ratio.to_dict() for ratio in scaling],
        "saturated": [
            {
                "run": window.run,
                "window": asdict(window),
                "limit": verdict.limit,
                "line": verdict.sentence,
                "redis_is_limit": verdict.redis_is_limit,
                "figures": figures.to_dict(),
            }
            for window, figures, verdict in found
            if samples
        ],
        "redis_claim": answer[1] if answer else None,
        "samples": [str(path) for path in spec.samples],
        "plots": pngs,
    }
    (out / "summary.json").write_text(
        json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    markdown = report.render_markdown(
        summaries,
        pairs,
        verdicts,
        capacities,
        instances,
        lang=spec.lang,
        generator_total={rec["name"]: rec.get("generator_cpu_total_pct") for rec in run_records},
        capacity_cpu=capacity_cpu,
        scaling=scaling,
        saturated=[
            (f"{window.run} ({window.note})", verdict.sentence)
            for window, _, verdict in found
            if samples
        ],
        redis_answer=answer[0] if answer else "",
    )
    (out / "tables.md").write_text(markdown, encoding="utf-8")
    print(f"wrote {out / 'summary.json'}, {out / 'tables.md'}, {', '.join(pngs) or 'no plots'}")
    return document
