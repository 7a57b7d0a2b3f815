"""One fault drill's accounts and verdict: the single crossing between role `chaos` and Python.

The role writes a plan (JSON), starts ``python -m loadtest.chaos --plan PLAN`` in the
background, injects the fault while the ledger's load runs, and writes what it measured on the
lab (``facts``: e.g. seconds until the service ran all its replicas again) and when the fault
started (``marks``) into files the plan names. When the load ends this module reads both,
closes the accounts (loadtest.ledger), compares every figure with the fault's targets and
writes one evidence file: ``{fault, ledger, facts, checks: [...], met}``.

Plan keys: fault, url, counter, rate, duration, timeout, marks, facts, out, targets
(see TARGET_CHECKS for the names each fault uses).

Fault redis_master kills the master several times in one load; its marks are kill_N (just
before kill N) and killed_N (once the kill returned). Failover N is the time from kill_N to the
answer of the first acknowledged increment sent after killed_N: an upper bound of the time
from the kill to the first write the new master confirmed.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from loadtest import ledger

# Every fault: no acknowledged write is lost (the three proofs of loss are all zero or less) and
# no write appears that nobody sent (phantom).
NO_LOSS = ("lost", "duplicate_acks", "acks_above_final", "phantom")

# fault -> checks: (name, where the figure comes from, key, comparison, target key).
Check = tuple[str, str, str, str, str]
TARGET_CHECKS: dict[str, list[Check]] = {
    "drain": [
        ("failed requests", "ledger", "failed", "<=", "failed_max"),
        ("service back to N/N (s)", "facts", "service_back_s", "<=", "service_back_s"),
    ],
    "kill_replica": [
        ("failed requests (%)", "ledger", "failed_pct", "<=", "failed_pct_max"),
        ("service back to N/N (s)", "facts", "service_back_s", "<=", "service_back_s"),
    ],
    "broken_rollout": [
        ("failed requests", "ledger", "failed", "<=", "failed_max"),
        ("rolled back to the running image (s)", "facts", "rollback_s", "<=", "rollback_s"),
        ("running image restored", "facts", "image_restored", "is", "image_restored"),
    ],
    "stop_node": [
        ("service N/N after the stop (s)", "facts", "service_back_s", "<=", "service_back_s"),
        ("node Ready after its start (s)", "facts", "node_ready_s", "<=", "node_ready_s"),
    ],
    "redis_master": [
        (
            "failover: kill to first acknowledged write, worst (s)",
            "ledger",
            "failover_max_s",
            "<=",
            "failover_s",
        ),
        ("master kills measured under load", "ledger", "kills_measured", ">=", "kills"),
    ],
    "registry_restart": [
        (
            "deploy done after the registry is back (s)",
            "facts",
            "deploy_after_registry_s",
            "<=",
            "deploy_after_registry_s",
        ),
        ("images lost", "facts", "images_lost", "<=", "images_lost"),
        (
            "pulls failed while the registry was down",
            "facts",
            "pulls_failed",
            ">=",
            "pulls_failed_min",
        ),
    ],
}
FAULTS = sorted(TARGET_CHECKS)

COMPARE: dict[str, Callable[[float, float], bool]] = {
    "<=": lambda measured, target: measured <= target,
    ">=": lambda measured, target: measured >= target,
}


def failovers(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Per kill N of the marks (kill_N, killed_N): seconds from kill_N to the answer of the
    first acknowledged write sent after killed_N, None when no write was acknowledged after it
    (e.g. the kill came after the load ended)."""
    marks = summary.get("marks", {})
    after = summary.get("first_ack_after", {})
    out: list[dict[str, Any]] = []
    n = 1
    while f"kill_{n}" in marks:
        gap = after.get(f"killed_{n}")
        seconds = None
        if gap is not None and f"killed_{n}" in marks:
            seconds = round(gap + marks[f"killed_{n}"] - marks[f"kill_{n}"], 3)
        out.append({"kill": n, "failover_s": seconds})
        n += 1
    return out


