"""Module devops.scaling_lab.lab_archive (role lab_archive): the previous run's outputs are
moved into runs/<UTC timestamp>/, never deleted, and only archives past `keep` are removed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.pathload import load

ROOT = Path(__file__).resolve().parents[2]
mod = load("lab_archive", "plugins/modules/lab_archive.py")

T0 = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)
PATHS = ["evidence", "loadtest", "REPORT.md"]


def a_run(artifacts: Path, marker: str) -> None:
    """Outputs as a run leaves them."""
    (artifacts / "evidence").mkdir(parents=True, exist_ok=True)
    (artifacts / "evidence" / "drill.json").write_text(json.dumps({"run": marker}))
    (artifacts / "loadtest" / "one-replica").mkdir(parents=True, exist_ok=True)
    (artifacts / "loadtest" / "one-replica" / "stats.csv").write_text(marker)
    (artifacts / "REPORT.md").write_text(f"# {marker}\n")


def test_outputs_move_into_a_timestamped_run(tmp_path: Path) -> None:
    a_run(tmp_path, "first")
    (tmp_path / "pki").mkdir()
    (tmp_path / "pki" / "registry-ca.key").write_text("key")
    plan = mod.plan_archive(tmp_path, PATHS, keep=5, now=T0)
    assert plan["moved"] == PATHS and plan["pruned"] == []
    mod.apply_archive(tmp_path, plan)
    run = tmp_path / "runs" / "20261127T120000Z"
    assert json.loads((run / "evidence" / "drill.json").read_text()) == {"run": "first"}
    assert (run / "loadtest" / "one-replica" / "stats.csv").read_text() == "first"
    assert (run / "REPORT.md").read_text() == "# first\n"
    assert not (tmp_path / "evidence").exists() and not (tmp_path / "REPORT.md").exists()
    assert (tmp_path / "pki" / "registry-ca.key").read_text() == "key"  # not listed: untouched


def test_nothing_to_archive_changes_nothing(tmp_path: Path) -> None:
    (tmp_path / "evidence").mkdir()  # an empty directory is not a run
    plan = mod.plan_archive(tmp_path, PATHS, keep=5, now=T0)
    assert plan == {"archive": None, "moved": [], "pruned": []}
    mod.apply_archive(tmp_path, plan)
    assert not (tmp_path / "runs").exists()


def test_only_runs_past_keep_are_removed_oldest_first(tmp_path: Path) -> None:
    for i in range(4):
        a_run(tmp_path, f"run{i}")
        mod.apply_archive(
            tmp_path, mod.plan_archive(tmp_path, PATHS, keep=3, now=T0 + timedelta(minutes=i))
        )
    runs = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert runs == ["20261127T120100Z", "20261127T120200Z", "20261127T120300Z"]
    assert (tmp_path / "runs" / runs[-1] / "REPORT.md").read_text() == "# run3\n"


def test_same_second_gets_its_own_directory(tmp_path: Path) -> None:
    for marker in ("a", "b"):
        a_run(tmp_path, marker)
        mod.apply_archive(tmp_path, mod.plan_archive(tmp_path, PATHS, keep=5, now=T0))
    names = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert names == ["20261127T120000Z", "20261127T120000Z-1"]
    assert (tmp_path / "runs" / names[1] / "REPORT.md").read_text() == "# b\n"


def test_nested_paths_keep_their_place(tmp_path: Path) -> None:
    a_run(tmp_path, "x")
    plan = mod.plan_archive(tmp_path, ["evidence/drill.json", "evidence/none.md"], keep=5, now=T0)
    assert plan["moved"] == ["evidence/drill.json"]
    mod.apply_archive(tmp_path, plan)
    assert (tmp_path / "runs" / "20261127T120000Z" / "evidence" / "drill.json").exists()
    assert not (tmp_path / "evidence" / "drill.json").exists()


@pytest.mark.parametrize(
    ("paths", "keep", "message"),
    [
        (["../outside"], 5, "must be relative"),
        (["/etc"], 5, "must be relative"),
        (["runs"], 5, "must be relative"),
        (PATHS, 0, "keep must be at least 1"),
    ],
)
def test_bad_input_is_refused(tmp_path: Path, paths: list[str], keep: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        mod.plan_archive(tmp_path, paths, keep=keep, now=T0)


def test_the_role_archives_and_check_mode_touches_nothing(tmp_path: Path) -> None:
    a_run(tmp_path, "role")
    playbook = tmp_path / "play.yml"
    playbook.write_text(
        "- hosts: localhost\n  gather_facts: false\n  roles: [{role: lab_archive}]\n"
    )
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    bindir = Path(sys.executable).parent
    cmd = [
        str(bindir / "ansible-playbook"),
        "-i",
        "localhost,",
        "-c",
        "local",
        "-e",
        f"lab_artifacts_dir={tmp_path}",
        "-e",
        f"ansible_python_interpreter={sys.executable}",
        str(playbook),
    ]
    check = subprocess.run([*cmd, "--check"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "changed=1" in check.stdout
    assert (tmp_path / "REPORT.md").exists() and not (tmp_path / "runs").exists()
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "changed=1" in done.stdout
    (run,) = (tmp_path / "runs").iterdir()
    assert (run / "REPORT.md").read_text() == "# role\n"
    again = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    assert "changed=0" in again.stdout and "Nothing to archive" in again.stdout
