"""Figures from the run's timeline: every request counted by the second it was sent in.

``locustfile.py`` writes ``timeline.json`` (``LOADTEST_TIMELINE_FILE``): per second the
requests sent, the failed ones and a response-time histogram; the step edges of a stepped run;
the run's start and stop. Locust's own history moves only when a worker reports (every 3 s), so
rates taken from it between two arbitrary instants are off by up to a report's worth of
requests; the timeline's counts are exact at every whole second, so a step or a window counts
exactly the requests sent in it.

A step's figures leave out its warm-up (users spawning, queues filling) and cover the whole
seconds between the end of the warm-up and the next step's start. A time series is cut into
windows of at least the workers' report interval.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

TIMELINE_FILE = "timeline.json"


@dataclass(frozen=True)
class Bucket:
    """The requests sent in one second."""

    count: int
    failures: int
    histogram: dict[int, int]  # response time (ms, rounded as Locust does) -> requests


@dataclass(frozen=True)
class Step:
    """A step of a stepped run: its user count and when it started (epoch seconds)."""

    users: int
    start: float


@dataclass(frozen=True)
class Timeline:
    """A run's timeline (see the module's docstring)."""

    buckets: dict[int, Bucket]
    steps: list[Step]
    started: float | None
    stopped: float | None
    report_interval_s: float = 3.0

    @property
    def first(self) -> int | None:
        """The first second with a request."""
        return min(self.buckets) if self.buckets else None

    @property
    def last(self) -> int | None:
        return max(self.buckets) if self.buckets else None


@dataclass(frozen=True)
class Totals:
    """Requests, failures and percentiles over a span of whole seconds."""

    start: int
    end: int  # exclusive
    requests: int
    failures: int
    histogram: dict[int, int]

    @property
    def seconds(self) -> int:
        return self.end - self.start

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    @property
    def error_pct(self) -> float:
        return 100.0 * self.failures / self.requests if self.requests else 0.0

    def percentile(self, fraction: float) -> float | None:
        return percentile_ms(self.histogram, fraction)


def percentile_ms(histogram: dict[int, int], fraction: float) -> float | None:
    """The smallest recorded time with at least ``fraction`` of the requests at or under it."""
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


def parse_timeline(document: dict) -> Timeline:
    """A timeline from the JSON document locustfile.py writes."""
    if not isinstance(document, dict) or "buckets" not in document:
        raise ValueError("not a timeline: no 'buckets'")
    buckets = {
        int(second): Bucket(
            count=int(count),
            failures=int(failures),
            histogram={int(ms): int(n) for ms, n in histogram.items()},
        )
        for second, (count, failures, histogram) in document["buckets"].items()
    }
    steps = [Step(int(step["users"]), float(step["start"])) for step in document.get("steps", [])]
    return Timeline(
        buckets=buckets,
        steps=sorted(steps, key=lambda step: step.start),
        started=document.get("started"),
        stopped=document.get("stopped"),
        report_interval_s=float(document.get("report_interval_s", 3.0)),
    )


def read_timeline(run_dir: str | Path) -> Timeline | None:
    """The timeline of a run directory, None when the run wrote none."""
    path = Path(run_dir) / TIMELINE_FILE
    if not path.exists():
        return None
    return parse_timeline(json.loads(path.read_text(encoding="utf-8")))


def totals(timeline: Timeline, start: int, end: int) -> Totals:
    """The requests sent in the whole seconds ``start`` <= s < ``end``."""
    requests = failures = 0
    histogram: Counter[int] = Counter()
    for second in range(start, end):
        bucket = timeline.buckets.get(second)
        if bucket is None:
            continue
        requests += bucket.count
        failures += bucket.failures
        histogram.update(bucket.histogram)
    return Totals(start, end, requests, failures, dict(histogram))


def span(timeline: Timeline) -> tuple[int, int] | None:
    """The whole seconds of the run: from its start (or first request) to its stop (or the
    second after the last request), the partial seconds at both ends left out."""
    if timeline.first is None or timeline.last is None:
        return None
    begin = math.ceil(timeline.started) if timeline.started else timeline.first
    end = math.floor(timeline.stopped) if timeline.stopped else timeline.last + 1
    return (begin, end) if end > begin else None


def windows(timeline: Timeline, window_s: float) -> list[Totals]:
    """The run cut into consecutive windows of ``window_s`` seconds (at least the workers'
    report interval, rounded up to whole seconds) from its start; a last, shorter remainder
    is left out (a run shorter than one window is one window)."""
    if window_s <= 0:
        raise ValueError("window_s must be > 0")
    bounds = span(timeline)
    if bounds is None:
        return []
    width = max(1, math.ceil(max(window_s, timeline.report_interval_s)))
    begin, end = bounds
    if end - begin < width:  # a run shorter than a window: one window, the whole run
        return [totals(timeline, begin, end)]
    return [
        totals(timeline, start, start + width) for start in range(begin, end - width + 1, width)
    ]


@dataclass(frozen=True)
class StepTotals:
    """One step's figures, its warm-up left out."""

    users: int
    start: float  # the step's start, epoch seconds
    totals: Totals


