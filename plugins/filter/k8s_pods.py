"""Filters `k8s_running_pods` and `k8s_ready_pods`: which pods of a `kubernetes.core.k8s_info`
listing serve.

Role `k8s_app` counts the counter's pods in several places (every phase of the drain drill, and
the wait for the replicas after the drain); these filters are the one definition of "running"
and "ready" they share:

- running: ``status.phase`` is ``Running`` and the pod is not being deleted (no
  ``metadata.deletionTimestamp``: a pod evicted by a drain stays ``Running`` during its grace
  period);
- ready: running, and its ``Ready`` condition is ``"True"``.

Both take ``exclude_node``: pods on that node are left out (the drained node). Standard library
only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def _get(obj: Mapping[str, Any] | None, *keys: str) -> Any:
    for key in keys:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def k8s_running_pods(
    pods: Iterable[Mapping[str, Any]] | None, exclude_node: str | None = None
) -> list[Mapping[str, Any]]:
    """The pods that run and are not being deleted, without those on *exclude_node*."""
    if pods is None:
        return []
    if isinstance(pods, (str, bytes, Mapping)):
        raise TypeError(f"k8s_running_pods expects a list of pods, got {type(pods).__name__}")
    return [
        pod
        for pod in pods
        if _get(pod, "status", "phase") == "Running"
        and _get(pod, "metadata", "deletionTimestamp") is None
        and (not exclude_node or _get(pod, "spec", "nodeName") != exclude_node)
    ]


def _ready(pod: Mapping[str, Any]) -> bool:
    conditions = _get(pod, "status", "conditions") or []
    return any(
        isinstance(c, Mapping) and c.get("type") == "Ready" and str(c.get("status")) == "True"
        for c in conditions
    )


def k8s_ready_pods(
    pods: Iterable[Mapping[str, Any]] | None, exclude_node: str | None = None
) -> list[Mapping[str, Any]]:
    """The running pods (see `k8s_running_pods`) whose ``Ready`` condition is ``True``."""
    return [pod for pod in k8s_running_pods(pods, exclude_node) if _ready(pod)]


class FilterModule:
    """Ansible filter plugin."""

    def filters(self) -> dict[str, Any]:
        return {"k8s_running_pods": k8s_running_pods, "k8s_ready_pods": k8s_ready_pods}
