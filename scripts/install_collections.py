"""Install the collections of requirements.yml only when the installed ones miss a range.

The `ansible` package bundles every collection this project uses; Galaxy is unreachable on
CI, so calling `ansible-galaxy collection install` unconditionally would fail there. This
script compares each requirement with what Ansible already finds and installs only the
missing ones (into .venv/ansible_collections, which ansible.cfg puts on the search path).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml
from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

INSTALL_DIR = Path(".venv")


def installed_collections(galaxy: str) -> dict[str, list[Version]]:
    """Return every collection Ansible can see, with all versions found on its paths."""
    out = subprocess.run(
        [galaxy, "collection", "list", "--format", "json"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    found: dict[str, list[Version]] = {}
    for collections in json.loads(out).values():
        for name, meta in collections.items():
            try:
                found.setdefault(name, []).append(Version(str(meta.get("version", ""))))
            except InvalidVersion:
                continue
    return found


def missing(requirements: list[dict[str, str]], found: dict[str, list[Version]]) -> list[str]:
    """Return `name:range` strings for the requirements no installed version satisfies."""
    result = []
    for req in requirements:
        name = req["name"]
        spec = SpecifierSet(req.get("version", "").replace("*", ""))
        if not any(v in spec for v in found.get(name, [])):
            result.append(f"{name}:{req.get('version', '*')}")
    return result


def main(argv: list[str]) -> int:
    req_file = Path(argv[1] if len(argv) > 1 else "requirements.yml")
    bindir = Path(sys.executable).parent
    galaxy = str(bindir / "ansible-galaxy")
    requirements = yaml.safe_load(req_file.read_text())["collections"]
    todo = missing(requirements, installed_collections(galaxy))
    if not todo:
        print(f"collections: all {len(requirements)} satisfied by the installed ones")
        return 0
    print(f"collections: installing {', '.join(todo)} from Galaxy")
    cmd = [galaxy, "collection", "install", "-p", str(INSTALL_DIR), *todo]
    return subprocess.run(cmd, check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv))
