"""Hand-written Prometheus metrics (text exposition format 0.0.4).

The registry lives in the process: each gunicorn worker has its own, so one
scrape of ``/metrics`` shows only the worker that answered it (its ``X-Instance``
header and the ``instance`` label of ``counter_app_info`` say which). Sum over
scrapes of all workers, or run one worker per container, for totals.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Iterable

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: Upper bounds (seconds) of the latency histogram buckets; ``+Inf`` is implied.
DEFAULT_BUCKETS: tuple[float, ...] = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)

REQUESTS = "counter_http_requests_total"
DURATION = "counter_http_request_duration_seconds"


def escape_label(value: str) -> str:
    """Escape a label value as the exposition format requires."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def format_value(value: float) -> str:
    """Format a sample value (integers without a decimal point)."""
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def _labels(pairs: Iterable[tuple[str, str]]) -> str:
    return "{" + ",".join(f'{k}="{escape_label(v)}"' for k, v in pairs) + "}"


class _Histogram:
    __slots__ = ("counts", "sum", "total")

    def __init__(self, size: int) -> None:
        self.counts = [0] * size
        self.sum = 0.0
        self.total = 0


class Metrics:
    """Thread-safe request counter and per-endpoint latency histogram."""

    def __init__(self, hostname: str, buckets: Iterable[float] = DEFAULT_BUCKETS) -> None:
        self.hostname = hostname
        self.buckets = tuple(sorted(buckets))
        self.started = time.time()
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, str, str], int] = {}
        self._latency: dict[str, _Histogram] = {}

    @property
    def instance(self) -> str:
        """``hostname:pid`` of the current process (correct after a fork too)."""
        return instance_id(self.hostname)

    def observe(self, endpoint: str, method: str, status: int, seconds: float) -> None:
        """Record one finished request."""
        key = (endpoint, method, str(status))
        with self._lock:
            self._requests[key] = self._requests.get(key, 0) + 1
            hist = self._latency.get(endpoint)
            if hist is None:
                hist = self._latency[endpoint] = _Histogram(len(self.buckets))
            for i, bound in enumerate(self.buckets):
                if seconds <= bound:
                    hist.counts[i] += 1
            hist.sum += seconds
            hist.total += 1

    def render(self) -> str:
        """Return all metrics in the Prometheus text format."""
        with self._lock:
            requests = sorted(self._requests.items())
            latency = sorted(
                (ep, list(h.counts), h.sum, h.total) for ep, h in self._latency.items()
            )
        lines = [
            "# HELP counter_app_info Identity of the process serving this scrape.",
            "# TYPE counter_app_info gauge",
            f"counter_app_info{_labels([('instance', self.instance)])} 1",
            "# HELP counter_process_start_time_seconds Start time of the process (Unix time).",
            "# TYPE counter_process_start_time_seconds gauge",
            f"counter_process_start_time_seconds {format_value(round(self.started, 3))}",
            f"# HELP {REQUESTS} HTTP requests handled by this process.",
            f"# TYPE {REQUESTS} counter",
        ]
        for (endpoint, method, status), count in requests:
            labels = _labels([("endpoint", endpoint), ("method", method), ("status", status)])
            lines.append(f"{REQUESTS}{labels} {count}")
        lines += [
            f"# HELP {DURATION} HTTP request latency in this process, by endpoint.",
            f"# TYPE {DURATION} histogram",
        ]
        for endpoint, counts, total_sum, total in latency:
            for bound, count in zip(self.buckets, counts, strict=True):
                labels = _labels([("endpoint", endpoint), ("le", repr(float(bound)))])
                lines.append(f"{DURATION}_bucket{labels} {count}")
            inf = _labels([("endpoint", endpoint), ("le", "+Inf")])
            lines.append(f"{DURATION}_bucket{inf} {total}")
            ep = _labels([("endpoint", endpoint)])
            lines.append(f"{DURATION}_sum{ep} {format_value(total_sum)}")
            lines.append(f"{DURATION}_count{ep} {total}")
        return "\n".join(lines) + "\n"


def instance_id(hostname: str) -> str:
    """Return ``hostname:pid`` for the current process."""
    return f"{hostname}:{os.getpid()}"