def step_totals(timeline: Timeline, warmup_s: float = 0.0) -> list[StepTotals]:
    """Each step's requests from the end of its warm-up to the next step's start (the last
    step: to the run's stop), whole seconds only. Steps left with no whole second are left
    out."""
    if warmup_s < 0:
        raise ValueError("warmup_s must be >= 0")
    stopped = timeline.stopped
    if stopped is None and timeline.last is not None:
        stopped = float(timeline.last + 1)
    result: list[StepTotals] = []
    for index, step in enumerate(timeline.steps):
        end_time = timeline.steps[index + 1].start if index + 1 < len(timeline.steps) else stopped
        if end_time is None:
            continue
        begin = math.ceil(step.start + warmup_s)
        end = math.floor(end_time)
        if end <= begin:
            continue
        result.append(StepTotals(step.users, step.start, totals(timeline, begin, end)))
    return result


@dataclass(frozen=True)
class StateWindow:
    """The requests sent while something switched on and off under a steady load was in one
    state (``on``), its settling time left out."""

    on: bool
    totals: Totals


def state_windows(
    timeline: Timeline,
    switches: Sequence[tuple[float, bool]],
    settle_s: float = 0.0,
    lead_s: float = 0.0,
    min_s: int = 5,
) -> list[StateWindow]:
    """The run cut at each switch (epoch seconds, and the state from then on) into windows of
    whole seconds: each window's first ``settle_s`` and the run's first ``lead_s`` left out,
    windows outside the run cut to it, windows left with fewer than ``min_s`` seconds
    dropped."""
    if settle_s < 0 or lead_s < 0:
        raise ValueError("settle_s and lead_s must be >= 0")
    bounds = span(timeline)
    if bounds is None:
        return []
    first, last = math.ceil(bounds[0] + lead_s), bounds[1]
    result: list[StateWindow] = []
    for index, (at, on) in enumerate(switches):
        until = switches[index + 1][0] if index + 1 < len(switches) else float(last)
        begin = max(math.ceil(at + settle_s), first)
        end = min(math.floor(until), last)
        if end - begin >= min_s:
            result.append(StateWindow(on, totals(timeline, begin, end)))
    return result


def switched_cost(windows: Sequence[StateWindow]) -> list[float]:
    """What being on costs, in % of the throughput when off: one estimate per window whose
    two neighbours are in the other state, against their mean (a drift of the machine's
    speed that is linear over the three windows cancels)."""
    estimates: list[float] = []
    for before, window, after in zip(windows, windows[1:], windows[2:], strict=False):
        if before.on == window.on or after.on == window.on:
            continue
        around = (before.totals.rps + after.totals.rps) / 2
        on, off = (window.totals.rps, around) if window.on else (around, window.totals.rps)
        if off > 0:
            estimates.append(100.0 * (off - on) / off)
    return estimates


def median(values: Iterable[float]) -> float:
    """The median (the mean of the middle two for an even count)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("median of nothing")
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def spread(values: Sequence[float]) -> tuple[float, float, float]:
    """(median, min, max)."""
    return median(values), min(values), max(values)
