"""Runs Locust: one process, or a master with local and/or remote workers, supervised.

The generator's processes are sampled for CPU (psutil); every run directory ends with
run.json (profile, workers, generator CPU, start and stop), Locust's CSVs and HTML report,
timeline.json (every request by the second it was sent in), instances.json (responses per
replica) and, distributed, worker-cpu.json.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadtest.profiles import LOCUSTFILE, PROFILES_FILE, Profile, get_profile
from loadtest.timeline import TIMELINE_FILE

RUN_META = "run.json"
HTML_REPORT = "report.html"
PID_FILE = "run.pid"
WORKER_CPU_FILE = "worker-cpu.json"
INSTANCES_FILE = "instances.json"
CSV_PREFIX = "locust"


@dataclass(frozen=True)
class RunOptions:
    """One run: the profile, the target and where the generator runs."""

    profile: str
    host: str
    out: Path
    profiles: Path = PROFILES_FILE
    locust: str = str(Path(sys.executable).with_name("locust"))
    stop_p99_ms: float | None = None
    stop_error_pct: float = 1.0
    workers: int = 0
    remote_workers: int = 0
    master_bind_host: str = "127.0.0.1"
    master_port: int = 0
    expect_workers_timeout: float = 60.0


def read_json(path: Path) -> Any:
    """A JSON file's content, None when it does not exist."""
    if not path.exists():
        return None
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)


def describe(profile: Profile) -> str:
    """One line on a profile: users, spawn rate, duration, think time, steps."""
    shape = (
        f", steps of {profile.step.step_users} users every {profile.step.step_seconds:g} s"
        f" (warm-up {profile.step.warmup_s:g} s)"
        if profile.step
        else ""
    )
    think = f"think {profile.wait_min_s:g}-{profile.wait_max_s:g} s"
    pace = (
        f"pacing {profile.pacing_s:g} s"
        if profile.pacing_s
        else f"{think} (mean {profile.think_mean_s:g} s)"
    )
    return (
        f"profile {profile.name}: OK: {profile.users} users, spawn {profile.spawn_rate:g}/s, "
        f"{profile.planned_duration_s:g} s, {pace}{shape}"
    )


def _free_port(host: str) -> int:
    """A TCP port free on ``host`` right now (for a local master)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def locust_commands(
    args: RunOptions, profile: Profile, master_port: int
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


def raise_stopped(signum: int, _frame: Any) -> None:
    raise Stopped(f"stopped by signal {signum}")


def stop_run(out: Path, timeout: float = 20.0) -> int:
    """The ``stop`` command: SIGTERM to the ``run`` of a directory, which stops its locust
    processes; waits until it is gone. Nothing running is not an error."""
    pid_file: Path = out / PID_FILE
    try:
        pid = int(pid_file.read_text(encoding="utf-8").strip())
    except (FileNotFoundError, ValueError):
        print(f"no run going in {out}")
        return 0
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pid_file.unlink(missing_ok=True)
        print(f"run {pid} had already ended")
        return 0
    # `run` removes its pid file once its locust processes are gone (a zombie, not yet reaped
    # by its parent, would still answer kill 0).
    deadline = time.monotonic() + timeout
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
    raise TimeoutError(f"run {pid} still going after {timeout:g} s")


def run_locust(args: RunOptions) -> int:
    """One run: locust headless with the profile into ``args.out``; the generator's CPU
    sampled with psutil; run.json written at the end. Returns locust's exit code."""
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
    env["LOADTEST_TIMELINE_FILE"] = str(out / TIMELINE_FILE)
    if args.stop_p99_ms is not None:
        env["LOADTEST_STOP_P99_MS"] = f"{args.stop_p99_ms:g}"
        env["LOADTEST_STOP_ERROR_PCT"] = f"{args.stop_error_pct:g}"
    for stale in (WORKER_CPU_FILE, TIMELINE_FILE):
        (out / stale).unlink(missing_ok=True)
    print(describe(profile))
    if distributed:
        print(
            f"distributed: master on {args.master_bind_host}:{port}, "
            f"{args.workers} local + {args.remote_workers} remote worker(s)"
        )
    print("$ " + shlex.join(command), flush=True)

    # Wall clock limit: the run, the wait for workers, the spawn and stop, with margin.
    limit = profile.planned_duration_s + 60 + (args.expect_workers_timeout if distributed else 0)
    started = time.monotonic()
    started_at = time.time()
    pid_file = out / PID_FILE
    pid_file.write_text(f"{os.getpid()}\n", encoding="utf-8")
    previous = signal.signal(signal.SIGTERM, raise_stopped)
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
        reported = read_json(out / WORKER_CPU_FILE) or {}
        reported_cpu = [float(value) for value in reported.values()]
    meta = {
        "profile": profile.name,
        "locust_version": importlib.metadata.version("locust"),
        "host": args.host,
        "users": profile.users,
        "think_mean_s": profile.think_mean_s,
        "requests_per_iteration": profile.requests_per_iteration,
        "step_warmup_s": profile.step.warmup_s if profile.step else None,
        "pacing_s": profile.pacing_s or None,
        "started": started_at,
        "stopped": time.time(),
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
