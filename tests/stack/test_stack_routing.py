"""The dnsrr rewrite of compose files for Swarm without IPVS (roles/stack filter plugin)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.pathload import load

ROOT = Path(__file__).resolve().parents[2]
sr = load("stack_routing", "roles/stack/filter_plugins/stack_routing.py")


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
