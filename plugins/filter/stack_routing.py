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


def stack_remap_ports(compose: dict[str, Any], mapping: dict[Any, Any]) -> dict[str, Any]:
    """Return a copy of *compose* whose published ports are moved as *mapping* says.

    mapping: published port -> new published port (e.g. {80: 8081}), so a demonstration stack
    can run beside the counter stack without taking its port 80.
    """
    moves = {int(k): int(v) for k, v in (mapping or {}).items()}
    out = copy.deepcopy(compose)
    if not moves:
        return out
    for svc in (out.get("services") or {}).values():
        if not svc or not svc.get("ports"):
            continue
        ports = []
        for raw in svc["ports"]:
            port = parse_port(raw)
            if port["published"] in moves:
                if isinstance(raw, dict):
                    port = {**raw, "published": moves[port["published"]]}
                else:
                    port["published"] = moves[port["published"]]
                ports.append(port)
            else:
                ports.append(raw)
        svc["ports"] = ports
    return out


def stack_desired_replicas(compose: dict[str, Any]) -> dict[str, int]:
    """Replicas each replicated service of *compose* asks for (global services: -1)."""
    out: dict[str, int] = {}
    for name, svc in (compose.get("services") or {}).items():
        deploy = (svc or {}).get("deploy") or {}
        out[name] = -1 if deploy.get("mode") == "global" else int(deploy.get("replicas", 1))
    return out


def _service_of(task_name: str, stack: str) -> str:
    """'counter_app.3' (or 'counter_app.NODEID' for global services) -> 'app'."""
    base = task_name.rsplit(".", 1)[0] if "." in task_name else task_name
    prefix = f"{stack}_"
    return base[len(prefix) :] if base.startswith(prefix) else base


def stack_task_summary(tasks: list[dict[str, Any]], stack: str) -> dict[str, dict[str, Any]]:
    """Per service: tasks meant to run, tasks running, and their nodes (docker stack ps rows).

    *tasks* are the rows of community.docker.docker_stack_task_info (docker stack ps as JSON).
    """
    out: dict[str, dict[str, Any]] = {}
    for task in tasks or []:
        if str(task.get("DesiredState", "")).lower() != "running":
            continue
        svc = _service_of(str(task.get("Name", "")), stack)
        row = out.setdefault(svc, {"desired": 0, "running": 0, "nodes": [], "errors": []})
        row["desired"] += 1
        if str(task.get("CurrentState", "")).lower().startswith("running"):
            row["running"] += 1
            row["nodes"].append(task.get("Node", ""))
        elif task.get("Error"):
            row["errors"].append(f"{task.get('Name')}: {task.get('Error')}")
    return out


def stack_converged(summary: dict[str, dict[str, Any]], desired: dict[str, int]) -> bool:
    """True when every service of *desired* runs all its replicas (global: all its tasks)."""
    for svc, want in desired.items():
        row = summary.get(svc, {"desired": 0, "running": 0})
        if want == 0:
            continue
        if row["running"] != row["desired"] or row["running"] == 0:
            return False
        if want > 0 and row["running"] != want:
            return False
    return True


class FilterModule:
    """Ansible filter plugin entry point."""

    def filters(self) -> dict[str, Any]:
        return {
            "stack_dnsrr": stack_dnsrr,
            "stack_published_ports": stack_published_ports,
            "stack_remap_ports": stack_remap_ports,
            "stack_desired_replicas": stack_desired_replicas,
            "stack_task_summary": stack_task_summary,
            "stack_converged": stack_converged,
        }
