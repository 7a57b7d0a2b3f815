"""A whole load test from one plan file: every run in order, then the analysis.

The role writes ``plan.json`` and starts ``python -m loadtest plan plan.json`` once. The plan
is checked first (profiles, names, runner); then, before each run, the package writes
``plan-wait.json`` (the run's index, name, replicas and the profile's worker environment) and,
when the plan asks for a handshake, waits until ``plan-go`` holds that index: the role scales
the service (and redeploys Swarm workers) in between; then the package waits (at most
``replicas_timeout_s``) until every planned replica answers through the target. After the
last run one more wait (index = the number of runs, ``"analysis": true``) lets the role
collect the nodes' samples; then the analysis writes summary.json and tables.md, which the
role reads. ``baselines`` are think-time runs of an earlier plan (e.g. the Swarm runs beside
the Kubernetes ones): analysed with this plan's runs, not run again; ``compare`` names the
pairs of the comparison tables (default: the first run against each other one).

A plan::

    {"out": "artifacts/loadtest", "target": "http://127.0.0.1:8080",
     "slo_p99_ms": 100, "max_error_pct": 1.0, "lang": "en", "window_s": 5,
     "runner": {"workers": 2, "remote_workers": 0, "master_bind_host": "127.0.0.1",
                "master_port": 0, "expect_workers_timeout": 90},
     "handshake": true, "handshake_timeout_s": 600, "replicas_timeout_s": 60,
     "samples_dir": "artifacts/loadtest/samples",
     "baselines": [{"scenario": "swarm-4-replicas", "dir": "artifacts/loadtest/swarm-4-replicas"}],
     "compare": [["swarm-4-replicas", "k8s-4-replicas"]],
     "runs": [{"name": "swarm-1-replica", "scenario": "swarm-1-replica", "replicas": 1,
               "profile": "seed", "kind": "run"},
              {"name": "swarm-1-replica-capacity-1", "scenario": "swarm-1-replica",
               "replicas": 1, "profile": "capacity", "kind": "capacity"}, ...]}
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadtest.pipeline import DEFAULT_WINDOW_S, AnalysisInput, analyse
from loadtest.profiles import PROFILES_FILE, Profile, get_profile
from loadtest.runner import PID_FILE, RunOptions, describe, raise_stopped, run_locust

WAIT_FILE = "plan-wait.json"
GO_FILE = "plan-go"
STATE_FILE = "plan-state.json"
KINDS = ("run", "capacity")
LABELS = {"run": "think-time", "capacity": "capacity"}  # how errors name a run's kind
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class PlannedRun:
    """One Locust run of the plan."""

    name: str  # its directory under the plan's out
    scenario: str
    replicas: int
    profile: str
    kind: str  # "run" (think-time profile: headline numbers) or "capacity" (stepped)


@dataclass(frozen=True)
class Plan:
    """A validated plan."""

    out: Path
    target: str
    runs: list[PlannedRun]
    profiles: dict[str, Profile]
    slo_p99_ms: float = 100.0
    max_error_pct: float = 1.0
    lang: str = "en"
    window_s: float = DEFAULT_WINDOW_S
    workers: int = 0
    remote_workers: int = 0
    master_bind_host: str = "127.0.0.1"
    master_port: int = 0
    expect_workers_timeout: float = 60.0
    handshake: bool = False
    handshake_timeout_s: float = 600.0
    replicas_timeout_s: float = 60.0  # after a handshake: wait for every replica (0: do not)
    samples_dir: Path | None = None
    profiles_file: Path = PROFILES_FILE
    baselines: tuple[tuple[str, Path], ...] = ()  # (scenario, directory of an earlier run)
    compare: tuple[tuple[str, str], ...] = ()  # (baseline scenario, candidate scenario)

    @property
    def planned_s(self) -> float:
        """Seconds of load the runs plan, without waits and spawn."""
        return sum(self.profiles[run.profile].planned_duration_s for run in self.runs)


def _number(data: Mapping[str, Any], key: str, default: float, minimum: float = 0.0) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise ValueError(f"plan: {key} must be a number >= {minimum:g}, got {value!r}")
    return float(value)


def parse_plan(document: Mapping[str, Any], base: Path | None = None) -> Plan:
    """Validate a plan document; ValueError naming the field on bad input."""
    if not isinstance(document, Mapping):
        raise ValueError("plan: expected a mapping")
    for key in ("out", "target", "runs"):
        if not document.get(key):
            raise ValueError(f"plan: {key} is missing")
    target = str(document["target"])
    if not re.match(r"^https?://[^/\s]+", target):
        raise ValueError(f"plan: target must be an http(s) URL, got {target!r}")
    profiles_file = Path(document.get("profiles_file") or PROFILES_FILE)
    raw_runs = document["runs"]
    if not isinstance(raw_runs, list):
        raise ValueError("plan: runs must be a list")
    runs: list[PlannedRun] = []
    profiles: dict[str, Profile] = {}
    for index, raw in enumerate(raw_runs):
        where = f"plan: runs[{index}]"
        if not isinstance(raw, Mapping):
            raise ValueError(f"{where}: expected a mapping")
        name = str(raw.get("name", ""))
        if not NAME.match(name):
            raise ValueError(f"{where}: name {name!r} must be letters, digits, '.', '_' or '-'")
        replicas = raw.get("replicas")
        if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 1:
            raise ValueError(f"{where} ({name}): replicas must be an integer >= 1")
        kind = str(raw.get("kind", "run"))
        if kind not in KINDS:
            raise ValueError(f"{where} ({name}): kind must be one of {', '.join(KINDS)}")
        profile_name = str(raw.get("profile", ""))
        if profile_name not in profiles:
            try:
                profiles[profile_name] = get_profile(profile_name, profiles_file)
            except ValueError as error:
                raise ValueError(f"{LABELS[kind]} run {name}: {error}") from None
        if kind == "capacity" and profiles[profile_name].step is None:
            raise ValueError(f"{LABELS[kind]} run {name}: profile {profile_name!r} has no steps")
        scenario = str(raw.get("scenario") or name)
        runs.append(PlannedRun(name, scenario, replicas, profile_name, kind))
    names = [run.name for run in runs]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"plan: run names must be unique: {', '.join(duplicates)}")
    runner = document.get("runner") or {}
    if not isinstance(runner, Mapping):
        raise ValueError("plan: runner must be a mapping")
    workers = int(_number(runner, "workers", 0))
    remote = int(_number(runner, "remote_workers", 0))
    lang = str(document.get("lang", "en"))
    if lang not in ("en", "ru"):
        raise ValueError(f"plan: lang must be en or ru, got {lang!r}")
    samples = document.get("samples_dir")
    baselines = _baselines(document.get("baselines") or [], {run.scenario for run in runs})
    compare = _compare(
        document.get("compare") or [],
        {run.scenario for run in runs if run.kind == "run"} | {name for name, _ in baselines},
    )
    return Plan(
        out=Path(document["out"]),
        target=target.rstrip("/"),
        runs=runs,
        profiles=profiles,
        slo_p99_ms=_number(document, "slo_p99_ms", 100.0, minimum=1e-9),
        max_error_pct=_number(document, "max_error_pct", 1.0),
        lang=lang,
        window_s=_number(document, "window_s", DEFAULT_WINDOW_S, minimum=1.0),
        workers=workers,
        remote_workers=remote,
        master_bind_host=str(runner.get("master_bind_host", "127.0.0.1")),
        master_port=int(_number(runner, "master_port", 0)),
        expect_workers_timeout=_number(runner, "expect_workers_timeout", 60.0, minimum=1.0),
        handshake=bool(document.get("handshake", False)),
        handshake_timeout_s=_number(document, "handshake_timeout_s", 600.0, minimum=1.0),
        replicas_timeout_s=_number(document, "replicas_timeout_s", 60.0),
        samples_dir=Path(samples) if samples else None,
        profiles_file=profiles_file,
        baselines=baselines,
        compare=compare,
    )


def _baselines(raw: Any, scenarios: set[str]) -> tuple[tuple[str, Path], ...]:
    """``baselines``: think-time runs of an earlier plan, by scenario and directory."""
    if not isinstance(raw, list):
        raise ValueError("plan: baselines must be a list")
    found: list[tuple[str, Path]] = []
    for index, item in enumerate(raw):
        where = f"plan: baselines[{index}]"
        if not isinstance(item, Mapping) or not item.get("dir"):
            raise ValueError(f"{where}: expected a mapping with scenario and dir")
        name = str(item.get("scenario", ""))
        if not NAME.match(name):
            raise ValueError(f"{where}: scenario {name!r} must be letters, digits, '.', '_' or '-'")
        if name in scenarios or name in {known for known, _ in found}:
            raise ValueError(f"{where}: scenario {name!r} is already a run of the plan")
        found.append((name, Path(str(item["dir"]))))
    return tuple(found)


def _compare(raw: Any, known: set[str]) -> tuple[tuple[str, str], ...]:
    """``compare``: pairs of think-time scenarios (this plan's or baselines)."""
    if not isinstance(raw, list):
        raise ValueError("plan: compare must be a list of [baseline, candidate] pairs")
    pairs: list[tuple[str, str]] = []
    for index, pair in enumerate(raw):
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise ValueError(f"plan: compare[{index}] must be a [baseline, candidate] pair")
        for name in pair:
            if str(name) not in known:
                raise ValueError(
                    f"plan: compare[{index}]: {name!r} is not a think-time run or baseline "
                    f"of the plan ({', '.join(sorted(known))})"
                )
        pairs.append((str(pair[0]), str(pair[1])))
    return tuple(pairs)


def read_plan(path: Path) -> Plan:
    """Read and validate a plan file (``-``: standard input)."""
    if str(path) == "-":
        return parse_plan(json.loads(sys.stdin.read()))
    if not path.exists():
        raise FileNotFoundError(f"plan file {path} does not exist")
    return parse_plan(json.loads(path.read_text(encoding="utf-8")))


def _write_json(path: Path, data: Any) -> None:
    """Write atomically (the role reads these files while the plan runs)."""
    scratch = path.with_name(path.name + ".tmp")
    scratch.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    scratch.replace(path)


def _await_go(plan: Plan, index: int) -> None:
    """Wait until the role has prepared run ``index`` (``plan-go`` holds the index)."""
    go = plan.out / GO_FILE
    deadline = time.monotonic() + plan.handshake_timeout_s
    while time.monotonic() < deadline:
        try:
            if go.read_text(encoding="utf-8").strip() == str(index):
                return
        except FileNotFoundError:
            pass
        time.sleep(0.25)
    what = plan.runs[index].name if index < len(plan.runs) else "the analysis"
    raise TimeoutError(
        f"nobody prepared step {index} ({what}) within "
        f"{plan.handshake_timeout_s:g} s (expected {go} to hold {index})"
    )


def serving_replicas(target: str, requests: int, timeout_s: float = 2.0) -> set[str]:
    """The replicas (hostname part of ``X-Instance``) that answered ``requests`` GETs of
    ``/readyz`` through the target."""
    seen: set[str] = set()
    for _ in range(requests):
        try:
            with urllib.request.urlopen(f"{target}/readyz", timeout=timeout_s) as response:
                instance = response.headers.get("X-Instance") or ""
        except (urllib.error.URLError, OSError):
            continue
        if instance:
            seen.add(instance.split(":", 1)[0])
    return seen


def await_replicas(target: str, replicas: int, timeout_s: float) -> set[str]:
    """Wait until ``replicas`` distinct replicas answer through the target (the edge or the
    routing mesh has seen every new one), at most ``timeout_s``; returns those seen last."""
    deadline = time.monotonic() + timeout_s
    seen: set[str] = set()
    while True:
        seen = serving_replicas(target, 4 * replicas)
        if len(seen) >= replicas or time.monotonic() >= deadline:
            return seen
        time.sleep(1.0)


def analysis_input(plan: Plan) -> AnalysisInput:
    """The analysis of the plan's runs: think-time runs by scenario, capacity runs grouped
    into each scenario's repetitions."""
    capacities: dict[str, list[Path]] = {}
    for run in plan.runs:
        if run.kind == "capacity":
            capacities.setdefault(f"{run.scenario}-capacity", []).append(plan.out / run.name)
    samples = sorted(plan.samples_dir.glob("*.jsonl")) if plan.samples_dir else []
    return AnalysisInput(
        out=plan.out,
        runs=list(plan.baselines)
        + [(run.scenario, plan.out / run.name) for run in plan.runs if run.kind == "run"],
        compare=plan.compare,
        capacities=list(capacities.items()),
        slo_p99_ms=plan.slo_p99_ms,
        max_error_pct=plan.max_error_pct,
        lang=plan.lang,
        window_s=plan.window_s,
        samples=samples,
    )


def execute(plan: Plan) -> int:
    """Run the plan, then analyse it. Returns 0, or the first failed run's exit code."""
    plan.out.mkdir(parents=True, exist_ok=True)
    for stale in (WAIT_FILE, GO_FILE, STATE_FILE):
        (plan.out / stale).unlink(missing_ok=True)
    pid_file = plan.out / PID_FILE
    pid_file.write_text(f"{os.getpid()}\n", encoding="utf-8")
    previous = signal.signal(signal.SIGTERM, raise_stopped)
    done: list[dict[str, Any]] = []
    try:
        for index, run in enumerate(plan.runs):
            profile = plan.profiles[run.profile]
            _write_json(
                plan.out / WAIT_FILE,
                {
                    "index": index,
                    "name": run.name,
                    "replicas": run.replicas,
                    "profile": run.profile,
                    "planned_duration_s": profile.planned_duration_s,
                    "env": profile.locust_env(),
                },
            )
            if plan.handshake:
                _await_go(plan, index)
                # The role scaled the service; measure only once every replica serves.
                seen = set()
                if plan.replicas_timeout_s > 0:
                    seen = await_replicas(plan.target, run.replicas, plan.replicas_timeout_s)
                if plan.replicas_timeout_s > 0 and len(seen) < run.replicas:
                    print(
                        f"warning: {run.name}: {len(seen)} of {run.replicas} replicas answered "
                        "through the target; running anyway",
                        flush=True,
                    )
            run_dir = plan.out / run.name
            shutil.rmtree(run_dir, ignore_errors=True)
            print(f"run {index + 1}/{len(plan.runs)} {run.name}: {describe(profile)}", flush=True)
            code = run_locust(
                RunOptions(
                    profile=run.profile,
                    host=plan.target,
                    out=run_dir,
                    profiles=plan.profiles_file,
                    stop_p99_ms=plan.slo_p99_ms if run.kind == "capacity" else None,
                    stop_error_pct=plan.max_error_pct,
                    workers=plan.workers,
                    remote_workers=plan.remote_workers,
                    master_bind_host=plan.master_bind_host,
                    master_port=plan.master_port,
                    expect_workers_timeout=plan.expect_workers_timeout,
                )
            )
            done.append({"index": index, "name": run.name, "returncode": code})
            _write_json(plan.out / STATE_FILE, {"done": done})
            if code != 0:
                print(f"error: run {run.name}: locust exited with {code}", flush=True)
                return code
        if plan.handshake:
            # The last wait: the role collects the nodes' samples before the analysis.
            _write_json(
                plan.out / WAIT_FILE, {"index": len(plan.runs), "name": "", "analysis": True}
            )
            _await_go(plan, len(plan.runs))
        (plan.out / WAIT_FILE).unlink(missing_ok=True)
        analyse(analysis_input(plan))
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
        pid_file.unlink(missing_ok=True)
