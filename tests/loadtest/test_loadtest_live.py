"""Real locust against a real local server (gunicorn + the stub app on 127.0.0.1)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from loadtest_stub_runner import locust_available

from loadtest import analysis

pytestmark = pytest.mark.skipif(not locust_available(), reason="locust not installed")


def run_profile(
    profile: str, url: str, out: Path, cwd: Path, profiles: Path | None = None
) -> subprocess.CompletedProcess[str]:
    extra = ["--profiles", str(profiles)] if profiles else []
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "loadtest",
            "run",
            profile,
            "--host",
            url,
            "--out",
            str(out),
            *extra,
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=90,
    )


def test_smoke_profile_against_live_server(stub_url: str, tmp_path: Path, repo_root: Path) -> None:
    """The smoke profile (10 users, ~3 s) through ``python -m loadtest run``; then parse."""
    result = run_profile("smoke", stub_url, tmp_path, repo_root)
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
    assert all(name.startswith("stub-") for name in instances)
    names = {entry.name for entry in analysis.parse_stats(tmp_path / "locust_stats.csv")}
    assert names <= {
        "/",
        "/api/counters",
        "/api/counters/[name]",
        "/api/counters/[name]/incr",
        "Aggregated",
    }


def test_step_shape_is_opt_in_and_steps(stub_url: str, tmp_path: Path, repo_root: Path) -> None:
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
    result = run_profile("tiny-steps", stub_url, tmp_path / "run", repo_root, profiles)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Shape test" in result.stderr
    history = analysis.parse_history(tmp_path / "run" / "locust_stats_history.csv")
    assert {row.users for row in history.rows} - {0} <= {3, 6}
    assert max(row.users for row in history.rows) in (3, 6)
