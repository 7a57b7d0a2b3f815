"""Command line: ``python -m loadtest {plan,run,stop,analyse,verdict,validate-profile} ...``.

Argument parsing only: ``plan`` (loadtest/plan.py) runs a whole plan file and its analysis,
``run`` and ``stop`` one Locust run (loadtest/runner.py), ``analyse`` the analysis of given
run directories (loadtest/pipeline.py).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from loadtest import analysis, pipeline, report, runner
from loadtest.plan import execute, read_plan
from loadtest.profiles import PROFILES_FILE, get_profile


def _named_dir(value: str) -> tuple[str, Path]:
    name, sep, directory = value.partition("=")
    if not sep or not name.strip() or not directory.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=DIR, got {value!r}")
    return name.strip(), Path(directory.strip())


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
        help="a stepped (capacity profile) run: per-step table and capacity curve; the same "
        "NAME again adds a repetition (medians and spread per step)",
    )
    analyse.add_argument(
        "--window",
        type=float,
        default=pipeline.DEFAULT_WINDOW_S,
        metavar="S",
        help="time-series window in seconds (at least the workers' report interval, 3 s)",
    )
    analyse.add_argument(
        "--samples",
        action="append",
        type=Path,
        default=[],
        metavar="FILE",
        help="the nodes' samples (loadtest/probe.py JSON lines) for what saturated (repeat)",
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
    analyse.add_argument(
        "--slo-p99-ms", type=float, default=100.0, help="capacity SLO on p99 (ms, default 100)"
    )
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
    validate.add_argument(
        "--json", action="store_true", help="print the profile, its duration and env as JSON"
    )

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
    run.add_argument(
        "--stop-p99-ms",
        type=float,
        default=None,
        metavar="MS",
        help="stepped profiles: end the run at the first step whose p99 is above MS",
    )
    run.add_argument(
        "--stop-error-pct",
        type=float,
        default=1.0,
        metavar="PCT",
        help="with --stop-p99-ms: also end it at the first step with more errors (%%)",
    )
    run.add_argument(
        "--workers",
        type=int,
        default=0,
        metavar="N",
        help="distributed: a master and N local worker processes (0: one process)",
    )
    run.add_argument(
        "--remote-workers",
        type=int,
        default=0,
        metavar="M",
        help="distributed: M more workers started elsewhere (e.g. a Swarm service)",
    )
    run.add_argument(
        "--master-bind-host",
        default="127.0.0.1",
        help="address the master listens on (remote workers must reach it)",
    )
    run.add_argument("--master-port", type=int, default=0, help="master port (default: a free one)")
    run.add_argument(
        "--expect-workers-timeout",
        type=float,
        default=60.0,
        metavar="S",
        help="seconds the master waits for its workers before giving up",
    )
    plan = sub.add_parser("plan", help="run a plan file: every run in order, then the analysis")
    plan.add_argument("plan", type=Path, help="the plan (JSON, see loadtest/plan.py)")
    plan.add_argument(
        "--check", action="store_true", help="only check the plan and print its runs as JSON"
    )
    stop = sub.add_parser("stop", help="stop a `run` or `plan` still going in a directory")
    stop.add_argument("--out", required=True, type=Path, help="the run directory")
    stop.add_argument("--timeout", type=float, default=20.0, help="seconds to wait for it")
    return parser


# --------------------------------------------------------------------------- commands


def _group(pairs: Sequence[tuple[str, Path]]) -> list[tuple[str, list[Path]]]:
    """NAME=DIR pairs grouped by name, in order: a name given again is another repetition."""
    grouped: dict[str, list[Path]] = {}
    for name, directory in pairs:
        grouped.setdefault(name, []).append(directory)
    return list(grouped.items())


def analyse_command(args: argparse.Namespace) -> int:
    """The ``analyse`` command."""
    pipeline.analyse(
        pipeline.AnalysisInput(
            out=args.out,
            runs=args.runs,
            capacities=_group(args.capacities),
            compare=[tuple(pair) for pair in args.compare],
            think_mean_s=args.think_mean,
            generator_cpu_pct=args.generator_cpu,
            requests_per_iteration=args.requests_per_iteration,
            slo_p99_ms=args.slo_p99_ms,
            max_error_pct=args.max_error_pct,
            lang=args.lang,
            window_s=args.window,
            samples=args.samples,
        )
    )
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


def validate_profile(args: argparse.Namespace) -> int:
    """The ``validate-profile`` command."""
    profile = get_profile(args.name, args.profiles)
    if args.json:
        document = {
            "name": profile.name,
            "users": profile.users,
            "planned_duration_s": profile.planned_duration_s,
            "think_mean_s": profile.think_mean_s,
            "env": profile.locust_env(),
        }
        print(json.dumps(document, indent=2))
        return 0
    print(runner.describe(profile))
    for key, value in profile.locust_env().items():
        print(f"  {key}={shlex.quote(value)}")
    return 0


def run_command(args: argparse.Namespace) -> int:
    """The ``run`` command: one Locust run."""
    return runner.run_locust(
        runner.RunOptions(
            profile=args.profile,
            host=args.host,
            out=args.out,
            profiles=args.profiles,
            locust=args.locust,
            stop_p99_ms=args.stop_p99_ms,
            stop_error_pct=args.stop_error_pct,
            workers=args.workers,
            remote_workers=args.remote_workers,
            master_bind_host=args.master_bind_host,
            master_port=args.master_port,
            expect_workers_timeout=args.expect_workers_timeout,
        )
    )


def plan_command(args: argparse.Namespace) -> int:
    """The ``plan`` command: check a plan (``--check``: and print it as JSON) or run it."""
    plan = read_plan(args.plan)
    if args.check:
        runs = [run.__dict__ for run in plan.runs]
        print(json.dumps({"runs": runs, "planned_s": plan.planned_s}, indent=2))
        return 0
    return execute(plan)


COMMANDS = {
    "analyse": analyse_command,
    "analyze": analyse_command,
    "validate-profile": validate_profile,
    "verdict": verdict_command,
    "stop": lambda args: runner.stop_run(args.out, args.timeout),
    "run": run_command,
    "plan": plan_command,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (2 with a message on bad input)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(COMMANDS[args.command](args))
    except runner.Stopped as error:
        print(f"error: {error}", file=sys.stderr)
        return 143
    except (ValueError, FileNotFoundError, TimeoutError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
