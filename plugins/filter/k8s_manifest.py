"""Filter `k8s_lab_objects`: the Kubernetes objects of an app/k8s variant for the lab registry.

The manifests under app/k8s name the placeholder registry ``lab-registry.invalid:5000``; this
filter returns new objects whose container images name the lab registry (and the given tag)
instead, with the counter Deployment's replicas set when given. The input objects are not
changed.

This file is the only implementation: the ``kube`` package (kube/manifests.py) loads it by its
path, since a collection filter plugin cannot import the project's top-level packages when the
collection is installed elsewhere, while kube/ always sits beside plugins/ (in the source tree
and in the collection tarball). Keep it self-contained (standard library only).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

#: Registry named in the manifest files, replaced by the lab registry when rendering.
PLACEHOLDER_REGISTRY = "lab-registry.invalid:5000"
#: The Deployment whose replicas ``replicas`` sets.
COUNTER_DEPLOYMENT = "counter-app"
#: Kinds whose ``spec.template.spec`` is a pod spec.
WORKLOAD_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"})


def pod_spec(obj: Mapping[str, Any]) -> dict[str, Any] | None:
    """The pod spec of a workload (``CronJob`` and ``Pod`` too), or None for other kinds."""
    kind = obj.get("kind")
    spec = obj.get("spec") or {}
    if kind == "Pod":
        return spec
    if kind == "CronJob":
        return (((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}).get(
            "spec"
        )
    if kind in WORKLOAD_KINDS:
        return (spec.get("template") or {}).get("spec")
    return None


def _retag(image: str, registry: str, tag: str) -> str:
    prefix = PLACEHOLDER_REGISTRY + "/"
    if not image.startswith(prefix):
        return image
    path = image[len(prefix) :].split("@", 1)[0]
    last = path.rsplit("/", 1)
    if ":" in last[-1]:
        path = path[: path.rindex(":")]
    return f"{registry}/{path}:{tag}"


def _check(registry: str, tag: str, replicas: int | None) -> None:
    if not registry or "/" in registry or registry != registry.strip():
        raise ValueError(f"registry must be HOST[:PORT] without a path, got {registry!r}")
    if not tag or any(c in tag for c in "/:@ ") or len(tag) > 128:
        raise ValueError(f"tag must be an image tag (no '/', ':', '@' or spaces), got {tag!r}")
    if replicas is not None and (isinstance(replicas, bool) or int(replicas) < 0):
        raise ValueError(f"replicas must be an integer >= 0, got {replicas!r}")


def k8s_lab_objects(
    docs: Iterable[Mapping[str, Any]],
    registry: str,
    tag: str = "latest",
    replicas: int | None = None,
) -> list[dict[str, Any]]:
    """Copies of *docs* with placeholder images at *registry* with *tag*; counter replicas set.

    Empty documents (None) are dropped. Raises ``ValueError`` naming a bad argument.
    """
    registry = str(registry)
    tag = str(tag)
    _check(registry, tag, replicas)
    out: list[dict[str, Any]] = []
    for doc in docs:
        if not doc:
            continue
        obj = copy.deepcopy(dict(doc))
        spec = pod_spec(obj)
        if spec is not None:
            for key in ("initContainers", "containers"):
                for container in spec.get(key) or []:
                    if isinstance(container.get("image"), str):
                        container["image"] = _retag(container["image"], registry, tag)
        if (
            replicas is not None
            and obj.get("kind") == "Deployment"
            and (obj.get("metadata") or {}).get("name") == COUNTER_DEPLOYMENT
        ):
            obj["spec"]["replicas"] = int(replicas)
        out.append(obj)
    return out


class FilterModule:
    """Ansible filter plugin."""

    def filters(self) -> dict[str, Any]:
        return {"k8s_lab_objects": k8s_lab_objects}
