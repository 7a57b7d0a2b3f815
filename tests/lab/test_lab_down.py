"""`make down` removes only what carries the lab's label; `make clean` keeps the CA and secrets.

The lab_state=absent tests run playbooks/lab.yml against the real Docker engine with objects of
their own (nodes dn-manager1 / dn-worker1, network dn_lab_net) and remove them afterwards.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from labutil import ROOT, needs_docker, run_playbook, write_inventory

MANAGERS = ["dn-manager1"]
WORKERS = ["dn-worker1"]
NETWORK = "dn_lab_net"
OTHER = "dn-other"  # a container that is not a lab node
CONTAINERS = [*MANAGERS, *WORKERS, OTHER]
VOLUMES = [f"lab-{n}-docker" for n in MANAGERS + WORKERS]
LABEL = "io.lab.managed=true"
IMAGE = "dn/sleep:1"


def refusal(kind: str, name: str) -> str:
    return (
        f"{kind} {name}: not removed, it lacks the label io.lab.managed=true "
        "(not created by the lab)"
    )


def docker(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check)


def exists(kind: str, name: str) -> bool:
    return docker(kind, "inspect", name, check=False).returncode == 0


def remove_own_objects() -> None:
    """Remove every docker object these tests create (and only those)."""
    docker("rm", "-f", *CONTAINERS, check=False)
    docker("network", "rm", NETWORK, check=False)
    docker("volume", "rm", *VOLUMES, check=False)


def recap_changed(stdout: str) -> int:
    found = re.search(r"localhost\s+: ok=\d+\s+changed=(\d+)", stdout)
    assert found, stdout
    return int(found.group(1))


@pytest.fixture(scope="module")
def sleep_image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A tiny local image holding the host's /bin/sleep and its libraries (nothing is pulled)."""
    if shutil.which("ldd") is None:
        pytest.skip("ldd is needed to build the test image")
    sleep = shutil.which("sleep") or "/bin/sleep"
    libs = re.findall(
        r"(/\S+)", subprocess.run(["ldd", sleep], capture_output=True, text=True).stdout
    )
    tar = tmp_path_factory.mktemp("image") / "rootfs.tar"
    with tarfile.open(tar, "w", dereference=True) as out:
        out.add(sleep, arcname="bin/sleep")
        for lib in libs:
            out.add(lib, arcname=lib.lstrip("/"))
    docker("import", str(tar), IMAGE)
    try:
        yield IMAGE
    finally:
        docker("rmi", "-f", IMAGE, check=False)


@pytest.fixture
def own_objects(sleep_image: str) -> Iterator[str]:
    """Start and end with none of this module's containers, volumes and network."""
    remove_own_objects()
    try:
        yield sleep_image
    finally:
        remove_own_objects()


@pytest.fixture
def inventory(tmp_inventory_dir: Path) -> Path:
    """The nodes dn-manager1 and dn-worker1 on the network dn_lab_net."""
    path = write_inventory(tmp_inventory_dir, MANAGERS, WORKERS)
    inv = yaml.safe_load(path.read_text())
    inv["all"]["hosts"]["localhost"]["lab_nodes_network"] = NETWORK
    path.write_text(yaml.safe_dump(inv))
    return path