def add_failovers(summary: dict[str, Any]) -> None:
    """Adds failovers, kills_measured and failover_max_s (None if any kill has no figure)."""
    rows = failovers(summary)
    figures = [r["failover_s"] for r in rows]
    summary["failovers"] = rows
    summary["kills_measured"] = sum(1 for f in figures if f is not None)
    summary["failover_max_s"] = (
        max(figures) if figures and all(f is not None for f in figures) else None
    )


def judge(
    fault: str, summary: dict[str, Any], facts: dict[str, Any], targets: dict[str, float]
) -> list[dict[str, Any]]:
    """Every check of the fault, each with its target, the measured figure and whether it was
    met. A figure that was not measured (e.g. the service never came back) is a miss."""
    if fault not in TARGET_CHECKS:
        raise ValueError(f"unknown fault {fault!r}: one of {', '.join(FAULTS)}")
    checks: list[dict[str, Any]] = []
    for key in NO_LOSS:
        measured = summary.get(key)
        checks.append(
            {
                "name": key.replace("_", " "),
                "target": "<= 0",
                "measured": measured,
                "met": measured is not None and measured <= 0,
            }
        )
    for name, source, key, op, target_key in TARGET_CHECKS[fault]:
        if target_key not in targets:
            raise ValueError(f"plan targets lack {target_key!r} (fault {fault})")
        measured = (summary if source == "ledger" else facts).get(key)
        if op == "is":  # a yes/no fact that must be what the target says
            wanted = bool(targets[target_key])
            met = isinstance(measured, bool) and measured is wanted
            checks.append(
                {"name": name, "target": str(wanted).lower(), "measured": measured, "met": met}
            )
            continue
        target = float(targets[target_key])
        ok = isinstance(measured, int | float) and not isinstance(measured, bool)
        met = ok and COMPARE[op](float(measured), target)
        checks.append(
            {"name": name, "target": f"{op} {target:g}", "measured": measured, "met": bool(met)}
        )
    return checks


def read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text() or "{}") if path.exists() else {}


def run_plan(plan: dict[str, Any]) -> dict[str, Any]:
    args = ledger.parser().parse_args(
        [
            "--url",
            str(plan["url"]),
            "--counter",
            str(plan["counter"]),
            "--rate",
            str(plan["rate"]),
            "--duration",
            str(plan["duration"]),
            "--timeout",
            str(plan.get("timeout", 5)),
            "--marks",
            str(plan["marks"]),
            "--out",
            str(plan["out"]),
        ]
    )
    summary = ledger.run(args)
    add_failovers(summary)
    # The role writes its facts once the lab recovered; give it a moment past the load.
    facts_path = Path(plan["facts"])
    deadline = time.monotonic() + float(plan.get("facts_wait", 60))
    facts = read_json(facts_path)
    while not facts.get("done") and time.monotonic() < deadline:
        time.sleep(1)
        facts = read_json(facts_path)
    checks = judge(str(plan["fault"]), summary, facts, dict(plan["targets"]))
    return {
        "fault": plan["fault"],
        "ledger": summary,
        "facts": facts,
        "checks": checks,
        "met": all(c["met"] for c in checks),
    }


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m loadtest.chaos", description=__doc__.split("\n")[0])
    p.add_argument("--plan", type=Path, required=True, help="the drill's plan (JSON)")
    args = p.parse_args(argv)
    plan = json.loads(args.plan.read_text())
    try:
        result = run_plan(plan)
    except (RuntimeError, ValueError, KeyError) as exc:
        print(f"chaos: {exc}")
        return 2
    out = Path(plan["out"])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    s = result["ledger"]
    print(
        f"chaos {result['fault']}: {s['requests']} requests, {s['failed']} failed, "
        f"{s['in_doubt']} in doubt, lost {s['lost']}, outage {s['outage_s']} s; "
        + ", ".join(f"{c['name']} {c['measured']} ({c['target']})" for c in result["checks"])
        + ("; targets met" if result["met"] else "; TARGET MISSED")
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
