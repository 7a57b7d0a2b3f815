"""Every entry point refuses bad input in its first play, with one line naming the variable,
the value and what is allowed (or the empty group), and changes nothing: no file under
artifacts/, no container, volume, network or lab image. (How fast: `make bench`, rerun part.)"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from labutil import needs_docker, run_playbook, save_inventory, write_inventory

pytestmark = needs_docker

ENTRY_POINTS = ["site.yml", "drain-demo.yml", "loadtest.yml", "chaos.yml", "playbooks/converge.yml"]


def docker_state() -> dict[str, set[str]]:
    """What an entry point on the pyt-* inventory would make on this engine: node containers,
    their volumes and network, the probe container, and the lab images."""
    cmds = {
        "containers": ["docker", "ps", "-a", "--format", "{{.Names}} {{.State}}"],
        "volumes": ["docker", "volume", "ls", "--format", "{{.Name}}"],
        "networks": ["docker", "network", "ls", "--format", "{{.Name}}"],
        "images": ["docker", "images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"],
    }
    out = {}
    for kind, cmd in cmds.items():
        lines = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        out[kind] = {
            line
            for line in lines.splitlines()
            if "pyt" in line or "lab-probe" in line or line.startswith(("lab/", "bench/"))
        }
    return out


def files_under(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def seeded_inventory(directory: Path) -> Path:
    """A lab inventory (nodes that do not exist) beside an earlier run's evidence."""
    inv = write_inventory(directory, ["pyt-m1"], ["pyt-w1", "pyt-w2"])
    evidence = directory / "artifacts" / "evidence"
    evidence.mkdir(parents=True)
    (evidence / "drill.json").write_text('{"earlier": "run"}\n')
    (directory / "artifacts" / "loadtest").mkdir()
    (directory / "artifacts" / "loadtest" / "summary.json").write_text("{}\n")
    (directory / "artifacts" / "REPORT.md").write_text("# earlier run\n")
    return inv


def assert_refused_untouched(
    inv: Path, playbook: str, extra: list[str], expected: str
) -> subprocess.CompletedProcess[str]:
    artifacts = inv.parent / "artifacts"
    files_before, docker_before = files_under(artifacts), docker_state()
    result = run_playbook(inv, playbook, *extra)
    out = result.stdout + result.stderr
    assert result.returncode != 0, out[-3000:]
    assert expected in out, out[-3000:]
    # one line per error, no argument spec dump, and the first play is the only one that ran
    assert "argument_spec" not in out and "validate_args_context" not in out
    assert "PLAY [Validate the input]" in out
    assert out.count("PLAY [") == 1, "a play after validation ran"
    assert files_under(artifacts) == files_before
    assert docker_state() == docker_before
    return result


@pytest.mark.parametrize("playbook", ENTRY_POINTS)
def test_a_bad_choice_is_refused_by_every_entry_point(
    tmp_inventory_dir: Path, playbook: str
) -> None:
    inv = seeded_inventory(tmp_inventory_dir)
    var, expected = {
        "site.yml": (
            "registry_mode=bogus",
            "registry_mode = 'bogus': must be one of tls, tls_auth",
        ),
        "playbooks/converge.yml": (
            "swarm_node_availability=off",
            "swarm_node_availability = 'off': must be one of active, pause, drain",
        ),
        "drain-demo.yml": (
            "drill_rebalance=shuffle",
            "drill_rebalance = 'shuffle': must be one of",
        ),
        "loadtest.yml": (
            "loadtest_runner=cloud",
            "loadtest_runner = 'cloud': must be one of local, swarm",
        ),
        "chaos.yml": (
            '{"chaos_faults": ["drain", "reboot"]}',
            "chaos_faults = ['drain', 'reboot']: must be one of drain, kill_replica, "
            "broken_rollout, stop_node, redis_master, registry_restart",
        ),
    }[playbook]
    assert_refused_untouched(inv, playbook, ["-e", var], expected)


def test_several_errors_are_listed_one_per_line(tmp_inventory_dir: Path) -> None:
    inv = seeded_inventory(tmp_inventory_dir)
    result = assert_refused_untouched(
        inv,
        "site.yml",
        ["-e", "registry_mode=bogus", "-e", "registry_port=http", "-e", "stack_routing=mesh"],
        "registry_mode = 'bogus'",
    )
    lines = [line.strip() for line in result.stdout.splitlines()]
    assert "registry_port = 'http': must be an int (role registry)" in lines
    assert "stack_routing = 'mesh': must be one of auto, vip, dnsrr (role stack)" in lines


@pytest.mark.parametrize(
    ("var", "expected"),
    [
        ("chaos_rate=0", "chaos_rate = 0: must be > 0 (increments per second)"),
        ("chaos_node=pyt-m1", "chaos_node = pyt-m1: not a worker of the lab"),
        (
            "chaos_node=nosuch",
            "chaos_node = nosuch: not a worker of the lab (swarm_workers: pyt-w1",
        ),
    ],
)
def test_bad_fault_drill_input_is_refused_before_any_fault(
    tmp_inventory_dir: Path, var: str, expected: str
) -> None:
    inv = seeded_inventory(tmp_inventory_dir)
    assert_refused_untouched(inv, "chaos.yml", ["-e", var], expected)


def test_a_bad_profile_is_refused_before_the_archive(tmp_inventory_dir: Path) -> None:
    inv = seeded_inventory(tmp_inventory_dir)
    assert_refused_untouched(
        inv, "loadtest.yml", ["-e", "loadtest_profile=nope"], "unknown profile 'nope'"
    )


def test_an_empty_group_is_named(tmp_inventory_dir: Path) -> None:
    inv = seeded_inventory(tmp_inventory_dir)
    no_workers = {
        "all": {
            "hosts": {"localhost": {"ansible_connection": "local"}},
            "children": {"swarm_managers": {"hosts": {"localhost": None}}},
        }
    }
    (inv.parent / "group_vars").unlink()
    inv = save_inventory(inv.parent, no_workers)
    assert_refused_untouched(
        inv, "drain-demo.yml", [], "inventory group 'swarm_workers' has no host"
    )
