"""Load an app/k8s variant (its kustomization.yaml's resources, in order) and render it.

:func:`render` is the collection's filter ``k8s_lab_objects`` itself
(plugins/filter/k8s_manifest.py), loaded by its path: one implementation for the playbook and
for Python. kube/ sits beside plugins/ in the source tree and in the collection tarball.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_FILE = ROOT / "plugins" / "filter" / "k8s_manifest.py"
KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")


def _load_plugin() -> ModuleType:
    name = "devops_scaling_lab_k8s_manifest"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, PLUGIN_FILE)
    if spec is None or spec.loader is None:  # pragma: no cover - the file ships with kube/
        raise ImportError(f"cannot load {PLUGIN_FILE}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


_plugin = _load_plugin()
#: ``render(docs, registry, tag="latest", replicas=None)``: the filter ``k8s_lab_objects``.
render = _plugin.k8s_lab_objects
pod_spec = _plugin.pod_spec
PLACEHOLDER_REGISTRY: str = _plugin.PLACEHOLDER_REGISTRY
COUNTER_DEPLOYMENT: str = _plugin.COUNTER_DEPLOYMENT


def kustomization_file(directory: Path) -> Path:
    """The kustomization file of *directory* (FileNotFoundError if it has none)."""
    for name in KUSTOMIZATION_NAMES:
        path = directory / name
        if path.is_file():
            return path
    raise FileNotFoundError(f"{directory}: no kustomization.yaml")


def resource_files(directory: str | Path) -> list[Path]:
    """The files the kustomization of *directory* lists under ``resources``, in its order.

    Only plain file resources are supported (no remote bases, no nested kustomizations).
    """
    directory = Path(directory)
    kustomization = yaml.safe_load(kustomization_file(directory).read_text(encoding="utf-8"))
    if not isinstance(kustomization, Mapping):
        raise ValueError(f"{directory}: kustomization.yaml is not a mapping")
    files: list[Path] = []
    for item in kustomization.get("resources") or []:
        path = directory / str(item)
        if not path.is_file():
            raise ValueError(f"{directory}: resource {item!r} is not a file in the directory")
        files.append(path)
    return files


def load_documents(path: str | Path) -> list[dict[str, Any]]:
    """Every non-empty YAML document of *path* (each must be a mapping)."""
    path = Path(path)
    docs: list[dict[str, Any]] = []
    for index, doc in enumerate(yaml.safe_load_all(path.read_text(encoding="utf-8"))):
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise ValueError(f"{path}: document {index} is not a mapping")
        docs.append(doc)
    return docs


def load_variant(directory: str | Path) -> list[dict[str, Any]]:
    """All objects of a variant directory, in kustomization order."""
    docs: list[dict[str, Any]] = []
    for path in resource_files(directory):
        docs.extend(load_documents(path))
    return docs


def object_id(obj: Mapping[str, Any]) -> str:
    """``Kind/name`` of an object."""
    return f"{obj.get('kind', '?')}/{(obj.get('metadata') or {}).get('name', '?')}"
