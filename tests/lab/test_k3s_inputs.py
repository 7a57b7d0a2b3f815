"""playbooks/k3s.yml refuses bad k3s input on the controller, in its first play, before any k3s
node is reached (they are unreachable documentation addresses here), with one line naming the
group, host or variable, and writes nothing under the artifacts directory. A good airgap
directory passes validation; the run then stops at the SSH check naming the host."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import yaml
from labutil import LOCALHOST, localhost_inventory, run_playbook, save_inventory, write_inventory

PLAYBOOK = "playbooks/k3s.yml"
SSH_VARS = {
    "ansible_connection": "ssh",
    "ansible_user": "nobody",
    "ansible_become": True,
    "ansible_ssh_common_args": "-o ConnectTimeout=2 -o BatchMode=yes",
    "ansible_timeout": 3,
}


def k3s_inventory(directory: Path, servers: int, agents: int = 1, stray: int = 0) -> Path:
    """A k3s inventory of unreachable VMs (192.0.2.x): servers, agents and stray hosts that are
    in k3s_cluster but in neither child group."""
    host = iter(range(20, 60))
    inv = {
        "all": {
            "hosts": {
                "localhost": LOCALHOST,
            },
            "children": {
                "k3s_cluster": {
                    "vars": SSH_VARS,
                    "hosts": {
                        f"stray{i}": {"ansible_host": f"192.0.2.{next(host)}"} for i in range(stray)
                    },
                    "children": {
                        "k3s_servers": {
                            "hosts": {
                                f"server{i + 1}": {"ansible_host": f"192.0.2.{next(host)}"}
                                for i in range(servers)
                            }
                        },
                        "k3s_agents": {
                            "hosts": {
                                f"agent{i + 1}": {"ansible_host": f"192.0.2.{next(host)}"}
                                for i in range(agents)
                            }
                        },
                    },
                }
            },
        }
    }
    return save_inventory(directory, inv)


def airgap_dir(path: Path, sums: dict[str, str] | None = None, skip: tuple[str, ...] = ()) -> Path:
    """Fake release files for amd64; sums overrides (or, with value "", drops) checksum lines."""
    path.mkdir(parents=True, exist_ok=True)
    files = {"k3s": b"fake k3s binary\n", "k3s-airgap-images-amd64.tar.zst": b"fake images\n"}
    lines = []
    for name, data in files.items():
        if name not in skip:
            (path / name).write_bytes(data)
        digest = (sums or {}).get(name, hashlib.sha256(data).hexdigest())
        if digest:
            lines.append(f"{digest}  {name}\n")
    lines.append(f"{hashlib.sha256(b'other').hexdigest()}  k3s-images.txt\n")
    (path / "sha256sum-amd64.txt").write_text("".join(lines))
    return path


def files_under(directory: Path) -> list[str]:
    return (
        sorted(str(p.relative_to(directory)) for p in directory.rglob("*"))
        if directory.exists()
        else []
    )


def run_k3s(inv: Path, *extra: str) -> tuple[subprocess.CompletedProcess[str], str]:
    artifacts = inv.parent / "artifacts"
    before = files_under(artifacts)
    result = run_playbook(inv, PLAYBOOK, *extra)
    out = result.stdout + result.stderr
    assert result.returncode != 0, out[-3000:]
    assert files_under(artifacts) == before, "validation wrote under the artifacts directory"
    return result, out


def assert_refused(out: str, *lines: str) -> None:
    assert "Refused before any change:" in out, out[-3000:]
    for line in lines:
        assert line in out, f"{line!r} not in:\n{out[-3000:]}"
    # the refusal comes from the first play: no k3s node was contacted
    assert "PLAY [Reach every SSH node" not in out, out[-3000:]
    assert "PLAY [Check every k3s node" not in out


def test_no_k3s_cluster_group_and_no_registry_files(tmp_inventory_dir: Path) -> None:
    inv = localhost_inventory(tmp_inventory_dir)
    _, out = run_k3s(inv)
    assert_refused(
        out,
        "inventory group 'k3s_cluster' has no host",
        "k3s_install_airgap_dir = '': empty: must be a controller directory",
        "k3s_install_registry_ca = '"
        + str(tmp_inventory_dir / "artifacts" / "pki" / "registry-ca.crt"),
        "k3s_install_registry_password_file = '",
        "k3s_install_registry_address = 'manager1:5000': its host, registry_host 'manager1',",
    )


def test_two_servers_a_stray_host_and_a_missing_airgap_dir(
    tmp_inventory_dir: Path, tmp_path: Path
) -> None:
    inv = k3s_inventory(tmp_inventory_dir, servers=2, stray=1)
    missing = tmp_path / "nope"
    _, out = run_k3s(
        inv, "-e", f"k3s_install_airgap_dir={missing}", "-e", "k3s_install_registry=false"
    )
    assert_refused(
        out,
        "inventory group 'k3s_servers' has 2 hosts (server1, server2): must be 1, or an odd number",
        "host 'stray0' is in k3s_cluster but in neither k3s_servers nor k3s_agents",
        f"k3s_install_airgap_dir = '{missing}': not a directory on the controller",
    )


def test_four_servers_and_missing_airgap_files(tmp_inventory_dir: Path, tmp_path: Path) -> None:
    inv = k3s_inventory(tmp_inventory_dir, servers=4)
    files = airgap_dir(tmp_path / "k3s", skip=("k3s", "k3s-airgap-images-amd64.tar.zst"))
    _, out = run_k3s(
        inv, "-e", f"k3s_install_airgap_dir={files}", "-e", "k3s_install_registry=false"
    )
    assert_refused(
        out,
        "inventory group 'k3s_servers' has 4 hosts (server1, server2, server3, server4)",
        f"k3s_install_airgap_dir: {files}/k3s is missing (the k3s binary",
        f"k3s_install_airgap_dir: {files}/k3s-airgap-images-amd64.tar.zst is missing",
    )


def test_checksum_mismatch_and_missing_entry(tmp_inventory_dir: Path, tmp_path: Path) -> None:
    inv = k3s_inventory(tmp_inventory_dir, servers=3)
    wrong = "0" * 64
    files = airgap_dir(tmp_path / "k3s", sums={"k3s": wrong, "k3s-airgap-images-amd64.tar.zst": ""})
    actual = hashlib.sha256(b"fake k3s binary\n").hexdigest()
    _, out = run_k3s(
        inv, "-e", f"k3s_install_airgap_dir={files}", "-e", "k3s_install_registry=false"
    )
    assert_refused(
        out,
        f"k3s_install_airgap_dir: {files}/k3s has sha256 {actual}, expected {wrong}",
        f"k3s_install_airgap_dir: {files}/sha256sum-amd64.txt has no entry for k3s-airgap-images",
    )
    assert "k3s_servers' has" not in out  # 3 servers are fine


def test_good_input_passes_validation_then_stops_at_ssh(
    tmp_inventory_dir: Path, tmp_path: Path
) -> None:
    inv = k3s_inventory(tmp_inventory_dir, servers=1, agents=2)
    files = airgap_dir(tmp_path / "k3s")
    artifacts = tmp_inventory_dir / "artifacts"
    (artifacts / "pki").mkdir(parents=True)
    (artifacts / "pki" / "registry-ca.crt").write_text("fake CA\n")
    (artifacts / "secrets").mkdir()
    (artifacts / "secrets" / "registry-password").write_text("secret-password\n")
    _, out = run_k3s(
        inv,
        "-e",
        f"k3s_install_airgap_dir={files}",
        "-e",
        "k3s_install_registry_address=192.0.2.10:5000",
    )
    assert (
        "k3s_install_"
        not in out.split("PLAY [Reach every SSH node")[0].split("TASK [k3s_install : Refuse")[-1]
    )
    assert "PLAY [Reach every SSH node" in out, out[-3000:]
    assert "host server1 (nobody@192.0.2.20, connection ssh) is unreachable" in out, out[-3000:]
    assert "PLAY [Check every k3s node" not in out
    assert "secret-password" not in out


def test_site_checks_k3s_input_but_not_the_registry_files_it_makes(
    tmp_inventory_dir: Path, tmp_path: Path
) -> None:
    """site.yml with a k3s_cluster group runs the k3s checks in its first play too; the
    registry's CA and password do not exist yet on a fresh lab, and site.yml makes them before
    it installs k3s, so only the real problem (here the airgap directory) is refused."""
    inv = write_inventory(tmp_inventory_dir, ["pyt-m1"], ["pyt-w1"])
    document = yaml.safe_load(inv.read_text())
    document["all"]["children"]["k3s_cluster"] = {
        "vars": SSH_VARS,
        "children": {"k3s_servers": {"hosts": {"server1": {"ansible_host": "192.0.2.20"}}}},
    }
    inv.write_text(yaml.safe_dump(document))
    missing = tmp_path / "nope"
    artifacts = inv.parent / "artifacts"
    result = run_playbook(inv, "site.yml", "-e", f"k3s_install_airgap_dir={missing}")
    out = result.stdout + result.stderr
    assert result.returncode != 0, out[-3000:]
    assert_refused(out, f"k3s_install_airgap_dir = '{missing}': not a directory on the controller")
    assert "k3s_install_registry_ca" not in out
    assert "k3s_install_registry_password_file" not in out
    assert files_under(artifacts) == []
