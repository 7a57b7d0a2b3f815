"""The plan: the one crossing between role `loadtest` and the package (plan file in, summary
out), its order of runs (plugins/filter/loadtest_plan.py) and its handshake."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from loadtest_app_runner import locust_available

from loadtest import plan as plan_module
from loadtest.pipeline import analyse
from tests.pathload import load

LOADTEST = (sys.executable, "-m", "loadtest")
lp = load("loadtest_plan", "plugins/filter/loadtest_plan.py")
SCENARIOS = [{"name": "one", "replicas": 1}, {"name": "four", "replicas": 4}]


def test_runs_interleave_the_scenarios_per_repetition() -> None:
    runs = lp.loadtest_plan_runs(SCENARIOS, "seed", "capacity", 3)
    assert [run["name"] for run in runs] == [
        "one",
        "four",
        "one-capacity-1",
        "four-capacity-1",
        "one-capacity-2",
        "four-capacity-2",
        "one-capacity-3",
        "four-capacity-3",
    ]
    assert [run["replicas"] for run in runs] == [1, 4] * 4
    assert {run["kind"] for run in runs[2:]} == {"capacity"}
    assert [run["name"] for run in lp.loadtest_plan_runs(SCENARIOS, "", "capacity", 1)] == [
        "one-capacity-1",
        "four-capacity-1",
    ]
    assert len(lp.loadtest_plan_runs(SCENARIOS, "seed", "", 3)) == 2
    with pytest.raises(ValueError, match="loadtest_capacity_repetitions"):
        lp.loadtest_plan_runs(SCENARIOS, "seed", "capacity", 0)


def plan_document(out: Path, url: str, runs: list[dict], **extra: object) -> dict:
    return {"out": str(out), "target": url, "runs": runs, "slo_p99_ms": 1000} | extra


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"target": "ftp://x"}, "target must be an http(s) URL"),
        ({"runs": []}, "runs is missing"),
        ({"lang": "de"}, "lang must be en or ru"),
        ({"slo_p99_ms": 0}, "slo_p99_ms must be a number"),
        ({"window_s": 0.5}, "window_s must be a number >= 1"),
        ({"runs": [{"name": "a b", "replicas": 1, "profile": "smoke"}]}, "name 'a b'"),
        ({"runs": [{"name": "a", "replicas": 0, "profile": "smoke"}]}, "replicas must be"),
        (
            {"runs": [{"name": "a", "replicas": 1, "profile": "nope"}]},
            "think-time run a: unknown profile 'nope'",
        ),
        (
            {"runs": [{"name": "a", "replicas": 1, "profile": "smoke", "kind": "capacity"}]},
            "capacity run a: profile 'smoke' has no steps",
        ),
        (
            {"runs": [{"name": "a", "replicas": 1, "profile": "smoke"}] * 2},
            "run names must be unique: a",
        ),
        ({"baselines": [{"scenario": "a", "dir": "x"}]}, "scenario 'a' is already a run"),
        ({"baselines": [{"scenario": "b"}]}, "baselines[0]: expected a mapping with scenario"),
        ({"compare": [["a"]]}, "compare[0] must be a [baseline, candidate] pair"),
        ({"compare": [["b", "a"]]}, "compare[0]: 'b' is not a think-time run or baseline"),
    ],
)
def test_bad_plans_are_refused(change: dict, message: str, tmp_path: Path) -> None:
    document = plan_document(
        tmp_path, "http://127.0.0.1:1", [{"name": "a", "replicas": 1, "profile": "smoke"}]
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        plan_module.parse_plan(document | change)


def test_check_reads_the_plan_from_stdin(tmp_path: Path, repo_root: Path) -> None:
    runs = lp.loadtest_plan_runs(SCENARIOS, "smoke", "smoke-capacity", 2)
    document = plan_document(tmp_path, "http://plan.check", runs)
    result = subprocess.run(
        [*LOADTEST, "plan", "--check", "-"],
        input=json.dumps(document),
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    checked = json.loads(result.stdout)
    assert [run["name"] for run in checked["runs"]] == [run["name"] for run in runs]
    assert checked["planned_s"] == pytest.approx(2 * 3 + 4 * 6)
    assert not any(tmp_path.iterdir())  # a check writes nothing
    bad = subprocess.run(
        [*LOADTEST, "plan", "--check", "-"],
        input=json.dumps(document | {"runs": [runs[0] | {"profile": "nope"}]}),
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2
    assert bad.stderr.startswith("error: think-time run one: unknown profile 'nope'")


class Role(threading.Thread):
    """Stands in for the role: answers each plan-wait with plan-go, recording the steps."""

    def __init__(self, out: Path) -> None:
        super().__init__(daemon=True)
        self.out = out
        self.seen: list[dict] = []
        self.stop = threading.Event()

    def run(self) -> None:
        wait = self.out / plan_module.WAIT_FILE
        while not self.stop.is_set():
            try:
                step = json.loads(wait.read_text(encoding="utf-8"))
            except (FileNotFoundError, ValueError):
                time.sleep(0.05)
                continue
            if not self.seen or self.seen[-1]["index"] != step["index"]:
                self.seen.append(step)
                (self.out / plan_module.GO_FILE).write_text(f"{step['index']}\n", encoding="utf-8")
            time.sleep(0.05)


@pytest.mark.skipif(not locust_available(), reason="locust not installed")
def test_a_plan_runs_every_run_then_the_analysis(
    app_url: str, tmp_path: Path, repo_root: Path
) -> None:
    out = tmp_path / "loadtest"
    out.mkdir()
    runs = lp.loadtest_plan_runs(SCENARIOS, "smoke", "smoke-capacity", 2)
    # One app server here: its replicas are not separate hosts (the wait for them is
    # tested on its own below).
    document = plan_document(
        out, app_url, runs, handshake=True, runner={"workers": 1}, replicas_timeout_s=0
    )
    (out / "plan.json").write_text(json.dumps(document), encoding="utf-8")
    role = Role(out)
    role.start()
    try:
        result = subprocess.run(
            [*LOADTEST, "plan", str(out / "plan.json")],
            cwd=repo_root,
            capture_output=True,
            text=True,
            timeout=240,
        )
    finally:
        role.stop.set()
    assert result.returncode == 0, result.stdout + result.stderr
    # One wait per run, with what the role needs, then the wait before the analysis.
    assert [step["index"] for step in role.seen] == list(range(len(runs) + 1))
    assert [step.get("replicas") for step in role.seen[:-1]] == [1, 4, 1, 4, 1, 4]
    assert role.seen[2]["env"]["LOADTEST_SHAPE"] == "step"
    assert role.seen[-1]["analysis"] is True
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert [run["name"] for run in summary["runs"]] == ["one", "four"]
    assert [item["name"] for item in summary["capacity"]] == ["one-capacity", "four-capacity"]
    assert [len(item["repetitions"]) for item in summary["capacity"]] == [2, 2]
    assert summary["scaling"][0]["baseline"] == "one-capacity"
    for run in runs:
        assert (out / run["name"] / "timeline.json").exists()
    assert not (out / "run.pid").exists()
    assert "## Capacity: one-capacity" in (out / "tables.md").read_text(encoding="utf-8")


def test_a_plan_nobody_prepares_times_out(tmp_path: Path, repo_root: Path) -> None:
    runs = [{"name": "a", "replicas": 1, "profile": "smoke"}]
    document = plan_document(
        tmp_path, "http://127.0.0.1:1", runs, handshake=True, handshake_timeout_s=1
    )
    (tmp_path / "plan.json").write_text(json.dumps(document), encoding="utf-8")
    result = subprocess.run(
        [*LOADTEST, "plan", str(tmp_path / "plan.json")],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "nobody prepared step 0 (a) within 1 s" in result.stderr
    assert not (tmp_path / "a").exists()
    assert not (tmp_path / "run.pid").exists()


def test_analysis_names_what_saturated_from_the_samples(
    fixtures_dir: Path, tmp_path: Path, repo_root: Path
) -> None:
    """A run whose window is the recorded heavy run of the probe's fixture: the report's line
    names the busy hosts, not Redis, and answers the seed's claim from the figures."""
    windows = json.loads((fixtures_dir / "probe" / "runs.json").read_text(encoding="utf-8"))
    run = tmp_path / "heavy"
    run.mkdir()
    for name in ("locust_stats.csv", "locust_stats_history.csv"):
        (run / name).write_bytes((fixtures_dir / "four-replicas" / name).read_bytes())
    heavy = windows["runs"]["heavy"]
    meta = {"started": heavy["started"], "stopped": heavy["stopped"], "think_mean_s": 0.0}
    meta["generator_cpu_pct"] = heavy["generator_cpu_pct"]
    (run / "run.json").write_text(json.dumps(meta), encoding="utf-8")
    samples = sorted(str(path) for path in (fixtures_dir / "probe").glob("*.jsonl"))
    result = subprocess.run(
        [*LOADTEST, "analyse", f"--run=heavy={run}", "--out", str(tmp_path / "out")]
        + [f"--samples={path}" for path in samples],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    [line] = summary["saturated"]
    assert line["limit"].startswith("host")
    assert not line["redis_is_limit"]
    assert summary["redis_claim"]["redis_is_limit_anywhere"] is False
    assert "service-cpu.png" in summary["plots"]
    tables = (tmp_path / "out" / "tables.md").read_text(encoding="utf-8")
    assert "## What saturated (sampled on the nodes during each run)" in tables
    assert "- **heavy (whole run)**: Saturated: hosts" in tables
    assert 'The seed report\'s claim "Redis is the main limit" does not hold' in tables


def test_baselines_are_analysed_and_compared_with_the_plan_runs(
    fixtures_dir: Path, tmp_path: Path
) -> None:
    """An earlier plan's run (the Swarm side) beside this plan's (the Kubernetes side): the
    analysis reads both and writes the named comparison, baseline first."""
    out = tmp_path / "k8s"
    candidate = out / "k8s-4-replicas"
    candidate.mkdir(parents=True)
    for name in ("locust_stats.csv", "locust_stats_history.csv"):
        (candidate / name).write_bytes((fixtures_dir / "four-replicas" / name).read_bytes())
    baseline = fixtures_dir / "one-replica"
    document = plan_document(
        out,
        "http://127.0.0.1:1",
        [{"name": "k8s-4-replicas", "replicas": 4, "profile": "smoke"}],
        baselines=[{"scenario": "swarm-1-replica", "dir": str(baseline)}],
        compare=[["swarm-1-replica", "k8s-4-replicas"]],
    )
    plan = plan_module.parse_plan(document)
    spec = plan_module.analysis_input(plan)
    assert [name for name, _ in spec.runs] == ["swarm-1-replica", "k8s-4-replicas"]
    summary = analyse(spec)
    [comparison] = summary["comparisons"]
    pair = (comparison["baseline"], comparison["candidate"])
    assert pair == ("swarm-1-replica", "k8s-4-replicas")
    by_name = {run["name"]: run for run in summary["runs"]}
    expected = 100 * (by_name["k8s-4-replicas"]["rps"] / by_name["swarm-1-replica"]["rps"] - 1)
    assert comparison["change_pct"]["rps"] == pytest.approx(expected, abs=0.1)
    tables = (out / "tables.md").read_text(encoding="utf-8")
    assert "swarm-1-replica vs k8s-4-replicas" in tables


def test_the_plan_waits_for_every_replica_to_answer(app_url: str) -> None:
    """Through the target, /readyz answers name their replica (X-Instance's hostname part):
    one here; waiting for two gives up at the timeout with the one seen."""
    assert len(plan_module.serving_replicas(app_url, 4)) == 1
    assert len(plan_module.await_replicas(app_url, 1, 5)) == 1
    started = time.monotonic()
    assert len(plan_module.await_replicas(app_url, 2, 1.5)) == 1
    assert 1.5 <= time.monotonic() - started < 10
    assert plan_module.serving_replicas("http://127.0.0.1:1", 2) == set()
