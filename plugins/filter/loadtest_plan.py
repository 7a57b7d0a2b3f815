"""Filter `loadtest_plan_runs`: the runs of a load-test plan, in the order they run.

Each scenario's think-time profile first (one run each, in the scenarios' order), then the
capacity profile as repetitions that interleave the scenarios (1, 4, 1, 4, ...), so the
machine's drift over the test falls on every scenario alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def loadtest_plan_runs(
    scenarios: Sequence[Mapping[str, Any]],
    profile: str,
    capacity_profile: str = "",
    repetitions: int = 1,
) -> list[dict[str, Any]]:
    """The plan's runs: name (its directory), scenario, replicas, profile, kind."""
    if int(repetitions) < 1:
        raise ValueError(f"loadtest_capacity_repetitions must be >= 1, got {repetitions!r}")
    runs: list[dict[str, Any]] = []
    if profile:
        for scenario in scenarios:
            runs.append(
                {
                    "name": str(scenario["name"]),
                    "scenario": str(scenario["name"]),
                    "replicas": int(scenario["replicas"]),
                    "profile": profile,
                    "kind": "run",
                }
            )
    if capacity_profile:
        for repetition in range(1, int(repetitions) + 1):
            for scenario in scenarios:
                runs.append(
                    {
                        "name": f"{scenario['name']}-capacity-{repetition}",
                        "scenario": str(scenario["name"]),
                        "replicas": int(scenario["replicas"]),
                        "profile": capacity_profile,
                        "kind": "capacity",
                    }
                )
    return runs


class FilterModule:
    """Ansible filter plugin."""

    def filters(self) -> dict[str, Any]:
        return {"loadtest_plan_runs": loadtest_plan_runs}
