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
- ``LOADTEST_TIMELINE_FILE``: if set, a JSON file of every request counted by the second it
  was sent in (count, failures and a response-time histogram per second; workers hand theirs
  to the master with each report), the step edges of a stepped run and the start and stop
  times, written when the runner quits. These counts are exact at any edge, unlike Locust's
  history, which moves only when a worker reports (every 3 s).
- ``LOADTEST_PACING``: seconds between the starts of a user's tasks (``constant_pacing``)
  instead of the think time: a known, constant rate of users / pacing.

Requests carry stable names (``/api/counters/[name]``) so locust aggregates them.
"""

from __future__ import annotations

import json
import math
import os
import random
import time
import uuid
from collections import Counter
from typing import Any

import psutil
from locust import FastHttpUser, LoadTestShape, between, constant_pacing, events
from locust.runners import WORKER_REPORT_INTERVAL, WorkerRunner

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
PACING = env_float("LOADTEST_PACING", 0.0)

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


def round_ms(value: float) -> int:
    """A response time rounded the way Locust keeps it: 1 ms under 100 ms, then 2
    significant digits (10 ms under 1 s, 100 ms under 10 s, 1 s above)."""
    if value < 100:
        return round(value)
    if value < 1000:
        return round(value, -1)
    if value < 10000:
        return round(value, -2)
    return round(value, -3)


class Timeline:
    """Requests by the second they were sent in, the steps and the run's start and stop.

    A bucket is [count, failures, {rounded ms: count}]. A worker hands its buckets to the
    master with every report and starts empty; the master (or a single process) holds the sum.
    """

    def __init__(self) -> None:
        self.buckets: dict[int, list[Any]] = {}
        self.steps: list[dict[str, float]] = []
        self.started: float | None = None
        self.stopped: float | None = None

    def add(self, second: int, count: int, failures: int, histogram: dict[Any, int]) -> None:
        bucket = self.buckets.setdefault(second, [0, 0, Counter()])
        bucket[0] += count
        bucket[1] += failures
        bucket[2].update({int(ms): n for ms, n in histogram.items()})

    def record(self, start_time: float, response_ms: float, failed: bool) -> None:
        self.add(int(start_time), 1, int(failed), {round_ms(response_ms): 1})

    def take(self) -> dict[str, list[Any]]:
        """The buckets as JSON, emptied (a worker's report)."""
        data = {str(second): [b[0], b[1], dict(b[2])] for second, b in self.buckets.items()}
        self.buckets.clear()
        return data

    def merge(self, data: dict[str, list[Any]]) -> None:
        for second, (count, failures, histogram) in data.items():
            self.add(int(second), int(count), int(failures), histogram)

    def document(self) -> dict[str, Any]:
        return {
            "bucket_s": 1,
            "report_interval_s": WORKER_REPORT_INTERVAL,
            "started": self.started,
            "stopped": self.stopped,
            "steps": self.steps,
            "buckets": {
                str(second): [b[0], b[1], {str(ms): n for ms, n in sorted(b[2].items())}]
                for second, b in sorted(self.buckets.items())
            },
        }


timeline = Timeline()


@events.request.add_listener
def count_request(
    start_time: float | None = None,
    response_time: float = 0.0,
    exception: Any = None,
    **_kwargs: Any,
) -> None:
    """Count the request in the second it was sent (the timeline)."""
    if start_time is not None:
        timeline.record(start_time, float(response_time or 0.0), exception is not None)


@events.report_to_master.add_listener
def send_timeline(data: dict[str, Any], **_kwargs: Any) -> None:
    """On a worker: hand the buckets since the last report to the master."""
    data["loadtest_timeline"] = timeline.take()


@events.worker_report.add_listener
def collect_timeline(data: dict[str, Any], **_kwargs: Any) -> None:
    """On the master: add a worker's buckets."""
    timeline.merge(data.get("loadtest_timeline") or {})


@events.test_start.add_listener
def mark_start(environment: Any = None, **_kwargs: Any) -> None:
    """The run's start (the master's or the single process's clock)."""
    if not isinstance(getattr(environment, "runner", None), WorkerRunner):
        timeline.started = timeline.started or time.time()


@events.test_stop.add_listener
def mark_stop(environment: Any = None, **_kwargs: Any) -> None:
    if not isinstance(getattr(environment, "runner", None), WorkerRunner):
        timeline.stopped = time.time()


@events.quitting.add_listener
def write_timeline(environment: Any = None, **_kwargs: Any) -> None:
    """Write LOADTEST_TIMELINE_FILE when the master or single process quits (after the
    workers' last reports)."""
    path = os.environ.get("LOADTEST_TIMELINE_FILE")
    if not path or isinstance(getattr(environment, "runner", None), WorkerRunner):
        return
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(timeline.document(), handle)


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

    wait_time = constant_pacing(PACING) if PACING > 0 else between(WAIT_MIN, WAIT_MAX)
    tasks = {TASKS[name]: weight for name, weight in WEIGHTS.items() if weight > 0}  # noqa: RUF012

    def __init__(self, environment: Any) -> None:
        # A worker elsewhere (a Swarm service) reaches the target by another address than
        # the master's --host, which the master hands to every worker.
        if TARGET_HOST:
            self.host = TARGET_HOST
        super().__init__(environment)


def percentile_ms(histogram: dict[int, int], fraction: float) -> float | None:
    """The smallest recorded time with at least ``fraction`` of the requests at or under it.

    The same as loadtest.timeline.percentile_ms: this file is shipped alone into the Swarm
    workers' image, so it imports nothing of the package."""
    total = sum(histogram.values())
    if total <= 0:
        return None
    wanted = math.ceil(fraction * total)
    seen = 0
    for ms in sorted(histogram):
        seen += histogram[ms]
        if seen >= wanted:
            return float(ms)
    return float(max(histogram))


class StepLoadShape(LoadTestShape):
    """``step_users`` more users every ``step_seconds`` up to ``max_users``, then stop.

    Inactive (abstract) unless LOADTEST_SHAPE=step: locust always uses an active shape class
    found in the locustfile, which would override -u/-r/-t for every other profile.

    Each step's start goes into the timeline. With ``LOADTEST_STOP_P99_MS`` (and
    ``LOADTEST_STOP_ERROR_PCT``, default 1) the run also ends at the first step that broke
    that SLO: the p99 or the error rate of the requests sent in the step after its warm-up
    (``LOADTEST_STEP_WARMUP``), as far as the workers have reported them. More users would
    only queue.
    """

    abstract = os.environ.get("LOADTEST_SHAPE", "").strip().lower() != "step"
    step_users = max(1, int(env_float("LOADTEST_STEP_USERS", 10)))
    step_seconds = env_float("LOADTEST_STEP_SECONDS", 10.0)
    step_warmup = env_float("LOADTEST_STEP_WARMUP", 0.0)
    max_users = max(1, int(env_float("LOADTEST_STEP_MAX_USERS", 100)))
    spawn_rate = env_float("LOADTEST_STEP_SPAWN_RATE", float(step_users))
    stop_p99_ms = env_float("LOADTEST_STOP_P99_MS", 0.0)
    stop_error_pct = env_float("LOADTEST_STOP_ERROR_PCT", 1.0)

    def __init__(self) -> None:
        super().__init__()
        self._step = 0

    def _step_broke_slo(self) -> bool:
        """Whether the step that just ended broke the stop SLO (when one is set)."""
        if self.stop_p99_ms <= 0 or not timeline.steps:
            return False
        begin = math.ceil(timeline.steps[-1]["start"] + self.step_warmup)
        requests = failures = 0
        histogram: Counter[int] = Counter()
        for second, (count, failed, times) in list(timeline.buckets.items()):
            if second >= begin:
                requests += count
                failures += failed
                histogram.update(times)
        if requests <= 0:
            return False
        p99 = percentile_ms(histogram, 0.99) or 0.0
        return p99 > self.stop_p99_ms or 100.0 * failures / requests > self.stop_error_pct

    def tick(self) -> tuple[int, float] | None:
        """Users and spawn rate for now; None ends the test after the last step."""
        run_time = self.get_run_time()
        steps = math.ceil(self.max_users / self.step_users)
        if run_time >= steps * self.step_seconds:
            return None
        step = int(run_time // self.step_seconds) + 1
        users = min(self.max_users, step * self.step_users)
        if step != self._step:
            if self._step and self._step_broke_slo():
                return None
            self._step = step
            timeline.steps.append({"users": users, "start": time.time()})
        return users, self.spawn_rate
