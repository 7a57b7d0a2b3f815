"""The fault drills' verdicts (loadtest/chaos.py): every check against its target, a figure
that was not measured counted as a miss, and one plan run end to end against the real counter
app, the way role chaos runs it."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from loadtest import chaos

CLEAN = {
    "lost": 0,
    "duplicate_acks": 0,
    "acks_above_final": 0,
    "phantom": 0,
    "failed": 0,
    "failed_pct": 0.0,
}


def by_name(checks: list[dict]) -> dict[str, dict]:
    return {c["name"]: c for c in checks}


def test_a_clean_drain_meets_its_targets() -> None:
    checks = chaos.judge(
        "drain", CLEAN, {"service_back_s": 3.2}, {"failed_max": 0, "service_back_s": 30}
    )
    assert all(c["met"] for c in checks)
    assert by_name(checks)["service back to N/N (s)"] == {
        "name": "service back to N/N (s)",
        "target": "<= 30",
        "measured": 3.2,
        "met": True,
    }


def test_failed_requests_and_lost_writes_are_misses() -> None:
    summary = CLEAN | {"failed": 3, "lost": 2, "duplicate_acks": 1}
    checks = by_name(
        chaos.judge(
            "drain", summary, {"service_back_s": 1}, {"failed_max": 0, "service_back_s": 30}
        )
    )
    assert not checks["failed requests"]["met"]
    assert not checks["lost"]["met"] and not checks["duplicate acks"]["met"]
    assert checks["acks above final"]["met"]


def test_in_doubt_writes_that_were_applied_are_not_a_loss() -> None:
    """lost < 0: more writes landed than were acknowledged (in-doubt ones applied)."""
    checks = by_name(
        chaos.judge(
            "kill_replica",
            CLEAN | {"lost": -3, "failed_pct": 0.5},
            {"service_back_s": 4},
            {"failed_pct_max": 1.0, "service_back_s": 30},
        )
    )
    assert checks["lost"]["met"] and checks["failed requests (%)"]["met"]


def test_an_unmeasured_figure_is_a_miss() -> None:
    checks = by_name(
        chaos.judge(
            "stop_node", CLEAN, {"service_back_s": 12.0}, {"service_back_s": 30, "node_ready_s": 60}
        )
    )
    assert checks["service N/N after the stop (s)"]["met"]
    assert checks["node Ready after its start (s)"] == {
        "name": "node Ready after its start (s)",
        "target": "<= 60",
        "measured": None,
        "met": False,
    }


def test_unknown_faults_and_missing_targets_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown fault 'reboot'"):
        chaos.judge("reboot", CLEAN, {}, {})
    with pytest.raises(ValueError, match="lack 'failed_max'"):
        chaos.judge("drain", CLEAN, {}, {"service_back_s": 30})


def test_a_plan_runs_end_to_end(app_url: str, tmp_path: Path, repo_root: Path) -> None:
    """python -m loadtest.chaos --plan: the load runs, the 'role' writes the mark and, later,
    its facts; the verdict file has the accounts, the facts and every check."""
    plan = {
        "fault": "drain",
        "url": app_url,
        "counter": "chaos-plan",
        "rate": 30,
        "duration": 2,
        "timeout": 2,
        "marks": str(tmp_path / "marks.json"),
        "facts": str(tmp_path / "facts.json"),
        "facts_wait": 20,
        "out": str(tmp_path / "drain.json"),
        "targets": {"failed_max": 0, "service_back_s": 30},
    }
    (tmp_path / "plan.json").write_text(json.dumps(plan))

    def role() -> None:
        time.sleep(0.5)
        (tmp_path / "marks.json").write_text(json.dumps({"fault": time.time()}))
        time.sleep(2.5)  # the facts come after the load ended: the client waits for them
        (tmp_path / "facts.json").write_text(json.dumps({"service_back_s": 1.5, "done": True}))

    thread = threading.Thread(target=role)
    thread.start()
    proc = subprocess.run(
        [sys.executable, "-m", "loadtest.chaos", "--plan", str(tmp_path / "plan.json")],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    thread.join()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads((tmp_path / "drain.json").read_text())
    assert result["met"] is True, result["checks"]
    assert result["facts"] == {"service_back_s": 1.5, "done": True}
    ledger = result["ledger"]
    assert ledger["requests"] == ledger["acknowledged"] == 60
    assert ledger["final"] - ledger["initial"] == 60 and ledger["lost"] == 0
    assert ledger["recovery_s"] == 0.0
    assert "targets met" in proc.stdout


def test_a_rollout_must_roll_back_in_time_and_restore_the_image() -> None:
    targets = {"failed_max": 0, "rollback_s": 60, "image_restored": True}
    good = {"rollback_s": 23.0, "image_restored": True}
    assert all(c["met"] for c in chaos.judge("broken_rollout", CLEAN, good, targets))
    stuck = by_name(
        chaos.judge("broken_rollout", CLEAN, {"rollback_s": None, "image_restored": False}, targets)
    )
    assert not stuck["rolled back to the running image (s)"]["met"]
    assert stuck["running image restored"] == {
        "name": "running image restored",
        "target": "true",
        "measured": False,
        "met": False,
    }


def test_each_failover_runs_from_the_kill_to_the_first_write_acknowledged_after_it() -> None:
    """kill_N is taken before the kill, killed_N once it returned; the ledger gives the time from
    each mark to the first acknowledgement of a request sent after it."""
    summary = CLEAN | {
        "marks": {
            "fault": 10.0,
            "kill_1": 10.0,
            "killed_1": 10.4,
            "kill_2": 40.0,
            "killed_2": 40.3,
        },
        "first_ack_after": {
            "fault": 0.1,
            "kill_1": 0.1,
            "killed_1": 5.6,
            "kill_2": 0.2,
            "killed_2": 7.7,
        },
    }
    chaos.add_failovers(summary)
    assert summary["failovers"] == [
        {"kill": 1, "failover_s": 6.0},
        {"kill": 2, "failover_s": 8.0},
    ]
    assert summary["kills_measured"] == 2 and summary["failover_max_s"] == 8.0
    checks = by_name(chaos.judge("redis_master", summary, {}, {"failover_s": 10, "kills": 2}))
    assert all(c["met"] for c in checks.values()), checks
    slow = by_name(chaos.judge("redis_master", summary, {}, {"failover_s": 7.5, "kills": 2}))
    assert not slow["failover: kill to first acknowledged write, worst (s)"]["met"]


def test_a_kill_with_no_write_acknowledged_after_it_is_a_miss() -> None:
    """A kill after the load ended (or a master that never came back) has no failover figure:
    the worst failover is unknown and the kill is not counted as measured."""
    summary = CLEAN | {
        "marks": {"kill_1": 10.0, "killed_1": 10.4, "kill_2": 40.0, "killed_2": 40.3},
        "first_ack_after": {"kill_1": 0.1, "killed_1": 5.6, "kill_2": None, "killed_2": None},
    }
    chaos.add_failovers(summary)
    assert summary["failovers"][1] == {"kill": 2, "failover_s": None}
    assert summary["failover_max_s"] is None and summary["kills_measured"] == 1
    checks = by_name(chaos.judge("redis_master", summary, {}, {"failover_s": 10, "kills": 2}))
    assert not checks["failover: kill to first acknowledged write, worst (s)"]["met"]
    assert not checks["master kills measured under load"]["met"]


def test_phantom_writes_are_a_miss() -> None:
    """More writes landed than were acknowledged or in doubt: somebody's write was doubled."""
    checks = by_name(
        chaos.judge(
            "drain",
            CLEAN | {"phantom": 1},
            {"service_back_s": 1},
            {"failed_max": 0, "service_back_s": 30},
        )
    )
    assert not checks["phantom"]["met"] and checks["lost"]["met"]


def test_a_registry_restart_needs_the_deploy_done_no_image_lost_and_the_outage_felt() -> None:
    targets = {"deploy_after_registry_s": 60, "images_lost": 0, "pulls_failed_min": 1}
    good = {"deploy_after_registry_s": 9.5, "images_lost": 0, "pulls_failed": 3}
    assert all(c["met"] for c in chaos.judge("registry_restart", CLEAN, good, targets))
    unfelt = by_name(chaos.judge("registry_restart", CLEAN, good | {"pulls_failed": 0}, targets))
    assert not unfelt["pulls failed while the registry was down"]["met"]
    lost = by_name(chaos.judge("registry_restart", CLEAN, good | {"images_lost": 1}, targets))
    assert not lost["images lost"]["met"]
