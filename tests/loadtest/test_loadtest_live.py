"""Real locust against the real counter app (gunicorn + redis-server on 127.0.0.1)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from loadtest_app_runner import LOCUST, free_port, locust_available

from loadtest import analysis

LOADTEST = (sys.executable, "-m", "loadtest")

pytestmark = pytest.mark.skipif(not locust_available(), reason="locust not installed")


def loadtest_cli(cwd: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``python -m loadtest ARGS`` from *cwd*, output captured."""
    return subprocess.run(
        [*LOADTEST, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


def run_profile(
    profile: str, url: str, out: Path, cwd: Path, profiles: Path | None = None
) -> subprocess.CompletedProcess[str]:
    extra = ["--profiles", str(profiles)] if profiles else []
    return loadtest_cli(cwd, "run", profile, "--host", url, "--out", str(out), *extra, timeout=90)


def test_smoke_profile_against_live_server(app_url: str, tmp_path: Path, repo_root: Path) -> None:
    """The smoke profile (10 users, ~3 s) through ``python -m loadtest run``; then parse."""
    result = run_profile("smoke", app_url, tmp_path, repo_root)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = analysis.summarize_run(tmp_path, "smoke")
    assert summary.requests > 20
    assert summary.failures == 0
    assert summary.users == 10
    assert summary.rps > 0 and summary.p95 > 0
    meta = json.loads((tmp_path / "run.json").read_text(encoding="utf-8"))
    assert meta["profile"] == "smoke" and meta["returncode"] == 0
    assert meta["generator_cpu_pct"] is not None
    instances = json.loads((tmp_path / "instances.json").read_text(encoding="utf-8"))
    assert sum(instances.values()) >= summary.requests
    # X-Instance is <hostname>:<pid>: two gunicorn workers of this host answered
    assert {name.rsplit(":", 1)[0] for name in instances} == {socket.gethostname()}
    assert len(instances) == 2
    names = {entry.name for entry in analysis.parse_stats(tmp_path / "locust_stats.csv")}
    assert names <= {
        "/",
        "/api/counters",
        "/api/counters/[name]",
        "/api/counters/[name]/incr",
        "Aggregated",
    }


def test_step_shape_is_opt_in_and_steps(app_url: str, tmp_path: Path, repo_root: Path) -> None:
    """A two-step shape (3 then 6 users, 1.5 s each) stops by itself; -u is not used."""
    profiles = tmp_path / "profiles.yml"
    profiles.write_text(
        yaml.safe_dump(
            {
                "profiles": {
                    "tiny-steps": {
                        "users": 6,
                        "spawn_rate": 6,
                        "run_time": 3,
                        "wait_min": 0.05,
                        "wait_max": 0.1,
                        "step": {"step_users": 3, "step_seconds": 1.5},
                    }
                }
            }
        ),
        encoding="utf-8",
    )
    result = run_profile("tiny-steps", app_url, tmp_path / "run", repo_root, profiles)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Shape test" in result.stderr
    history = analysis.parse_history(tmp_path / "run" / "locust_stats_history.csv")
    assert {row.users for row in history.rows} - {0} <= {3, 6}
    assert max(row.users for row in history.rows) in (3, 6)


def test_distributed_local_workers(app_url: str, tmp_path: Path, repo_root: Path) -> None:
    """A master and two local worker processes: one CSV/HTML from the master, every
    process's CPU measured, the workers' X-Instance tallies summed by the master."""
    result = loadtest_cli(
        repo_root, "run", "smoke", "--host", app_url, "--out", str(tmp_path), "--workers", "2"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "2 local + 0 remote worker(s)" in result.stdout
    summary = analysis.summarize_run(tmp_path, "distributed")
    assert summary.requests > 20 and summary.failures == 0
    meta = json.loads((tmp_path / "run.json").read_text(encoding="utf-8"))
    assert meta["workers"] == 2 and meta["generator_processes"] == 3
    assert len(meta["generator_cpu_per_process_pct"]) == 3
    assert meta["generator_cpu_total_pct"] >= meta["generator_cpu_pct"] > 0
    instances = json.loads((tmp_path / "instances.json").read_text(encoding="utf-8"))
    assert sum(instances.values()) == summary.requests
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<html" in html.lower() and "/api/counters" in html


def test_remote_worker_hits_its_own_target(app_url: str, tmp_path: Path, repo_root: Path) -> None:
    """A master waiting for one remote worker (as the Swarm runner runs it): the master's
    --host leads nowhere, the worker reaches the app by LOADTEST_TARGET_HOST; its CPU comes
    back in its reports."""
    port = free_port()
    master = ["--master-host", "127.0.0.1", "--master-port", str(port)]
    env = os.environ | {
        "LOADTEST_TARGET_HOST": app_url,
        "LOADTEST_WAIT_MIN": "0.1",
        "LOADTEST_WAIT_MAX": "0.3",
    }
    worker = subprocess.Popen(
        [str(LOCUST), "-f", str(repo_root / "loadtest" / "locustfile.py"), "--worker", *master],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        result = loadtest_cli(
            repo_root,
            "run",
            "smoke",
            "--host",
            "http://127.0.0.1:9",
            "--out",
            str(tmp_path),
            "--remote-workers",
            "1",
            "--master-port",
            str(port),
            timeout=120,
        )
    finally:
        worker.terminate()
        worker.wait(timeout=20)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = analysis.summarize_run(tmp_path, "remote")
    assert summary.requests > 20 and summary.failures == 0
    meta = json.loads((tmp_path / "run.json").read_text(encoding="utf-8"))
    assert meta["remote_workers"] == 1
    reported = json.loads((tmp_path / "worker-cpu.json").read_text(encoding="utf-8"))
    assert len(reported) == 1
    assert len(meta["generator_cpu_per_process_pct"]) == 2  # master + the remote worker


def test_step_shape_stops_at_the_first_step_over_the_slo(
    app_url: str, tmp_path: Path, repo_root: Path
) -> None:
    """With --stop-p99-ms far below any real latency the run ends after its first step."""
    profiles = tmp_path / "profiles.yml"
    profiles.write_text(
        yaml.safe_dump(
            {
                "profiles": {
                    "steps": {
                        "users": 9,
                        "spawn_rate": 9,
                        "run_time": 6,
                        "wait_min": 0.0,
                        "wait_max": 0.05,
                        "step": {"step_users": 3, "step_seconds": 2},
                    }
                }
            }
        ),
        encoding="utf-8",
    )
    out = tmp_path / "run"
    result = loadtest_cli(
        repo_root,
        "run",
        "steps",
        "--host",
        app_url,
        "--out",
        str(out),
        "--profiles",
        str(profiles),
        "--stop-p99-ms",
        "0.001",
        timeout=90,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    history = analysis.parse_history(out / "locust_stats_history.csv")
    assert max(row.users for row in history.rows) == 3
    assert json.loads((out / "run.json").read_text(encoding="utf-8"))["wall_s"] < 6


def test_run_rejects_bad_worker_counts(tmp_path: Path, repo_root: Path) -> None:
    result = run_profile("smoke", "http://127.0.0.1:9", tmp_path, repo_root)
    assert result.returncode == 0  # sanity: the command itself works without a server
    bad = loadtest_cli(
        repo_root,
        "run",
        "smoke",
        "--host",
        "http://127.0.0.1:9",
        "--out",
        str(tmp_path),
        "--workers",
        "-1",
        timeout=30,
    )
    assert bad.returncode == 2
    assert "--workers and --remote-workers must be >= 0" in bad.stderr


def test_stop_ends_a_run_and_its_locust_processes(tmp_path: Path, repo_root: Path) -> None:
    """A master waiting for a worker that never comes: `stop` ends `run` and its locust."""
    run = subprocess.Popen(
        [
            *LOADTEST,
            "run",
            "smoke",
            "--host",
            "http://127.0.0.1:9",
            "--out",
            str(tmp_path),
            "--remote-workers",
            "1",
            "--expect-workers-timeout",
            "60",
        ],
        cwd=repo_root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        pid_file = tmp_path / "run.pid"
        deadline = time.monotonic() + 20
        while not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert pid_file.read_text(encoding="utf-8").strip() == str(run.pid)
        time.sleep(2)  # the master is up and waiting
        stop = loadtest_cli(repo_root, "stop", "--out", str(tmp_path), timeout=60)
        assert stop.returncode == 0, stop.stderr
        assert f"stopped run {run.pid}" in stop.stdout
        assert run.wait(timeout=20) == 143
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert not (tmp_path / "run.pid").exists()
    leftovers = subprocess.run(
        ["pgrep", "-f", f"--csv {tmp_path}/locust"], capture_output=True, text=True
    )
    assert leftovers.stdout == ""
    again = loadtest_cli(repo_root, "stop", "--out", str(tmp_path))
    assert again.returncode == 0 and "no run going" in again.stdout


def test_master_gives_up_without_its_workers(tmp_path: Path, repo_root: Path) -> None:
    result = loadtest_cli(
        repo_root,
        "run",
        "smoke",
        "--host",
        "http://127.0.0.1:9",
        "--out",
        str(tmp_path),
        "--remote-workers",
        "1",
        "--expect-workers-timeout",
        "2",
        timeout=60,
    )
    assert result.returncode != 0
    assert "Gave up waiting for workers" in result.stderr
