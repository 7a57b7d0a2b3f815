"""Locust users for the counter app.

Configuration comes from environment variables only (``python -m loadtest run PROFILE`` sets
them from loadtest/profiles.yml):

- ``LOADTEST_WAIT_MIN`` / ``LOADTEST_WAIT_MAX``: think time in seconds between two tasks of a
  user (default 1 and 2, the report's values; 0 and 0 for a closed loop without think time).
- ``LOADTEST_WEIGHTS``: task weights, e.g. ``page=3,read=3,incr=3,list=1,crud=1``; a task left
  out gets weight 0.
- ``LOADTEST_COUNTERS``: how many counter names the users share (default 20).
- ``LOADTEST_SHAPE=step`` opts in to the stepped load shape (a locustfile with an active
  LoadTestShape always uses it, so it is inactive unless asked for), configured by
  ``LOADTEST_STEP_USERS``, ``LOADTEST_STEP_SECONDS``, ``LOADTEST_STEP_MAX_USERS`` and
  ``LOADTEST_STEP_SPAWN_RATE``.
- ``LOADTEST_INSTANCES_FILE``: if set, a JSON file ``{X-Instance value: responses}`` written
  when the test stops (shows how the load was spread over the replicas).

Requests carry stable names (``/api/counters/[name]``) so locust aggregates them.
"""

from __future__ import annotations

import json
import math
import os
import random
import uuid
from collections import Counter
from typing import Any

from locust import FastHttpUser, LoadTestShape, between, events

TASK_NAMES: tuple[str, ...] = ("page", "read", "incr", "list", "crud")
DEFAULT_WEIGHTS = "page=3,read=3,incr=3,list=1,crud=1"
COUNTER_NAME = "/api/counters/[name]"


def env_float(name: str, default: float) -> float:
    """A float from the environment, with a clear error on garbage."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None


def parse_weights(spec: str) -> dict[str, int]:
    """Parse ``page=3,read=1`` into weights for every task (missing tasks get 0)."""
    weights = dict.fromkeys(TASK_NAMES, 0)
    for item in filter(None, (part.strip() for part in spec.split(","))):
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or key not in weights:
            raise ValueError(
                f"LOADTEST_WEIGHTS: bad item {item!r} (tasks: {', '.join(TASK_NAMES)})"
            )
        try:
            weights[key] = int(value)
        except ValueError:
            raise ValueError(f"LOADTEST_WEIGHTS: weight of {key!r} is not an integer") from None
        if weights[key] < 0:
            raise ValueError(f"LOADTEST_WEIGHTS: weight of {key!r} is negative")
    if not any(weights.values()):
        raise ValueError("LOADTEST_WEIGHTS: at least one task needs a weight > 0")
    return weights


WAIT_MIN = env_float("LOADTEST_WAIT_MIN", 1.0)
WAIT_MAX = env_float("LOADTEST_WAIT_MAX", 2.0)
if WAIT_MIN < 0 or WAIT_MAX < WAIT_MIN:
    raise ValueError(
        f"need 0 <= LOADTEST_WAIT_MIN <= LOADTEST_WAIT_MAX, got {WAIT_MIN}, {WAIT_MAX}"
    )
WEIGHTS = parse_weights(os.environ.get("LOADTEST_WEIGHTS", DEFAULT_WEIGHTS))
COUNTERS = max(1, int(env_float("LOADTEST_COUNTERS", 20)))

instances: Counter[str] = Counter()


@events.request.add_listener
def count_instance(response: Any = None, **_kwargs: Any) -> None:
    """Tally the X-Instance header: which replica answered."""
    headers = getattr(response, "headers", None)
    if headers:
        instance = headers.get("X-Instance") or headers.get("x-instance")
        if instance:
            instances[str(instance)] += 1


@events.test_stop.add_listener
def write_instances(**_kwargs: Any) -> None:
    """Write the X-Instance tally if LOADTEST_INSTANCES_FILE asks for it."""
    path = os.environ.get("LOADTEST_INSTANCES_FILE")
    if path:
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(dict(instances.most_common()), handle, indent=2)


def _why(response: Any) -> str | Exception:
    """Failure reason: the connection error if there was one, else the status code."""
    error = getattr(response, "error", None)
    return error if error else f"status {response.status_code}"


def _counter_name() -> str:
    return f"lt-{random.randrange(COUNTERS)}"


def page(user: CounterUser) -> None:
    """GET / : the page that says how many times it was seen."""
    user.client.get("/", name="/")


def read(user: CounterUser) -> None:
    """GET one counter; 404 (not created yet) is a valid answer."""
    with user.client.get(
        f"/api/counters/{_counter_name()}", name=COUNTER_NAME, catch_response=True
    ) as response:
        if response.status_code in (200, 404):
            response.success()
        else:
            response.failure(_why(response))


def incr(user: CounterUser) -> None:
    """POST /api/counters/<name>/incr."""
    user.client.post(
        f"/api/counters/{_counter_name()}/incr", json={"by": 1}, name=f"{COUNTER_NAME}/incr"
    )


def listing(user: CounterUser) -> None:
    """GET /api/counters."""
    user.client.get("/api/counters", name="/api/counters")


def crud(user: CounterUser) -> None:
    """PUT a fresh counter, read it back (value must match), DELETE it: three requests."""
    name = f"lt-tmp-{uuid.uuid4().hex[:12]}"
    value = random.randint(1, 1_000_000)
    path = f"/api/counters/{name}"
    user.client.put(path, json={"value": value}, name=COUNTER_NAME)
    with user.client.get(path, name=COUNTER_NAME, catch_response=True) as response:
        if response.status_code != 200:
            response.failure(_why(response))
        else:
            try:
                got = response.json().get("value")
            except (ValueError, AttributeError, TypeError):
                got = None
            if got != value:
                response.failure(f"read back {got!r}, wrote {value}")
    user.client.delete(path, name=COUNTER_NAME)


TASKS = {"page": page, "read": read, "incr": incr, "list": listing, "crud": crud}


class CounterUser(FastHttpUser):
    """A user of the counter app: weighted task mix with uniform think time."""

    wait_time = between(WAIT_MIN, WAIT_MAX)
    tasks = {TASKS[name]: weight for name, weight in WEIGHTS.items() if weight > 0}  # noqa: RUF012


class StepLoadShape(LoadTestShape):
    """``step_users`` more users every ``step_seconds`` up to ``max_users``, then stop.

    Inactive (abstract) unless LOADTEST_SHAPE=step: locust always uses an active shape class
    found in the locustfile, which would override -u/-r/-t for every other profile.
    """

    abstract = os.environ.get("LOADTEST_SHAPE", "").strip().lower() != "step"
    step_users = max(1, int(env_float("LOADTEST_STEP_USERS", 10)))
    step_seconds = env_float("LOADTEST_STEP_SECONDS", 10.0)
    max_users = max(1, int(env_float("LOADTEST_STEP_MAX_USERS", 100)))
    spawn_rate = env_float("LOADTEST_STEP_SPAWN_RATE", float(step_users))

    def tick(self) -> tuple[int, float] | None:
        """Users and spawn rate for now; None ends the test after the last step."""
        run_time = self.get_run_time()
        steps = math.ceil(self.max_users / self.step_users)
        if run_time >= steps * self.step_seconds:
            return None
        step = int(run_time // self.step_seconds) + 1
        return min(self.max_users, step * self.step_users), self.spawn_rate
