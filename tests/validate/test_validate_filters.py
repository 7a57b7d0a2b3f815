"""Role lab_validate's filters: one line per bad value, naming the variable, the value and what
is allowed; inventory problems named by group or host. Checked against the real specs."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.pathload import load

ROOT = Path(__file__).resolve().parents[2]
mod = load("lab_validate", "plugins/filter/lab_validate.py")


def specs(*roles: str) -> dict:
    return {
        r: yaml.safe_load((ROOT / "roles" / r / "meta" / "argument_specs.yml").read_text())
        for r in roles
    }


ALL_ROLES = sorted(p.parent.parent.name for p in (ROOT / "roles").glob("*/meta/argument_specs.yml"))


def test_a_bad_choice_names_the_variable_the_value_and_the_choices() -> None:
    errors = mod.lab_spec_errors({"registry_mode": "bogus"}, specs("registry"))
    assert errors == ["registry_mode = 'bogus': must be one of tls, tls_auth (role registry)"]


def test_a_bad_type_names_the_type() -> None:
    errors = mod.lab_spec_errors({"registry_port": "five thousand"}, specs("registry"))
    assert errors == ["registry_port = 'five thousand': must be an int (role registry)"]


def test_a_list_of_the_wrong_elements_and_a_dict() -> None:
    errors = mod.lab_spec_errors(
        {"swarm_node_labels": "zone=a b", "loadtest_workers": [1]}, specs("swarm", "loadtest")
    )
    assert "swarm_node_labels = 'zone=a b': must be a dict (role swarm)" in errors
    assert any(e.startswith("loadtest_workers = [1]: must be an int") for e in errors)


def test_good_values_and_unset_required_options_pass() -> None:
    values = {"registry_mode": "tls", "registry_port": "5000", "stack_routing": "dnsrr"}
    assert mod.lab_spec_errors(values, specs("registry", "stack")) == []


def test_variables_of_roles_not_run_are_not_checked() -> None:
    assert mod.lab_spec_errors({"registry_mode": "bogus"}, specs("swarm")) == []


def test_a_secret_value_is_masked() -> None:
    secret_spec = {
        "argument_specs": {"main": {"options": {"x_pin": {"type": "int", "no_log": True}}}}
    }
    errors = mod.lab_spec_errors({"x_pin": "s3cr3t"}, {"x": secret_spec})
    assert errors == ["x_pin = ********: must be an int (role x)"]


def test_every_role_spec_parses_and_accepts_its_own_defaults() -> None:
    every = specs(*ALL_ROLES)
    for role, spec in every.items():
        for entry in spec["argument_specs"].values():
            defaults = {
                k: v["default"] for k, v in (entry.get("options") or {}).items() if "default" in v
            }
            assert mod.lab_spec_errors(defaults, {role: spec}) == [], role


def test_inventory_empty_group_is_named() -> None:
    groups = {"all": ["localhost", "w1"], "swarm_managers": [], "swarm_workers": ["w1"]}
    errors = mod.lab_inventory_errors(groups, {}, ["swarm_managers", "swarm_workers"])
    assert len(errors) == 1
    assert errors[0].startswith("inventory group 'swarm_managers' has no host")


def test_inventory_missing_group_is_named() -> None:
    errors = mod.lab_inventory_errors({"all": ["localhost"]}, {}, ["swarm_cluster"])
    assert errors[0].startswith("inventory group 'swarm_cluster' has no host")


def test_inventory_overlap_and_mixed_connections() -> None:
    groups = {"swarm_managers": ["m1"], "swarm_workers": ["m1", "w1"]}
    conns = {"m1": "community.docker.docker", "w1": "ssh"}
    errors = mod.lab_inventory_errors(
        groups, conns, ["swarm_managers"], [["swarm_managers", "swarm_workers"]]
    )
    assert "hosts in both 'swarm_managers' and 'swarm_workers': m1" in errors[0]
    assert "mixes lab containers and SSH hosts" in errors[1]
    assert "m1 (community.docker.docker)" in errors[1] and "w1 (ssh)" in errors[1]


def test_a_consistent_inventory_passes() -> None:
    groups = {"swarm_managers": ["m1"], "swarm_workers": ["w1"]}
    conns = {"m1": "ssh", "w1": "ssh"}
    assert (
        mod.lab_inventory_errors(
            groups,
            conns,
            ["swarm_managers", "swarm_workers"],
            [["swarm_managers", "swarm_workers"]],
        )
        == []
    )


def reach(host: str, ping: dict, user: str = "lab", become: bool = True) -> dict:
    return {
        "host": host,
        "ping": ping,
        "user": user,
        "address": "10.0.0." + host[-1],
        "connection": "ssh",
        "become": become,
        "become_method": "sudo",
    }


def test_reach_names_the_unreachable_and_the_sudo_less_hosts() -> None:
    """The registered results of ansible.builtin.ping as Ansible shows them (unreachable with
    ignore_unreachable; a become failure with failed_when: false still carries failed)."""
    hosts = [
        reach(
            "w2",
            {
                "unreachable": True,
                "changed": False,
                "msg": "Task failed: ssh: connect to host\n  port 22: No route",
            },
        ),
        reach("w1", {"failed": True, "msg": "Missing sudo password"}, user="nosudo"),
        reach("m1", {"ping": "pong", "changed": False, "failed": False}),
        reach("x9", {"skipped": True, "changed": False}),
    ]
    assert mod.lab_reach_errors(hosts) == [
        "host w1 (nosudo@10.0.0.1, connection ssh) does not let nosudo become root (sudo): "
        "Missing sudo password",
        "host w2 (lab@10.0.0.2, connection ssh) is unreachable: "
        "ssh: connect to host port 22: No route",
    ]


def test_reach_passes_when_every_host_answers() -> None:
    assert mod.lab_reach_errors([reach("m1", {"ping": "pong", "failed": False})]) == []
    failed_without_become = reach("m1", {"failed": True, "msg": "boom"}, become=False)
    assert mod.lab_reach_errors([failed_without_become]) == [
        "host m1 (lab@10.0.0.1, connection ssh) failed the ping: boom"
    ]


def test_reach_refuses_a_host_whose_check_did_not_complete() -> None:
    answered = [reach("m1", {"ping": "pong", "failed": False})]
    assert mod.lab_reach_errors(answered, ["m1", "w1"]) == [
        "host w1 did not complete the SSH check (see the error above)"
    ]
