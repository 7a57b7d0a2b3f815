"""Load profiles: read ``profiles.yml``, validate it, turn a profile into a locust command.

The locustfile only reads ``LOADTEST_*`` environment variables; this module is the one place
that maps a named profile onto those variables and onto locust's command-line options.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

PROFILES_FILE = Path(__file__).with_name("profiles.yml")
LOCUSTFILE = Path(__file__).with_name("locustfile.py")

# Task names known to loadtest/locustfile.py (its TASK_NAMES must stay equal to this).
TASK_NAMES: tuple[str, ...] = ("page", "read", "incr", "list", "crud")
# Requests each task sends per iteration (crud: PUT, GET, DELETE).
TASK_REQUESTS: dict[str, int] = {"page": 1, "read": 1, "incr": 1, "list": 1, "crud": 3}


@dataclass(frozen=True)
class StepShape:
    """Stepped load: ``step_users`` more users every ``step_seconds``."""

    step_users: int
    step_seconds: float
    warmup_s: float = 0.0  # left out of each step's figures (spawning, queues filling)

    def steps(self, max_users: int) -> int:
        """Number of steps needed to reach ``max_users``."""
        return math.ceil(max_users / self.step_users)


@dataclass(frozen=True)
class Profile:
    """One validated load profile."""

    name: str
    users: int
    spawn_rate: float
    run_time_s: float
    wait_min_s: float
    wait_max_s: float
    weights: dict[str, int] = field(default_factory=dict)
    step: StepShape | None = None
    description: str = ""
    pacing_s: float = 0.0  # > 0: one task per user every pacing_s (constant rate), no think time

    @property
    def think_mean_s(self) -> float:
        """Mean think time of a user: the mean of a uniform wait between min and max."""
        if self.pacing_s > 0:
            return 0.0
        return (self.wait_min_s + self.wait_max_s) / 2

    @property
    def requests_per_iteration(self) -> float:
        """Mean requests a user sends between two think times, from the task weights."""
        total = sum(self.weights.values())
        sent = sum(weight * TASK_REQUESTS[task] for task, weight in self.weights.items())
        return sent / total

    @property
    def planned_duration_s(self) -> float:
        """How long the run lasts: the steps for a stepped profile, else ``run_time``."""
        if self.step is not None:
            return self.step.steps(self.users) * self.step.step_seconds
        return self.run_time_s

    def locust_env(self) -> dict[str, str]:
        """``LOADTEST_*`` variables for loadtest/locustfile.py."""
        env = {
            "LOADTEST_WAIT_MIN": _num(self.wait_min_s),
            "LOADTEST_WAIT_MAX": _num(self.wait_max_s),
            "LOADTEST_WEIGHTS": ",".join(f"{k}={v}" for k, v in self.weights.items()),
            "LOADTEST_SHAPE": "",
            "LOADTEST_PACING": _num(self.pacing_s),
        }
        if self.step is not None:
            env |= {
                "LOADTEST_SHAPE": "step",
                "LOADTEST_STEP_USERS": str(self.step.step_users),
                "LOADTEST_STEP_SECONDS": _num(self.step.step_seconds),
                "LOADTEST_STEP_WARMUP": _num(self.step.warmup_s),
                "LOADTEST_STEP_MAX_USERS": str(self.users),
                "LOADTEST_STEP_SPAWN_RATE": _num(self.spawn_rate),
            }
        return env

    def locust_args(self, host: str, csv_prefix: str | Path) -> list[str]:
        """Locust options for a headless run writing ``<csv_prefix>_*.csv``.

        A stepped profile gets no ``-u/-r/-t``: its shape class drives the run (locust
        warns that these options are ignored when a shape is active).
        """
        args = [
            "-f",
            str(LOCUSTFILE),
            "--headless",
            "--only-summary",
            "--host",
            host,
            "--csv",
            str(csv_prefix),
            # Per-entry history rows; it also makes the Aggregated history percentiles the
            # current (10 s window) values instead of cumulative ones.
            "--csv-full-history",
            # Failed requests are data (error %), not a failed run.
            "--exit-code-on-error",
            "0",
        ]
        if self.step is None:
            args += ["-u", str(self.users), "-r", _num(self.spawn_rate)]
            args += ["-t", f"{math.ceil(self.run_time_s)}s"]
        return args


def _num(value: float) -> str:
    """Format a number without a useless trailing ``.0``."""
    return f"{value:g}"


def _require_number(profile: str, data: Mapping[str, Any], key: str) -> float:
    if key not in data:
        raise ValueError(f"profile {profile!r}: field {key!r} is missing")
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"profile {profile!r}: {key} must be a number, got {value!r}")
    return float(value)


def _require_int(profile: str, data: Mapping[str, Any], key: str) -> int:
    value = _require_number(profile, data, key)
    if not value.is_integer():
        raise ValueError(f"profile {profile!r}: {key} must be an integer, got {data[key]!r}")
    return int(value)


def parse_profile(name: str, data: Mapping[str, Any]) -> Profile:
    """Validate one profile mapping; raise ValueError naming the profile and the field."""
    if not isinstance(data, Mapping):
        raise ValueError(f"profile {name!r}: must be a mapping, got {type(data).__name__}")
    known = {"description", "users", "spawn_rate", "run_time", "wait_min", "wait_max"}
    known |= {"weights", "step", "pacing"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"profile {name!r}: unknown field(s) {', '.join(unknown)}")

    users = _require_int(name, data, "users")
    if users < 1:
        raise ValueError(f"profile {name!r}: users must be >= 1, got {users}")
    spawn_rate = _require_number(name, data, "spawn_rate")
    if spawn_rate <= 0:
        raise ValueError(f"profile {name!r}: spawn_rate must be > 0, got {data['spawn_rate']}")
    run_time = _require_number(name, data, "run_time")
    if run_time <= 0:
        raise ValueError(f"profile {name!r}: run_time must be > 0, got {data['run_time']}")
    wait_min = _require_number(name, data, "wait_min")
    wait_max = _require_number(name, data, "wait_max")
    if wait_min < 0:
        raise ValueError(f"profile {name!r}: wait_min must be >= 0, got {data['wait_min']}")
    if wait_max < wait_min:
        raise ValueError(
            f"profile {name!r}: wait_max ({data['wait_max']}) must be >= wait_min "
            f"({data['wait_min']})"
        )

    raw_weights = data.get("weights", {name: 1 for name in TASK_NAMES})
    if not isinstance(raw_weights, Mapping):
        raise ValueError(f"profile {name!r}: weights must be a mapping of task to weight")
    weights: dict[str, int] = {}
    for task, weight in raw_weights.items():
        if task not in TASK_NAMES:
            raise ValueError(
                f"profile {name!r}: weights has unknown task {task!r} "
                f"(known: {', '.join(TASK_NAMES)})"
            )
        if isinstance(weight, bool) or not isinstance(weight, int) or weight < 0:
            raise ValueError(
                f"profile {name!r}: weights.{task} must be an integer >= 0, got {weight!r}"
            )
        weights[task] = weight
    if not any(weights.values()):
        raise ValueError(f"profile {name!r}: weights must give at least one task a weight > 0")

    step: StepShape | None = None
    if data.get("step") is not None:
        raw_step = data["step"]
        if not isinstance(raw_step, Mapping):
            raise ValueError(f"profile {name!r}: step must be a mapping")
        step_users = _require_int(name, raw_step, "step_users")
        step_seconds = _require_number(name, raw_step, "step_seconds")
        if step_users < 1:
            raise ValueError(f"profile {name!r}: step.step_users must be >= 1, got {step_users}")
        if step_seconds <= 0:
            raise ValueError(
                f"profile {name!r}: step.step_seconds must be > 0, got {raw_step['step_seconds']}"
            )
        unknown_step = sorted(set(raw_step) - {"step_users", "step_seconds", "warmup"})
        if unknown_step:
            raise ValueError(f"profile {name!r}: unknown step field(s) {', '.join(unknown_step)}")
        warmup = float(raw_step.get("warmup", 0) or 0)
        if warmup < 0 or warmup >= step_seconds:
            raise ValueError(
                f"profile {name!r}: step.warmup must be >= 0 and shorter than step_seconds "
                f"({step_seconds:g} s), got {raw_step.get('warmup')!r}"
            )
        step = StepShape(step_users=step_users, step_seconds=step_seconds, warmup_s=warmup)
        needed = step.steps(users) * step_seconds
        if run_time < needed:
            raise ValueError(
                f"profile {name!r}: run_time {run_time:g} s is shorter than the steps need "
                f"({step.steps(users)} steps x {step_seconds:g} s = {needed:g} s)"
            )

    pacing = _require_number(name, data, "pacing") if "pacing" in data else 0.0
    if pacing < 0:
        raise ValueError(f"profile {name!r}: pacing must be >= 0, got {data['pacing']}")
    description = data.get("description", "")
    return Profile(
        name=name,
        users=users,
        spawn_rate=spawn_rate,
        run_time_s=run_time,
        wait_min_s=wait_min,
        wait_max_s=wait_max,
        weights=weights,
        step=step,
        description=str(description).strip(),
        pacing_s=pacing,
    )


def load_profiles(path: str | Path = PROFILES_FILE) -> dict[str, Profile]:
    """Read and validate every profile of a profiles file."""
    with Path(path).open(encoding="utf-8") as handle:
        document = yaml.safe_load(handle)
    if not isinstance(document, Mapping) or not isinstance(document.get("profiles"), Mapping):
        raise ValueError(f"{path}: expected a top-level 'profiles' mapping")
    return {
        str(name): parse_profile(str(name), data) for name, data in document["profiles"].items()
    }


def get_profile(name: str, path: str | Path = PROFILES_FILE) -> Profile:
    """Return one validated profile; ValueError if the name is unknown or the profile bad."""
    with Path(path).open(encoding="utf-8") as handle:
        document = yaml.safe_load(handle)
    profiles = document.get("profiles") if isinstance(document, Mapping) else None
    if not isinstance(profiles, Mapping):
        raise ValueError(f"{path}: expected a top-level 'profiles' mapping")
    if name not in profiles:
        known = ", ".join(sorted(str(key) for key in profiles))
        raise ValueError(f"unknown profile {name!r} (known: {known})")
    return parse_profile(name, profiles[name])