def absent(inventory: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return run_playbook(inventory, "playbooks/lab.yml", "-e", "lab_state=absent", *extra)


@needs_docker
def test_objects_without_the_label_are_left_alone_and_named(
    own_objects: str, inventory: Path
) -> None:
    docker("volume", "create", "--label", LABEL, "lab-dn-manager1-docker")
    docker("volume", "create", "lab-dn-worker1-docker")
    docker("network", "create", NETWORK)
    docker("create", "--name", "dn-worker1", "--network", NETWORK, own_objects, "/bin/sleep", "1")

    result = absent(inventory)
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    for line in (
        refusal("container", "dn-worker1"),
        refusal("volume", "lab-dn-worker1-docker"),
        refusal("network", NETWORK),
    ):
        assert line in result.stdout, out
    assert refusal("volume", "lab-dn-manager1-docker") not in result.stdout
    # the lab's own volume went first, then the run failed
    assert not exists("volume", "lab-dn-manager1-docker")
    assert recap_changed(result.stdout) == 1
    assert exists("volume", "lab-dn-worker1-docker")
    assert exists("network", NETWORK)
    assert exists("container", "dn-worker1")


@needs_docker
def test_labelled_objects_are_removed_check_apply_apply_check(
    own_objects: str, inventory: Path
) -> None:
    for volume in VOLUMES:
        docker("volume", "create", "--label", LABEL, volume)
    docker("network", "create", "--label", LABEL, NETWORK)
    docker(
        "create",
        "--name",
        "dn-manager1",
        "--label",
        LABEL,
        "--network",
        NETWORK,
        own_objects,
        "/bin/sleep",
        "1",
    )

    check = absent(inventory, "--check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert recap_changed(check.stdout) == 3  # containers, volumes, network
    assert exists("container", "dn-manager1")
    assert all(exists("volume", v) for v in VOLUMES)
    assert exists("network", NETWORK)

    apply = absent(inventory)
    assert apply.returncode == 0, apply.stdout + apply.stderr
    assert recap_changed(apply.stdout) == 3
    assert "not removed" not in apply.stdout
    assert not exists("container", "dn-manager1")
    assert not any(exists("volume", v) for v in VOLUMES)
    assert not exists("network", NETWORK)

    for extra in ((), ("--check",)):
        again = absent(inventory, *extra)
        assert again.returncode == 0, again.stdout + again.stderr
        assert recap_changed(again.stdout) == 0, again.stdout


@needs_docker
def test_labelled_network_still_used_by_another_container_is_kept(
    own_objects: str, inventory: Path
) -> None:
    docker("network", "create", "--label", LABEL, NETWORK)
    for name, labels in (("dn-worker1", ["--label", LABEL]), (OTHER, [])):
        docker(
            "run",
            "-d",
            "--init",
            "--name",
            name,
            *labels,
            "--network",
            NETWORK,
            own_objects,
            "/bin/sleep",
            "600",
        )

    result = absent(inventory)
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert (
        f"network {NETWORK}: not removed, containers other than the lab nodes use it: {OTHER}"
        in result.stdout
    ), out
    assert not exists("container", "dn-worker1")  # the lab's node went
    assert exists("network", NETWORK)
    attached = docker(
        "network", "inspect", NETWORK, "--format", "{{range .Containers}}{{.Name}} {{end}}"
    )
    assert attached.stdout.split() == [OTHER]  # and the other container was not disconnected


def make(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "-C", str(ROOT), "--no-print-directory", *args],
        capture_output=True,
        text=True,
        check=False,
    )


needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="no make")


@needs_make
def test_make_clean_runs_down_and_removes_nothing_named_pki_or_secrets() -> None:
    plan = make("-n", "clean", "ARTIFACTS=/x/artifacts")
    assert plan.returncode == 0, plan.stderr
    assert "playbooks/lab.yml -e lab_state=absent" in plan.stdout  # `down` still runs
    assert 'find -H "/x/artifacts"' in plan.stdout
    rm_lines = [line for line in plan.stdout.splitlines() if re.search(r"\brm\b", line)]
    assert rm_lines, plan.stdout
    for line in rm_lines:
        assert "pki" not in line and "secrets" not in line, line


@needs_make
def test_clean_keeps_pki_and_secrets_and_clean_secrets_deletes_them(tmp_path: Path) -> None:
    art = tmp_path / "artifacts"
    files = {
        "pki/registry-ca.key": "ca key",
        "secrets/registry-password": "pw",
        "evidence/lab-nodes.json": "{}",
        "runs/20261127T000000/REPORT.md": "old",
        "REPORT.md": "report",
    }
    for rel, text in files.items():
        (art / rel).parent.mkdir(parents=True, exist_ok=True)
        (art / rel).write_text(text)

    clean = make("clean-artifacts", f"ARTIFACTS={art}")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert sorted(p.name for p in art.iterdir()) == ["pki", "secrets"]
    assert (art / "pki/registry-ca.key").read_text() == "ca key"
    assert (art / "secrets/registry-password").read_text() == "pw"
    assert f"clean: deleting {art}/evidence" in clean.stdout

    secrets = make("clean-secrets", f"ARTIFACTS={art}")
    assert secrets.returncode == 0, secrets.stdout + secrets.stderr
    lines = secrets.stdout.splitlines()
    named = [f"clean-secrets: deleting {art}/pki", f"clean-secrets: deleting {art}/secrets"]
    assert lines[:2] == named, secrets.stdout  # named before the deletion
    assert art.is_dir()
    assert list(art.iterdir()) == []

    assert make("clean-artifacts", "ARTIFACTS=").returncode != 0
