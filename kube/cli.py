"""Command line: ``python -m kube {diagnose,render} ...``.

``diagnose DIR...`` prints the findings of each variant (kube/diagnose.py) and can write them
as JSON; ``render DIR --registry HOST:PORT`` prints a variant's objects for the lab registry as
a YAML stream (``python -m kube render app/k8s/lab --registry 10.0.0.10:5000 | kubectl apply
-f -``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from kube.diagnose import Options, diagnose
from kube.manifests import ROOT, load_variant, render


def _relative(path: Path) -> str:
    resolved = path.resolve()
    try:
        return resolved.relative_to(ROOT).as_posix()
    except ValueError:
        return resolved.as_posix()


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and --help)."""
    parser = argparse.ArgumentParser(
        prog="python -m kube", description="Diagnose and render the lab's Kubernetes manifests."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    diag = sub.add_parser("diagnose", help="static check of manifest variants (no cluster)")
    diag.add_argument("dirs", nargs="+", type=Path, metavar="DIR", help="a kustomization dir")
    diag.add_argument("--json", type=Path, metavar="FILE", help="also write the findings as JSON")
    diag.add_argument(
        "--k3s-traefik",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="the cluster is k3s with its bundled Traefik on 80/443 (default: yes)",
    )
    diag.add_argument(
        "--fail-on-findings",
        action="store_true",
        help="exit 1 when any variant has a finding (default: exit 0)",
    )

    rend = sub.add_parser("render", help="print a variant's objects for a registry (YAML)")
    rend.add_argument("dir", type=Path, metavar="DIR", help="a kustomization dir")
    rend.add_argument("--registry", required=True, metavar="HOST:PORT", help="the lab registry")
    rend.add_argument("--tag", default="latest", help="image tag (default: latest)")
    rend.add_argument("--replicas", type=int, help="replicas of the counter-app Deployment")
    return parser


def run_diagnose(dirs: Sequence[Path], options: Options) -> dict[str, Any]:
    """The JSON document of the diagnosis of *dirs*."""
    variants = []
    for directory in dirs:
        objects = load_variant(directory)
        variants.append(
            {
                "dir": _relative(directory),
                "objects": len(objects),
                "findings": [f.to_dict() for f in diagnose(objects, options)],
            }
        )
    return {"variants": variants}


def _print_diagnosis(result: dict[str, Any]) -> None:
    for variant in result["variants"]:
        findings = variant["findings"]
        print(f"{variant['dir']}: {variant['objects']} objects, {len(findings)} finding(s)")
        for f in findings:
            print(f"  {f['severity'].upper():7} {f['rule']:28} {f['object']}")
            print(f"          {f['message']}")
            print(f"          -> {f['consequence']}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "diagnose":
            result = run_diagnose(args.dirs, Options(k3s_traefik=args.k3s_traefik))
            _print_diagnosis(result)
            if args.json:
                args.json.parent.mkdir(parents=True, exist_ok=True)
                args.json.write_text(
                    json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
                )
            if args.fail_on_findings and any(v["findings"] for v in result["variants"]):
                return 1
            return 0
        objects = render(load_variant(args.dir), args.registry, args.tag, args.replicas)
        sys.stdout.write(yaml.safe_dump_all(objects, sort_keys=False, allow_unicode=True))
        return 0
    except (OSError, ValueError, yaml.YAMLError) as exc:
        print(f"python -m kube {args.command}: {exc}", file=sys.stderr)
        return 2
