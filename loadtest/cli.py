"""Command line: ``python -m loadtest {analyse,verdict,validate-profile,run} ...``."""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from loadtest import analysis, report
from loadtest.profiles import PROFILES_FILE, Profile, get_profile

RUN_META = "run.json"
INSTANCES_FILE = "instances.json"
CSV_PREFIX = "locust"


def _named_dir(value: str) -> tuple[str, Path]:
    name, sep, directory = value.partition("=")
    if not sep or not name.strip() or not directory.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=DIR, got {value!r}")
    return name.strip(), Path(directory.strip())


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-").lower() or "run"


def _read_json(path: Path) -> Any:
    if not path.exists():
        return None
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and --help)."""
    parser = argparse.ArgumentParser(
        prog="python -m loadtest", description="Run locust profiles and analyse their CSVs."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    analyse = sub.add_parser(
        "analyse",
        aliases=["analyze"],
        help="summary.json, tables.md and PNG plots from locust --csv output",
    )
    analyse.add_argument(
        "--run",
        dest="runs",
        action="append",
        type=_named_dir,
        default=[],
        metavar="NAME=DIR",
        help="a run directory holding one locust *_stats.csv (repeat; first is the baseline)",
    )
    analyse.add_argument(
        "--capacity",
        dest="capacities",
        action="append",
        type=_named_dir,
        default=[],
        metavar="NAME=DIR",
        help="a stepped (capacity profile) run: per-step table and capacity curve",
    )
    analyse.add_argument("--out", required=True, type=Path, help="output directory")
    analyse.add_argument(
        "--compare",
        nargs=2,
        action="append",
        default=[],
        metavar=("BASELINE", "CANDIDATE"),
        help="runs to compare (repeat); default: the first run against each other one",
    )
    analyse.add_argument(
        "--think-mean",
        type=float,
        default=None,
        metavar="S",
        help="mean think time in seconds for the verdict (default: from DIR/run.json)",
    )
    analyse.add_argument(
        "--generator-cpu",
        type=float,
        default=None,
        metavar="PCT",
        help="load generator CPU %% (default: from DIR/run.json, else unknown)",
    )
    analyse.add_argument(
        "--requests-per-iteration",
        type=float,
        default=None,
        metavar="K",
        help="mean requests per think time (default: from DIR/run.json, else 1)",
    )
    analyse.add_argument("--slo-p99-ms", type=float, default=500.0, help="capacity SLO on p99")
    analyse.add_argument(
        "--max-error-pct", type=float, default=1.0, help="capacity limit on errors, %%"
    )
    analyse.add_argument("--lang", choices=report.LANGS, default="en")

    verdict = sub.add_parser(
        "verdict", help="saturation verdict from numbers, e.g. the seed report's"
    )
    verdict.add_argument("--users", type=float, required=True)
    verdict.add_argument("--think-mean", type=float, required=True, metavar="S")
    verdict.add_argument("--mean-ms", type=float, required=True, help="mean response time")
    verdict.add_argument("--rps", type=float, required=True, help="achieved requests/s")
    verdict.add_argument("--generator-cpu", type=float, default=None, metavar="PCT")
    verdict.add_argument("--requests-per-iteration", type=float, default=1.0, metavar="K")
    verdict.add_argument("--lang", choices=report.LANGS, default="en")
    verdict.add_argument("--json", action="store_true", help="print the numbers as JSON")

    validate = sub.add_parser("validate-profile", help="check a profile of profiles.yml")
    validate.add_argument("name")
    validate.add_argument("--profiles", type=Path, default=PROFILES_FILE)

    run = sub.add_parser(
        "run", help="run locust headless with a profile, measuring the generator's CPU"
    )
    run.add_argument("profile")
    run.add_argument("--host", required=True, help="base URL, e.g. http://127.0.0.1:8000")
    run.add_argument("--out", required=True, type=Path, help="run directory to write")
    run.add_argument("--profiles", type=Path, default=PROFILES_FILE)
    run.add_argument(
        "--locust",
        default=str(Path(sys.executable).with_name("locust")),
        help="locust executable (default: next to this python)",
    )
    return parser


# --------------------------------------------------------------------------- analyse


def analyse(args: argparse.Namespace) -> int:
    """The ``analyse`` command."""
    from loadtest import plots  # matplotlib: only this command needs it

    if not args.runs and not args.capacities:
        raise ValueError("nothing to analyse: give --run NAME=DIR and/or --capacity NAME=DIR")
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    summaries: list[analysis.RunSummary] = []
    series: dict[str, list[analysis.RatePoint]] = {}
    verdicts: list[tuple[str, analysis.SaturationVerdict | None]] = []
    instances: list[tuple[str, dict[str, int]]] = []
    run_records: list[dict[str, Any]] = []
    names = [name for name, _ in args.runs + args.capacities]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"run names must be unique: {', '.join(duplicates)}")
    for name, directory in args.runs:
        summary = analysis.summarize_run(directory, name)
        summaries.append(summary)
        _, history_path = analysis.find_csv_files(directory)
        if history_path is not None:
            series[name] = analysis.rate_series(analysis.parse_history(history_path).rows)
        meta = _read_json(directory / RUN_META) or {}
        think = args.think_mean if args.think_mean is not None else meta.get("think_mean_s")
        cpu = args.generator_cpu
        if cpu is None:
            cpu = meta.get("generator_cpu_pct")
        per_iteration = args.requests_per_iteration
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
                lang=args.lang,
            )
        verdicts.append((name, verdict))
        counts = _read_json(directory / INSTANCES_FILE) or {}
        instances.append((name, counts))
        run_records.append(
            summary.to_dict()
            | {
                "directory": str(directory),
                "think_mean_s": think,
                "generator_cpu_pct": cpu,
                "requests_per_iteration": per_iteration,
                "verdict": verdict.to_dict() if verdict else None,
                "instances": counts or None,
            }
        )

    by_name = {summary.name: summary for summary in summaries}
    pairs: list[tuple[analysis.RunSummary, analysis.RunSummary]] = []
    for baseline, candidate in args.compare:
        for wanted in (baseline, candidate):
            if wanted not in by_name:
                raise ValueError(f"--compare: no run named {wanted!r} (runs: {', '.join(by_name)})")
        pairs.append((by_name[baseline], by_name[candidate]))
    if not args.compare and len(summaries) > 1:
        pairs = [(summaries[0], other) for other in summaries[1:]]

    comparisons = []
    for baseline, candidate in pairs:
        changes = {
            key: analysis.percent_change(getattr(baseline, key), getattr(candidate, key))
            for key in ("rps", "mean_ms", "p95", "p99", "error_pct")
        }
        comparisons.append(
            {"baseline": baseline.name, "candidate": candidate.name, "change_pct": changes}
        )

    pngs: list[str] = []
    if series:
        pngs.append(plots.plot_timeseries(series, out / "timeseries.png").name)

    capacities: list[tuple[str, analysis.CapacityResult]] = []
    capacity_records = []
    for name, directory in args.capacities:
        result = analysis.capacity_from_run(directory, args.slo_p99_ms, args.max_error_pct)
        capacities.append((name, result))
        png = plots.plot_capacity(result, out / f"capacity-{_slug(name)}.png", title=name)
        pngs.append(png.name)
        capacity_records.append({"name": name, "directory": str(directory)} | result.to_dict())

    document = {
        "lang": args.lang,
        "runs": run_records,
        "comparisons": comparisons,
        "capacity": capacity_records,
        "plots": pngs,
    }
    (out / "summary.json").write_text(
        json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    markdown = report.render_markdown(
        summaries, pairs, verdicts, capacities, instances, lang=args.lang
    )
    (out / "tables.md").write_text(markdown, encoding="utf-8")
    print(f"wrote {out / 'summary.json'}, {out / 'tables.md'}, {', '.join(pngs) or 'no plots'}")
    return 0


def verdict_command(args: argparse.Namespace) -> int:
    """The ``verdict`` command: Little's law on given numbers."""
    verdict = analysis.saturation_verdict(
        args.users,
        args.think_mean,
        args.mean_ms,
        args.rps,
        args.generator_cpu,
        requests_per_iteration=args.requests_per_iteration,
        lang=args.lang,
    )
    if args.json:
        print(json.dumps(verdict.to_dict(), indent=2, ensure_ascii=False))
    else:
        print(f"{verdict.verdict}: {verdict.explanation}")
    return 0


