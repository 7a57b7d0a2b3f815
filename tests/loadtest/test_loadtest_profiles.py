"""Profiles: the shipped ones, and validation errors naming the profile and the field."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from loadtest_app_runner import LOCUST, locust_available

from loadtest import profiles

GOOD: dict[str, Any] = {
    "users": 10,
    "spawn_rate": 5,
    "run_time": 5,
    "wait_min": 0.5,
    "wait_max": 1.0,
    "weights": {"page": 1, "crud": 1},
}


def test_shipped_profiles() -> None:
    loaded = profiles.load_profiles()
    assert set(loaded) >= {"seed", "capacity", "smoke"}
    seed = loaded["seed"]
    assert (seed.users, seed.spawn_rate, seed.run_time_s) == (300, 30, 60)
    assert (seed.wait_min_s, seed.wait_max_s, seed.think_mean_s) == (1.0, 2.0, 1.5)
    assert seed.step is None
    capacity = loaded["capacity"]
    assert capacity.think_mean_s == 0
    assert capacity.step == profiles.StepShape(step_users=10, step_seconds=15, warmup_s=3)
    assert capacity.planned_duration_s == 150
    smoke = loaded["smoke"]
    assert smoke.users <= 10 and smoke.run_time_s <= 5


def test_seed_locust_args_and_env() -> None:
    seed = profiles.get_profile("seed")
    args = seed.locust_args("http://127.0.0.1:8000", "out/locust")
    assert args[args.index("-u") + 1] == "300"
    assert args[args.index("-r") + 1] == "30"
    assert args[args.index("-t") + 1] == "60s"
    assert "--headless" in args and "--csv-full-history" in args
    env = seed.locust_env()
    assert env["LOADTEST_WAIT_MIN"] == "1" and env["LOADTEST_WAIT_MAX"] == "2"
    assert env["LOADTEST_WEIGHTS"] == "page=3,read=3,incr=3,list=1,crud=1"
    assert env["LOADTEST_SHAPE"] == ""  # the step shape stays inactive
    assert seed.requests_per_iteration == pytest.approx(13 / 11)


def test_capacity_uses_the_shape_not_users() -> None:
    capacity = profiles.get_profile("capacity")
    args = capacity.locust_args("http://h", "x")
    assert "-u" not in args and "-t" not in args
    env = capacity.locust_env()
    assert env["LOADTEST_SHAPE"] == "step"
    assert (env["LOADTEST_STEP_USERS"], env["LOADTEST_STEP_SECONDS"]) == ("10", "15")
    assert env["LOADTEST_STEP_WARMUP"] == "3"
    assert env["LOADTEST_STEP_MAX_USERS"] == "100"
    assert (env["LOADTEST_WAIT_MIN"], env["LOADTEST_WAIT_MAX"]) == ("0", "0")


def test_unknown_profile() -> None:
    known = r"\(known: capacity, generator, probe-cost, seed, smoke, smoke-capacity"
    with pytest.raises(ValueError, match=r"unknown profile 'nope' " + known):
        profiles.get_profile("nope")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"users": 0}, "users must be >= 1, got 0"),
        ({"users": -5}, "users must be >= 1"),
        ({"users": 2.5}, "users must be an integer"),
        ({"spawn_rate": 0}, "spawn_rate must be > 0, got 0"),
        ({"spawn_rate": -1}, "spawn_rate must be > 0"),
        ({"run_time": 0}, "run_time must be > 0, got 0"),
        ({"run_time": -3}, "run_time must be > 0"),
        ({"users": "many"}, "users must be a number"),
        ({"users": True}, "users must be a number"),
        ({"wait_min": -1}, "wait_min must be >= 0"),
        ({"wait_max": 0.1}, "wait_max (0.1) must be >= wait_min (0.5)"),
        ({"weights": {"page": 1, "fly": 2}}, "unknown task 'fly'"),
        ({"weights": {"page": 0}}, "at least one task a weight > 0"),
        ({"weights": {"page": -1}}, "weights.page must be an integer >= 0"),
        ({"colour": "red"}, "unknown field(s) colour"),
        ({"step": {"step_users": 0, "step_seconds": 1}}, "step.step_users must be >= 1"),
        ({"step": {"step_users": 1, "step_seconds": 0}}, "step.step_seconds must be > 0"),
        ({"step": {"step_users": 5, "step_seconds": 3}}, "shorter than the steps need"),
    ],
)
def test_validation_errors(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as error:
        profiles.parse_profile("bad", GOOD | change)
    assert "profile 'bad'" in str(error.value)
    assert message in str(error.value)


def test_missing_field() -> None:
    data = dict(GOOD)
    del data["spawn_rate"]
    with pytest.raises(ValueError, match="profile 'bad': field 'spawn_rate' is missing"):
        profiles.parse_profile("bad", data)


def write_profiles(path: Path, **entries: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump({"profiles": entries}), encoding="utf-8")
    return path


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "loadtest", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cli_validate_profile(tmp_path: Path, repo_root: Path) -> None:
    ok = cli("validate-profile", "seed", cwd=repo_root)
    assert ok.returncode == 0, ok.stderr
    assert "profile seed: OK: 300 users, spawn 30/s, 60 s" in ok.stdout

    unknown = cli("validate-profile", "nope", cwd=repo_root)
    assert unknown.returncode != 0
    assert "error: unknown profile 'nope'" in unknown.stderr

    bad = write_profiles(tmp_path / "p.yml", broken=GOOD | {"users": 0})
    result = cli("validate-profile", "broken", "--profiles", str(bad), cwd=repo_root)
    assert result.returncode != 0
    assert "error: profile 'broken': users must be >= 1, got 0" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.skipif(not locust_available(), reason="locust not installed")
def test_locustfile_honours_weights_and_shape_opt_in(repo_root: Path) -> None:
    """locust itself reads the env: task ratios follow LOADTEST_WEIGHTS."""
    env = os.environ | {"LOADTEST_WEIGHTS": "page=1,crud=3", "LOADTEST_SHAPE": ""}
    result = subprocess.run(
        [str(LOCUST), "-f", "loadtest/locustfile.py", "--show-task-ratio-json"],
        cwd=repo_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    ratios = json.loads(result.stdout[result.stdout.index("{") :])
    tasks = ratios["total"]["CounterUser"]["tasks"]
    assert tasks == {"page": {"ratio": 0.25}, "crud": {"ratio": 0.75}}

    bad = subprocess.run(
        [str(LOCUST), "-f", "loadtest/locustfile.py", "--list"],
        cwd=repo_root,
        env=os.environ | {"LOADTEST_WEIGHTS": "fly=1"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode != 0
    assert re.search(r"LOADTEST_WEIGHTS: bad item 'fly=1'", bad.stderr)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"step": {"step_users": 1, "step_seconds": 3, "warmup": 3}}, "step.warmup must be >= 0"),
        ({"step": {"step_users": 1, "step_seconds": 3, "warmup": -1}}, "step.warmup must be >= 0"),
        ({"step": {"step_users": 1, "step_seconds": 3, "cooldown": 1}}, "unknown step field"),
        ({"pacing": -0.1}, "pacing must be >= 0"),
    ],
)
def test_warmup_and_pacing_are_checked(change: dict, message: str) -> None:
    data = {"users": 3, "spawn_rate": 3, "run_time": 9, "wait_min": 0, "wait_max": 0} | change
    with pytest.raises(ValueError, match=message):
        profiles.parse_profile("p", data)


def test_pacing_replaces_the_think_time() -> None:
    data = {"users": 20, "spawn_rate": 20, "run_time": 5, "wait_min": 1, "wait_max": 2}
    paced = profiles.parse_profile("p", data | {"pacing": 0.1})
    assert paced.think_mean_s == 0.0
    assert paced.locust_env()["LOADTEST_PACING"] == "0.1"
    assert profiles.parse_profile("p", data).locust_env()["LOADTEST_PACING"] == "0"
