"""Filter `stack_dnsrr`: rewrite a compose file for a Swarm whose kernel has no IPVS.

Without IPVS, Swarm's virtual IPs and the ingress routing mesh do not work: a service must use
`endpoint_mode: dnsrr` (its DNS name returns one address per task), and dnsrr services cannot
publish ingress ports. Every service is switched to dnsrr; each port a service published in
ingress mode moves to a new edge service (HAProxy, one replica on a manager) that publishes it
in host mode and balances over the service's task addresses, health-checked.
"""

from __future__ import annotations

import copy
import re
from typing import Any

PORT_RE = re.compile(
    r"^(?:(?P<ip>\d+\.\d+\.\d+\.\d+):)?(?:(?P<published>\d+):)?(?P<target>\d+)"
    r"(?:/(?P<proto>tcp|udp))?$"
)


class StackRoutingError(ValueError):
    """A compose file this filter cannot rewrite."""


def parse_port(port: str | int | dict[str, Any]) -> dict[str, Any]:
    """Return a long-syntax port mapping for the short or long syntax of compose."""
    if isinstance(port, dict):
        if "target" not in port:
            raise StackRoutingError(f"port {port!r} has no target")
        return {
            "target": int(port["target"]),
            "published": int(port.get("published", port["target"])),
            "protocol": port.get("protocol", "tcp"),
            "mode": port.get("mode", "ingress"),
        }
    match = PORT_RE.match(str(port))
    if not match:
        raise StackRoutingError(f"port {port!r}: ranges and this syntax are not supported")
    target = int(match["target"])
    return {
        "target": target,
        "published": int(match["published"] or target),
        "protocol": match["proto"] or "tcp",
        "mode": "ingress",
    }


def stack_dnsrr(
    compose: dict[str, Any],
    edge_image: str,
    edge_slots: int = 8,
    edge_constraint: str = "node.role == manager",
) -> dict[str, Any]:
    """Return a copy of *compose* with dnsrr services and host-mode edge services."""
    if not isinstance(compose, dict) or not isinstance(compose.get("services"), dict):
        raise StackRoutingError("compose must be a mapping with a 'services' mapping")
    out = copy.deepcopy(compose)
    services: dict[str, Any] = out["services"]
    edges: dict[str, Any] = {}
    for name, svc in services.items():
        svc = svc if svc is not None else {}
        services[name] = svc
        svc.setdefault("deploy", {})["endpoint_mode"] = "dnsrr"
        kept = []
        for raw in svc.pop("ports", []) or []:
            port = parse_port(raw)
            if port["mode"] == "host":
                kept.append(port)
                continue
            if port["protocol"] != "tcp":
                raise StackRoutingError(f"service {name}: only TCP ports can move to an edge")
            edge_name = (
                f"{name}-edge" if port["published"] == 80 else f"{name}-edge-{port['published']}"
            )
            edge: dict[str, Any] = {
                "image": edge_image,
                "environment": [
                    f"EDGE_BACKEND={name}",
                    f"EDGE_PORT={port['target']}",
                    f"EDGE_SLOTS={edge_slots}",
                ],
                "ports": [
                    {
                        "target": 80,
                        "published": port["published"],
                        "protocol": "tcp",
                        "mode": "host",
                    }
                ],
                "deploy": {
                    "replicas": 1,
                    "endpoint_mode": "dnsrr",
                    "placement": {"constraints": [edge_constraint]},
                },
            }
            if svc.get("networks"):
                nets = svc["networks"]
                edge["networks"] = list(nets)  # list, or the keys of a mapping
            edges[edge_name] = edge
        if kept:
            svc["ports"] = kept
    clash = set(edges) & set(services)
    if clash:
        raise StackRoutingError(f"edge service names already used: {', '.join(sorted(clash))}")
    services.update(edges)
    return out


def stack_published_ports(compose: dict[str, Any]) -> list[int]:
    """Published ports of every service (short or long syntax), sorted."""
    ports = set()
    for svc in (compose.get("services") or {}).values():
        for raw in (svc or {}).get("ports", []) or []:
            ports.add(parse_port(raw)["published"])
    return sorted(ports)


class FilterModule:
    """Ansible filter plugin entry point."""

    def filters(self) -> dict[str, Any]:
        return {"stack_dnsrr": stack_dnsrr, "stack_published_ports": stack_published_ports}
