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
  ``LOADTEST_STEP_SPAWN_RATE``; ``LOADTEST_STOP_P99_MS`` / ``LOADTEST_STOP_ERROR_PCT`` end
  it at the first step over that SLO.
- ``LOADTEST_INSTANCES_FILE``: if set, a JSON file ``{X-Instance value: responses}`` written
  when the test stops (shows how the load was spread over the replicas). Distributed, the
  workers report their tallies to the master, which writes the sum.
- ``LOADTEST_WORKER_CPU_FILE``: on a distributed master, a JSON file ``{worker id: mean CPU
  %}`` from the CPU readings the workers send with their reports (remote workers included).
- ``LOADTEST_TARGET_HOST``: base URL this process's users hit instead of ``--host`` (a
  worker on another host that reaches the target by another address).

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

import psutil
from locust import FastHttpUser, LoadTestShape, between, events
from locust.runners import WorkerRunner

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

TARGET_HOST = os.environ.get("LOADTEST_TARGET_HOST", "").strip() or None

instances: Counter[str] = Counter()
# Distributed runs: each worker's CPU (% of one core between two of its reports, psutil) as
# the master hears it in the workers' reports, keyed by worker id.
worker_cpu: dict[str, list[float]] = {}
_own_process = psutil.Process()
_cpu_started = [False]


@events.request.add_listener
def count_instance(response: Any = None, **_kwargs: Any) -> None:
    """Tally the X-Instance header: which replica answered."""
    headers = getattr(response, "headers", None)
    if headers:
        instance = headers.get("X-Instance") or headers.get("x-instance")
        if instance:
            instances[str(instance)] += 1


def _write_instances() -> None:
    path = os.environ.get("LOADTEST_INSTANCES_FILE")
    if path:
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(dict(instances.most_common()), handle, indent=2)


def _write_worker_cpu() -> None:
    path = os.environ.get("LOADTEST_WORKER_CPU_FILE")
    if path:
        means = {key: sum(values) / len(values) for key, values in worker_cpu.items() if values}
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(means, handle, indent=2)


@events.report_to_master.add_listener
def send_instances(data: dict[str, Any], **_kwargs: Any) -> None:
    """On a worker: hand the tally since the last report, and the CPU, to the master."""
    data["loadtest_instances"] = dict(instances)
    instances.clear()
    # CPU since the previous report (psutil; the first call only starts the measurement).
    cpu = _own_process.cpu_percent(None)
    if _cpu_started[0]:
        data["loadtest_cpu"] = cpu
    _cpu_started[0] = True


@events.worker_report.add_listener
def collect_instances(client_id: str, data: dict[str, Any], **_kwargs: Any) -> None:
    """On the master: add a worker's tally. Workers send their last report after the
    master's test_stop, so the file is rewritten with every report that adds to it."""
    tally = data.get("loadtest_instances") or {}
    if tally:
        instances.update(tally)
        _write_instances()
    cpu = data.get("loadtest_cpu")
    # Readings while the worker generates load only: idle reports would dilute the mean.
    if cpu is not None and tally:
        worker_cpu.setdefault(str(client_id), []).append(float(cpu))
        _write_worker_cpu()


@events.test_stop.add_listener
def write_instances(environment: Any = None, **_kwargs: Any) -> None:
    """Write the X-Instance tally if LOADTEST_INSTANCES_FILE asks for it (not on workers:
    the master writes the sum of theirs)."""
    if isinstance(getattr(environment, "runner", None), WorkerRunner):
        return
    _write_instances()


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

    def __init__(self, environment: Any) -> None:
        # A worker elsewhere (a Swarm service) reaches the target by another address than
        # the master's --host, which the master hands to every worker.
        if TARGET_HOST:
            self.host = TARGET_HOST
        super().__init__(environment)


class StepLoadShape(LoadTestShape):
    """``step_users`` more users every ``step_seconds`` up to ``max_users``, then stop.

    Inactive (abstract) unless LOADTEST_SHAPE=step: locust always uses an active shape class
    found in the locustfile, which would override -u/-r/-t for every other profile.

    With ``LOADTEST_STOP_P99_MS`` (and ``LOADTEST_STOP_ERROR_PCT``, default 1) the run also
    ends at the first step that broke that SLO: its p99 (Locust's current 10 s window) above
    the limit or its own error rate above the limit. More users would only queue.
    """

    abstract = os.environ.get("LOADTEST_SHAPE", "").strip().lower() != "step"
    step_users = max(1, int(env_float("LOADTEST_STEP_USERS", 10)))
    step_seconds = env_float("LOADTEST_STEP_SECONDS", 10.0)
    max_users = max(1, int(env_float("LOADTEST_STEP_MAX_USERS", 100)))
    spawn_rate = env_float("LOADTEST_STEP_SPAWN_RATE", float(step_users))
    stop_p99_ms = env_float("LOADTEST_STOP_P99_MS", 0.0)
    stop_error_pct = env_float("LOADTEST_STOP_ERROR_PCT", 1.0)

    def __init__(self) -> None:
        super().__init__()
        self._step = 0
        self._mark = (0, 0)  # requests, failures when the current step started

    def _step_broke_slo(self) -> bool:
        """Whether the step that just ended broke the stop SLO (when one is set)."""
        if self.stop_p99_ms <= 0 or self.runner is None:
            return False
        total = self.runner.stats.total
        requests = total.num_requests - self._mark[0]
        failures = total.num_failures - self._mark[1]
        p99 = total.get_current_response_time_percentile(0.99) or 0.0
        error_pct = 100.0 * failures / requests if requests > 0 else 0.0
        return p99 > self.stop_p99_ms or error_pct > self.stop_error_pct

    def tick(self) -> tuple[int, float] | None:
        """Users and spawn rate for now; None ends the test after the last step."""
        run_time = self.get_run_time()
        steps = math.ceil(self.max_users / self.step_users)
        if run_time >= steps * self.step_seconds:
            return None
        step = int(run_time // self.step_seconds) + 1
        if step != self._step:
            if self._step and self._step_broke_slo():
                return None
            self._step = step
            if self.runner is not None:
                total = self.runner.stats.total
                self._mark = (total.num_requests, total.num_failures)
        return min(self.max_users, step * self.step_users), self.spawn_rate
