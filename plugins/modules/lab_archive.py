#!/usr/bin/python
"""Ansible module lab_archive: move a run's outputs into artifacts/runs/<UTC timestamp>/."""

from __future__ import annotations

DOCUMENTATION = r"""
module: lab_archive
short_description: Move the previous run's evidence, load-test results and report aside
description:
  - Moves every existing path of O(paths) (relative to O(artifacts_dir)) into
    C(<artifacts_dir>/<runs_dir>/<UTC timestamp>/), keeping their relative names, then removes
    the oldest archived runs beyond O(keep). Nothing is deleted but archives past O(keep).
  - Paths that do not exist (or empty directories) are skipped; when none is left nothing changes.
options:
  artifacts_dir:
    description: Directory holding the outputs and the runs directory.
    type: path
    required: true
  paths:
    description: Outputs to archive, relative to O(artifacts_dir) (evidence, REPORT.md...).
    type: list
    elements: str
    required: true
  keep:
    description: How many archived runs to keep (the newest); at least 1.
    type: int
    default: 5
  runs_dir:
    description: Name of the directory of archived runs under O(artifacts_dir).
    type: str
    default: runs
attributes:
  check_mode:
    support: full
"""

RETURN = r"""
archive:
  description: Directory the outputs were moved into (empty when nothing was moved).
  type: str
  returned: always
moved:
  description: Relative paths that were moved.
  type: list
  returned: always
pruned:
  description: Archived runs removed because more than O(keep) were kept.
  type: list
  returned: always
"""

import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ansible.module_utils.basic import AnsibleModule


def _has_content(path: Path) -> bool:
    if path.is_symlink() or path.is_file():
        return True
    return path.is_dir() and any(path.iterdir())


def archive_name(base: Path, now: datetime) -> Path:
    """A new directory name under *base* for a run archived at *now* (UTC), never reused."""
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    candidate = base / stamp
    suffix = 1
    while candidate.exists():
        candidate = base / f"{stamp}-{suffix}"
        suffix += 1
    return candidate


def plan_archive(
    artifacts: Path,
    paths: list[str],
    keep: int,
    runs_dir: str = "runs",
    now: datetime | None = None,
) -> dict[str, Any]:
    """What archiving would do: the archive directory, the paths to move, the runs to prune."""
    if keep < 1:
        raise ValueError(f"keep must be at least 1, got {keep}")
    runs = artifacts / runs_dir
    for rel in paths:
        target = (artifacts / rel).resolve()
        if rel.startswith("/") or ".." in Path(rel).parts or target == runs.resolve():
            raise ValueError(f"path {rel!r} must be relative to {artifacts} and not {runs_dir}")
    moved = [rel for rel in paths if _has_content(artifacts / rel)]
    archive = archive_name(runs, now or datetime.now(UTC)) if moved else None
    existing = sorted(p.name for p in runs.iterdir() if p.is_dir()) if runs.is_dir() else []
    after = existing + ([archive.name] if archive else [])
    pruned = sorted(after)[: max(0, len(after) - keep)]
    return {"archive": archive, "moved": moved, "pruned": pruned}


def apply_archive(artifacts: Path, plan: dict[str, Any], runs_dir: str = "runs") -> None:
    """Carry out *plan*: move the outputs, then remove the pruned runs."""
    archive: Path | None = plan["archive"]
    if archive is not None:
        archive.mkdir(parents=True)
        for rel in plan["moved"]:
            dest = archive / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(artifacts / rel), str(dest))
    for name in plan["pruned"]:
        shutil.rmtree(artifacts / runs_dir / name)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "artifacts_dir": {"type": "path", "required": True},
            "paths": {"type": "list", "elements": "str", "required": True},
            "keep": {"type": "int", "default": 5},
            "runs_dir": {"type": "str", "default": "runs"},
        },
        supports_check_mode=True,
    )
    artifacts = Path(module.params["artifacts_dir"])
    runs_dir = module.params["runs_dir"]
    try:
        plan = plan_archive(artifacts, module.params["paths"], module.params["keep"], runs_dir)
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    changed = bool(plan["moved"] or plan["pruned"])
    if changed and not module.check_mode:
        apply_archive(artifacts, plan, runs_dir)
    module.exit_json(
        changed=changed,
        archive=str(plan["archive"] or ""),
        moved=plan["moved"],
        pruned=plan["pruned"],
    )


if __name__ == "__main__":
    main()
