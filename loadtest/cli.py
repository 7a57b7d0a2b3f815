"""Command line: ``python -m loadtest {analyse,verdict,validate-profile,run} ...``."""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from loadtest import analysis, report
from loadtest.profiles import LOCUSTFILE, PROFILES_FILE, Profile, get_profile

RUN_META = "run.json"
HTML_REPORT = "report.html"
PID_FILE = "run.pid"
WORKER_CPU_FILE = "worker-cpu.json"
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
    stop = sub.add_parser("stop", help="stop a `run` still going in a run directory")
    stop.add_argument("--out", required=True, type=Path, help="the run directory")
    stop.add_argument("--timeout", type=float, default=20.0, help="seconds to wait for it")
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
                "generator_cpu_total_pct": meta.get("generator_cpu_total_pct", cpu),
                "generator_processes": meta.get("generator_processes", 1),
                "workers_local": meta.get("workers", 0),
                "workers_remote": meta.get("remote_workers", 0),
                "locust_version": meta.get("locust_version"),
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
        meta = _read_json(directory / RUN_META) or {}
        capacity_records.append(
            {"name": name, "directory": str(directory)}
            | result.to_dict()
            | {
                "generator_cpu_pct": meta.get("generator_cpu_pct"),
                "generator_cpu_total_pct": meta.get("generator_cpu_total_pct"),
            }
        )
    if capacities:
        pngs.append(plots.plot_capacity(dict(capacities), out / "capacity.png").name)

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
    generator_total = {rec["name"]: rec.get("generator_cpu_total_pct") for rec in run_records}
    markdown = report.render_markdown(
        summaries,
        pairs,
        verdicts,
        capacities,
        instances,
        lang=args.lang,
        generator_total=generator_total,
        capacity_cpu={
            rec["name"]: (rec["generator_cpu_pct"], rec["generator_cpu_total_pct"])
            for rec in capacity_records
        },
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
    print(_describe(profile))
    for key, value in profile.locust_env().items():
        print(f"  {key}={shlex.quote(value)}")
    return 0


def _free_port(host: str) -> int:
    """A TCP port free on ``host`` right now (for a local master)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def locust_commands(
    args: argparse.Namespace, profile: Profile, master_port: int
) -> tuple[list[str], list[list[str]]]:
    """The locust command (the master when distributed) and the local workers' commands.

    One process without workers. With ``--workers N`` (local processes) and/or
    ``--remote-workers M`` (started elsewhere, e.g. a Swarm service) the first command is a
    headless master waiting for N + M workers; the HTML report and CSVs come from it.
    """
    out: Path = args.out
    command = [args.locust, *profile.locust_args(args.host, out / CSV_PREFIX)]
    command += ["--html", str(out / HTML_REPORT)]
    expected = args.workers + args.remote_workers
    if expected == 0:
        return command, []
    command += [
        "--master",
        "--expect-workers",
        str(expected),
        "--expect-workers-max-wait",
        f"{args.expect_workers_timeout:g}",
        "--master-bind-host",
        args.master_bind_host,
        "--master-bind-port",
        str(master_port),
    ]
    # Local workers reach a master bound to every address over the loopback.
    local_master = args.master_bind_host
    if local_master in ("0.0.0.0", "*", ""):
        local_master = "127.0.0.1"
    worker = [
        args.locust,
        "-f",
        str(LOCUSTFILE),
        "--worker",
        "--master-host",
        local_master,
        "--master-port",
        str(master_port),
    ]
    return command, [list(worker) for _ in range(args.workers)]


class _CpuSampler:
    """CPU of the generator's processes (psutil), one sample a second per process.

    Locust is one gevent thread per process, so the busiest process is what can saturate
    (its mean is the verdict's ``generator_cpu_pct``); the sum is the generator's total.
    """

    def __init__(self, pids: Sequence[int]) -> None:
        import psutil  # locust depends on it; imported here to keep `analyse` light

        self._psutil = psutil
        self.processes = [psutil.Process(pid) for pid in pids]
        self.samples: list[list[float]] = [[] for _ in pids]
        for process in self.processes:
            process.cpu_percent(None)

    def sample(self) -> None:
        for index, process in enumerate(self.processes):
            try:
                self.samples[index].append(process.cpu_percent(None))
            except self._psutil.NoSuchProcess:
                continue

    def summary(self, remote_means: Sequence[float] = ()) -> dict[str, Any]:
        """Mean CPU per process (and of remote workers, as they reported it)."""
        # Drop each first sample: it is locust importing and starting, not generating load.
        means = []
        peak = 0.0
        for samples in self.samples:
            loaded = samples[1:] or samples
            if loaded:
                means.append(sum(loaded) / len(loaded))
                peak = max(peak, max(loaded))
        means += list(remote_means)
        if not means:
            return {"generator_cpu_pct": None, "generator_cpu_total_pct": None}
        return {
            "generator_cpu_pct": max(means),
            "generator_cpu_total_pct": sum(means),
            "generator_cpu_peak_pct": peak,
            "generator_cpu_per_process_pct": means,
        }


class Stopped(Exception):
    """SIGTERM reached ``run``: its locust processes are stopped on the way out."""


def _raise_stopped(signum: int, _frame: Any) -> None:
    raise Stopped(f"stopped by signal {signum}")


def stop_run(args: argparse.Namespace) -> int:
    """The ``stop`` command: SIGTERM to the ``run`` of a directory, which stops its locust
    processes; waits until it is gone. Nothing running is not an error."""
    pid_file: Path = args.out / PID_FILE
    try:
        pid = int(pid_file.read_text(encoding="utf-8").strip())
    except (FileNotFoundError, ValueError):
        print(f"no run going in {args.out}")
        return 0
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pid_file.unlink(missing_ok=True)
        print(f"run {pid} had already ended")
        return 0
    # `run` removes its pid file once its locust processes are gone (a zombie, not yet reaped
    # by its parent, would still answer kill 0).
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            pid_file.unlink(missing_ok=True)
            print(f"stopped run {pid}")
            return 0
        if not pid_file.exists():
            print(f"stopped run {pid}")
            return 0
        time.sleep(0.2)
    raise TimeoutError(f"run {pid} still going after {args.timeout:g} s")


def run_locust(args: argparse.Namespace) -> int:
    """The ``run`` command: locust headless with the profile; CPU sampled with psutil."""
    if args.workers < 0 or args.remote_workers < 0:
        raise ValueError("--workers and --remote-workers must be >= 0")
    if args.expect_workers_timeout <= 0:
        raise ValueError("--expect-workers-timeout must be > 0")
    if args.stop_p99_ms is not None and args.stop_p99_ms <= 0:
        raise ValueError("--stop-p99-ms must be > 0")
    profile = get_profile(args.profile, args.profiles)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    distributed = args.workers + args.remote_workers > 0
    port = args.master_port or (_free_port(args.master_bind_host) if distributed else 0)
    command, worker_commands = locust_commands(args, profile, port)
    env = os.environ | profile.locust_env()
    env["LOADTEST_INSTANCES_FILE"] = str(out / INSTANCES_FILE)
    env["LOADTEST_WORKER_CPU_FILE"] = str(out / WORKER_CPU_FILE)
    if args.stop_p99_ms is not None:
        env["LOADTEST_STOP_P99_MS"] = f"{args.stop_p99_ms:g}"
        env["LOADTEST_STOP_ERROR_PCT"] = f"{args.stop_error_pct:g}"
    (out / WORKER_CPU_FILE).unlink(missing_ok=True)
    print(_describe(profile))
    if distributed:
        print(
            f"distributed: master on {args.master_bind_host}:{port}, "
            f"{args.workers} local + {args.remote_workers} remote worker(s)"
        )
    print("$ " + shlex.join(command), flush=True)

    # Wall clock limit: the run, the wait for workers, the spawn and stop, with margin.
    limit = profile.planned_duration_s + 60 + (args.expect_workers_timeout if distributed else 0)
    started = time.monotonic()
    pid_file = out / PID_FILE
    pid_file.write_text(f"{os.getpid()}\n", encoding="utf-8")
    previous = signal.signal(signal.SIGTERM, _raise_stopped)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        processes.append(subprocess.Popen(command, env=env))
        for worker in worker_commands:
            processes.append(subprocess.Popen(worker, env=env, stdout=subprocess.DEVNULL))
        master = processes[0]
        sampled = processes[:1] if args.remote_workers else processes
        sampler = _CpuSampler([process.pid for process in sampled])
        while True:
            try:
                master.wait(timeout=1.0)
                break
            except subprocess.TimeoutExpired:
                pass
            if time.monotonic() - started > limit:
                raise TimeoutError(f"locust ran over {limit:g} s")
            sampler.sample()
        for worker_process in processes[1:]:
            try:
                worker_process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                worker_process.terminate()
    finally:
        signal.signal(signal.SIGTERM, previous)
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
        pid_file.unlink(missing_ok=True)
    wall = time.monotonic() - started
    # With remote workers, every worker's CPU is what it reported to the master (Locust's
    # own reading, local workers included); else all processes were sampled here.
    reported_cpu: list[float] = []
    if args.remote_workers:
        reported = _read_json(out / WORKER_CPU_FILE) or {}
        reported_cpu = [float(value) for value in reported.values()]
    meta = {
        "profile": profile.name,
        "locust_version": importlib.metadata.version("locust"),
        "host": args.host,
        "users": profile.users,
        "think_mean_s": profile.think_mean_s,
        "requests_per_iteration": profile.requests_per_iteration,
        "workers": args.workers,
        "remote_workers": args.remote_workers,
        "generator_processes": len(processes) + args.remote_workers,
        **sampler.summary(reported_cpu),
        "wall_s": wall,
        "returncode": master.returncode,
        "command": command,
    }
    (out / RUN_META).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return int(master.returncode or 0)


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
        if args.command == "stop":
            return stop_run(args)
        return run_locust(args)
    except Stopped as error:
        print(f"error: {error}", file=sys.stderr)
        return 143
    except (ValueError, FileNotFoundError, TimeoutError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