# --------------------------------------------------------------------------- profiles


def _describe(profile: Profile) -> str:
    shape = (
        f", steps of {profile.step.step_users} users every {profile.step.step_seconds:g} s"
        if profile.step
        else ""
    )
    return (
        f"profile {profile.name}: OK: {profile.users} users, spawn {profile.spawn_rate:g}/s, "
        f"{profile.planned_duration_s:g} s, think {profile.wait_min_s:g}-{profile.wait_max_s:g} s "
        f"(mean {profile.think_mean_s:g} s){shape}"
    )


def validate_profile(args: argparse.Namespace) -> int:
    """The ``validate-profile`` command."""
    profile = get_profile(args.name, args.profiles)
    print(_describe(profile))
    for key, value in profile.locust_env().items():
        print(f"  {key}={shlex.quote(value)}")
    return 0


def run_locust(args: argparse.Namespace) -> int:
    """The ``run`` command: locust headless with the profile; CPU sampled with psutil."""
    import psutil  # locust depends on it; imported here to keep `analyse` light

    profile = get_profile(args.profile, args.profiles)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    command = [args.locust, *profile.locust_args(args.host, out / CSV_PREFIX)]
    env = os.environ | profile.locust_env()
    env["LOADTEST_INSTANCES_FILE"] = str(out / INSTANCES_FILE)
    print(_describe(profile))
    print("$ " + shlex.join(command), flush=True)

    started = time.monotonic()
    process = subprocess.Popen(command, env=env)
    samples: list[float] = []
    try:
        watched = psutil.Process(process.pid)
        watched.cpu_percent(None)
        while True:
            try:
                process.wait(timeout=1.0)
                break
            except subprocess.TimeoutExpired:
                pass
            if time.monotonic() - started > profile.planned_duration_s + 60:
                process.kill()
                process.wait()
                raise TimeoutError(f"locust ran over {profile.planned_duration_s + 60:g} s")
            try:
                samples.append(watched.cpu_percent(None))
            except psutil.NoSuchProcess:
                break
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    wall = time.monotonic() - started
    # Drop the first sample: it is locust importing and starting, not generating load.
    loaded = samples[1:] or samples
    meta = {
        "profile": profile.name,
        "host": args.host,
        "users": profile.users,
        "think_mean_s": profile.think_mean_s,
        "requests_per_iteration": profile.requests_per_iteration,
        "generator_cpu_pct": sum(loaded) / len(loaded) if loaded else None,
        "generator_cpu_peak_pct": max(loaded) if loaded else None,
        "wall_s": wall,
        "returncode": process.returncode,
        "command": command,
    }
    (out / RUN_META).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return int(process.returncode or 0)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (2 with a message on bad input)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command in ("analyse", "analyze"):
            return analyse(args)
        if args.command == "validate-profile":
            return validate_profile(args)
        if args.command == "verdict":
            return verdict_command(args)
        return run_locust(args)
    except (ValueError, FileNotFoundError, TimeoutError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
