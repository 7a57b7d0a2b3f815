"""The dnsrr rewrite of compose files for Swarm without IPVS (plugins/filter/stack_routing.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.pathload import load

ROOT = Path(__file__).resolve().parents[2]
sr = load("stack_routing", "plugins/filter/stack_routing.py")


def load(name: str) -> dict:
    return yaml.safe_load((ROOT / "app" / name).read_text())


def test_seed_swarm_file_gets_dnsrr_and_a_host_mode_edge() -> None:
    compose = load("docker-compose.swarm.yml")
    out = sr.stack_dnsrr(compose, "reg:5000/haproxy:latest")
    app = out["services"]["app"]
    assert app["deploy"]["endpoint_mode"] == "dnsrr"
    assert "ports" not in app
    # the seed's other settings are untouched
    assert app["deploy"]["replicas"] == 4
    assert app["deploy"]["update_config"] == compose["services"]["app"]["deploy"]["update_config"]
    assert app["deploy"]["resources"]["limits"] == {"cpus": "0.50", "memory": "512M"}
    assert out["services"]["redis"]["deploy"]["endpoint_mode"] == "dnsrr"
    edge = out["services"]["app-edge"]
    assert edge["image"] == "reg:5000/haproxy:latest"
    assert edge["ports"] == [{"target": 80, "published": 80, "protocol": "tcp", "mode": "host"}]
    assert "EDGE_BACKEND=app" in edge["environment"]
    assert "EDGE_PORT=8000" in edge["environment"]
    assert edge["deploy"]["placement"]["constraints"] == ["node.role == manager"]
    # the input is not modified
    assert compose["services"]["app"]["deploy"]["endpoint_mode"] == "vip"
    assert compose["services"]["app"]["ports"] == ["80:8000"]


def test_voting_stack_gets_one_edge_per_published_port_on_the_service_networks() -> None:
    out = sr.stack_dnsrr(load("voting/docker-stack.yml"), "edge:1")
    assert out["services"]["vote-edge-5080"]["ports"][0]["published"] == 5080
    assert out["services"]["result-edge-5081"]["ports"][0]["published"] == 5081
    assert "EDGE_PORT=8000" in out["services"]["vote-edge-5080"]["environment"]
    assert out["services"]["vote-edge-5080"]["networks"] == out["services"]["vote"]["networks"]
    assert all(s["deploy"]["endpoint_mode"] == "dnsrr" for s in out["services"].values())


def test_host_mode_ports_stay_on_the_service() -> None:
    compose = {
        "services": {
            "web": {"image": "x", "ports": [{"target": 80, "published": 8080, "mode": "host"}]}
        }
    }
    out = sr.stack_dnsrr(compose, "edge")
    assert out["services"]["web"]["ports"][0]["mode"] == "host"
    assert set(out["services"]) == {"web"}


@pytest.mark.parametrize(
    ("port", "expected"),
    [
        ("80:8000", (80, 8000, "tcp")),
        ("8000", (8000, 8000, "tcp")),
        ("127.0.0.1:81:8000", (81, 8000, "tcp")),
        ("53:53/udp", (53, 53, "udp")),
        (9000, (9000, 9000, "tcp")),
    ],
)
def test_port_syntaxes(port: object, expected: tuple[int, int, str]) -> None:
    p = sr.parse_port(port)
    assert (p["published"], p["target"], p["protocol"]) == expected


@pytest.mark.parametrize("bad", ["8000-8010:8000-8010", "abc", {"published": 80}])
def test_unsupported_ports_are_refused(bad: object) -> None:
    with pytest.raises(sr.StackRoutingError):
        sr.parse_port(bad)


def test_udp_ingress_port_cannot_move_to_an_edge() -> None:
    with pytest.raises(sr.StackRoutingError, match="only TCP"):
        sr.stack_dnsrr({"services": {"dns": {"image": "x", "ports": ["53:53/udp"]}}}, "edge")


def test_edge_name_clash_is_refused() -> None:
    compose = {"services": {"app": {"image": "x", "ports": ["80:80"]}, "app-edge": {"image": "y"}}}
    with pytest.raises(sr.StackRoutingError, match="app-edge"):
        sr.stack_dnsrr(compose, "edge")


def test_not_a_compose_mapping_is_refused() -> None:
    with pytest.raises(sr.StackRoutingError):
        sr.stack_dnsrr({"version": "3"}, "edge")


def test_published_ports() -> None:
    assert sr.stack_published_ports(load("voting/docker-stack.yml")) == [5080, 5081]


def test_remap_moves_only_the_mapped_published_port() -> None:
    compose = {
        "services": {
            "app": {"ports": ["80:8000", "9000:9000"]},
            "db": {"ports": [{"target": 5432, "published": 5432}]},
        }
    }
    out = sr.stack_remap_ports(compose, {80: 8081, "5432": 15432})
    assert out["services"]["app"]["ports"][0] == {
        "target": 8000,
        "published": 8081,
        "protocol": "tcp",
        "mode": "ingress",
    }
    assert out["services"]["app"]["ports"][1] == "9000:9000"
    assert out["services"]["db"]["ports"][0]["published"] == 15432
    assert compose["services"]["app"]["ports"][0] == "80:8000"  # the input is untouched
    assert sr.stack_published_ports(out) == [8081, 9000, 15432]
    assert sr.stack_remap_ports(compose, {}) == compose


def test_desired_replicas_default_one_and_global() -> None:
    compose = load("docker-compose.swarm.yml")
    assert sr.stack_desired_replicas(compose) == {"app": 4, "redis": 1}
    assert sr.stack_desired_replicas({"services": {"agent": {"deploy": {"mode": "global"}}}}) == {
        "agent": -1
    }


def _task(name: str, current: str, desired: str = "Running", node: str = "n1", error: str = ""):
    return {
        "Name": name,
        "CurrentState": current,
        "DesiredState": desired,
        "Node": node,
        "Error": error,
    }


def test_task_summary_counts_running_against_desired() -> None:
    tasks = [
        _task("counter_app.1", "Running 5 seconds ago", node="w1"),
        _task("counter_app.2", "Starting 1 second ago", node="w2"),
        _task("counter_app.2", "Failed 3 seconds ago", desired="Shutdown", error="boom"),
        _task("counter_redis.1", "Preparing 2 seconds ago", error="pulling"),
    ]
    summary = sr.stack_task_summary(tasks, "counter")
    assert summary["app"] == {"desired": 2, "running": 1, "nodes": ["w1"], "errors": []}
    assert summary["redis"]["running"] == 0
    assert summary["redis"]["errors"] == ["counter_redis.1: pulling"]
    assert not sr.stack_converged(summary, {"app": 2, "redis": 1})


def test_converged_only_when_every_service_runs_all_its_replicas() -> None:
    tasks = [_task(f"counter_app.{i}", "Running 1 minute ago") for i in range(1, 5)]
    tasks.append(_task("counter_redis.1", "Running 1 minute ago"))
    summary = sr.stack_task_summary(tasks, "counter")
    assert sr.stack_converged(summary, {"app": 4, "redis": 1})
    assert not sr.stack_converged(summary, {"app": 5, "redis": 1})  # a replica missing
    assert not sr.stack_converged(summary, {"app": 4, "redis": 1, "edge": 1})  # no task yet
    assert sr.stack_converged(summary, {"app": 4, "redis": 1, "scaled-down": 0})
