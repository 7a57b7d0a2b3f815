"""``python -m loadtest analyse`` end to end on the recorded fixtures (subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from loadtest import analysis

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "loadtest", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_analyse_writes_summary_tables_and_plots(
    fixtures_dir: Path, tmp_path: Path, repo_root: Path
) -> None:
    out = tmp_path / "out"
    result = cli(
        "analyse",
        "--run",
        f"1 replica={fixtures_dir / 'one-replica'}",
        "--run",
        f"4 replicas={fixtures_dir / 'four-replicas'}",
        "--capacity",
        f"stepped={fixtures_dir / 'capacity'}",
        "--slo-p99-ms",
        "1000",
        "--out",
        str(out),
        cwd=repo_root,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert [run["name"] for run in summary["runs"]] == ["1 replica", "4 replicas"]
    one = summary["runs"][0]
    expected = analysis.summarize_run(fixtures_dir / "one-replica", "1 replica")
    assert one["rps"] == expected.rps
    assert one["requests"] == expected.requests
    # think time and generator CPU come from the recorded run.json
    assert one["think_mean_s"] == 1.5
    assert one["generator_cpu_pct"] is not None
    assert one["verdict"]["verdict"] == "think-time bound"
    assert one["instances"] and len(summary["runs"][1]["instances"]) == 4
    assert summary["comparisons"][0]["baseline"] == "1 replica"
    assert summary["comparisons"][0]["candidate"] == "4 replicas"
    assert summary["capacity"][0]["name"] == "stepped"
    assert summary["capacity"][0]["best"] is not None
    assert sorted(summary["plots"]) == ["capacity.png", "timeseries.png"]
    for png in summary["plots"]:
        assert (out / png).read_bytes()[:8] == PNG_MAGIC

    tables = (out / "tables.md").read_text(encoding="utf-8")
    assert "| Metric | 1 replica | 4 replicas | Change |" in tables
    assert "## What limited each run" in tables
    assert "Offered load by Little's law" in tables
    assert "## Capacity: stepped" in tables


def test_analyse_in_russian_with_errors_run(
    fixtures_dir: Path, tmp_path: Path, repo_root: Path
) -> None:
    """The seed's Swarm vs Kubernetes case: the candidate failed every request."""
    out = tmp_path / "ru"
    result = cli(
        "analyse",
        "--run",
        f"Docker Swarm={fixtures_dir / 'four-replicas'}",
        "--run",
        f"Kubernetes={fixtures_dir / 'no-server'}",
        "--think-mean",
        "1.5",
        "--lang",
        "ru",
        "--out",
        str(out),
        cwd=repo_root,
    )
    assert result.returncode == 0, result.stderr
    tables = (out / "tables.md").read_text(encoding="utf-8")
    assert "| Метрика | Docker Swarm | Kubernetes | Изменение |" in tables
    assert "| Процент ошибок | 0% | 100% | - |" in tables
    assert "закону Литтла" in tables
    assert "100.0% запросов завершились ошибкой" in tables
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["runs"][1]["error_pct"] == 100.0
    assert summary["comparisons"][0]["change_pct"]["error_pct"] is None


def test_analyse_explicit_compare_and_overrides(
    fixtures_dir: Path, tmp_path: Path, repo_root: Path
) -> None:
    result = cli(
        "analyse",
        "--run",
        f"a={fixtures_dir / 'one-replica'}",
        "--run",
        f"b={fixtures_dir / 'four-replicas'}",
        "--compare",
        "b",
        "a",
        "--think-mean",
        "0",
        "--generator-cpu",
        "95",
        "--out",
        str(tmp_path),
        cwd=repo_root,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    assert summary["comparisons"][0]["baseline"] == "b"
    assert {run["verdict"]["verdict"] for run in summary["runs"]} == {"generator bound"}


def test_analyse_errors_exit_non_zero(fixtures_dir: Path, tmp_path: Path, repo_root: Path) -> None:
    missing = cli(
        "analyse", "--run", f"x={tmp_path / 'nope'}", "--out", str(tmp_path), cwd=repo_root
    )
    assert missing.returncode == 2
    assert "error: run directory" in missing.stderr
    bad_form = cli("analyse", "--run", "no-equals-sign", "--out", str(tmp_path), cwd=repo_root)
    assert bad_form.returncode == 2
    assert "expected NAME=DIR" in bad_form.stderr
    twice = f"a={fixtures_dir / 'one-replica'}"
    dup = cli("analyse", "--run", twice, "--run", twice, "--out", str(tmp_path), cwd=repo_root)
    assert dup.returncode == 2
    assert "run names must be unique: a" in dup.stderr
    nothing = cli("analyse", "--out", str(tmp_path), cwd=repo_root)
    assert nothing.returncode == 2
    assert "nothing to analyse" in nothing.stderr
    wrong = cli(
        "analyse",
        "--run",
        f"a={fixtures_dir / 'one-replica'}",
        "--compare",
        "a",
        "zzz",
        "--out",
        str(tmp_path),
        cwd=repo_root,
    )
    assert wrong.returncode == 2
    assert "no run named 'zzz'" in wrong.stderr


def test_verdict_command_on_the_seed_numbers(repo_root: Path) -> None:
    args = ["--users", "300", "--think-mean", "1.5", "--mean-ms", "46.18", "--rps", "219.5"]
    result = cli("verdict", *args, cwd=repo_root)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("think-time bound: ")
    assert "= 194.0 req/s" in result.stdout
    as_json = json.loads(cli("verdict", *args, "--json", cwd=repo_root).stdout)
    assert round(as_json["offered_rps"], 2) == 194.03
    bad = cli("verdict", "--users", "0", *args[2:], cwd=repo_root)
    assert bad.returncode == 2
    assert "error: users must be > 0" in bad.stderr


def test_validate_profile_json_gives_duration_and_env(repo_root: Path) -> None:
    result = cli("validate-profile", "--json", "capacity", cwd=repo_root)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["planned_duration_s"] == 150.0  # 10 steps of 15 s
    assert document["env"]["LOADTEST_SHAPE"] == "step"
    assert document["env"]["LOADTEST_STEP_WARMUP"] == "3"
    assert document["env"]["LOADTEST_STEP_MAX_USERS"] == "100"
    bad = cli("validate-profile", "--json", "nope", cwd=repo_root)
    assert bad.returncode == 2 and "unknown profile 'nope'" in bad.stderr
