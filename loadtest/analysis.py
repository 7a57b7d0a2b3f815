# ruff: noqa: RUF001  (Russian text: Cyrillic letters are intended)
"""Read Locust's CSV output and turn it into numbers: run summaries, saturation, capacity.

Locust (2.47) writes, for ``--csv PREFIX``:

- ``PREFIX_stats.csv``: one row per (method, name) and an ``Aggregated`` row with the totals
  since the start; columns ``Type, Name, Request Count, Failure Count, Median Response Time,
  Average Response Time, Min Response Time, Max Response Time, Average Content Size,
  Requests/s, Failures/s, 50%, 66%, 75%, 80%, 90%, 95%, 98%, 99%, 99.9%, 99.99%, 100%``.
  It is rewritten every second, so it is the last snapshot, up to a second before the end.
- ``PREFIX_stats_history.csv``: appended every second: ``Timestamp, User Count, Type, Name,
  Requests/s, Failures/s, <percentiles>, Total Request Count, Total Failure Count, ...``.
  Only ``Aggregated`` rows unless ``--csv-full-history``; with it, every entry gets a row and
  the Aggregated percentiles are the current ones (last 10 s window) instead of cumulative.

All times are milliseconds unless a name ends in ``_s``.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from loadtest import timeline as tl

AGGREGATED = "Aggregated"
RUN_META = "run.json"
STATS_SUFFIX = "_stats.csv"
HISTORY_SUFFIX = "_stats_history.csv"

# Thresholds of the saturation verdict.
ACHIEVED_RATIO_OK = 0.9  # achieved / offered at or above this: the users got what they asked
THINK_SHARE_BOUND = 0.5  # think time at least this share of a user's cycle: think-time bound
GENERATOR_CPU_LIMIT = 90.0  # % of one core: a (single-process) locust at this is the limit

THINK_TIME_BOUND = "think-time bound"
SERVER_SATURATED = "server saturated"
GENERATOR_BOUND = "generator bound"


# --------------------------------------------------------------------------- parsing


def _float(value: str | None) -> float | None:
    """A CSV cell as float; None for empty or ``N/A`` (no requests yet)."""
    if value is None:
        return None
    value = value.strip()
    if not value or value.upper() == "N/A":
        return None
    return float(value)


def _num(row: Mapping[str, str], column: str) -> float:
    """A required numeric cell; N/A counts as 0."""
    if column not in row:
        raise ValueError(f"column {column!r} missing (have: {', '.join(row)})")
    value = _float(row[column])
    return 0.0 if value is None else value


def read_csv_rows(path: str | Path) -> list[dict[str, str]]:
    """Rows of a CSV file as dicts keyed by Locust's column names."""
    with Path(path).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def find_csv_files(run_dir: str | Path) -> tuple[Path, Path | None]:
    """The ``*_stats.csv`` of a run directory and its ``*_stats_history.csv`` if present."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"run directory {run_dir} does not exist")
    stats = sorted(
        path for path in run_dir.glob(f"*{STATS_SUFFIX}") if not path.name.endswith(HISTORY_SUFFIX)
    )
    if not stats:
        raise FileNotFoundError(f"no *{STATS_SUFFIX} in {run_dir}")
    if len(stats) > 1:
        names = ", ".join(path.name for path in stats)
        raise ValueError(f"several locust runs in {run_dir} ({names}); one per directory")
    history = stats[0].with_name(stats[0].name[: -len(STATS_SUFFIX)] + HISTORY_SUFFIX)
    return stats[0], history if history.exists() else None


@dataclass(frozen=True)
class StatsEntry:
    """One row of ``*_stats.csv``."""

    method: str
    name: str
    requests: int
    failures: int
    median_ms: float
    mean_ms: float
    min_ms: float
    max_ms: float
    rps: float
    failures_per_s: float
    percentiles: dict[str, float]

    def percentile(self, label: str) -> float:
        """A percentile by Locust's label, e.g. ``"95%"``."""
        return self.percentiles.get(label, 0.0)


def parse_stats(path: str | Path) -> list[StatsEntry]:
    """All rows of a ``*_stats.csv``, the Aggregated row included (last)."""
    entries = []
    for row in read_csv_rows(path):
        percentiles = {
            column: _num(row, column) for column in row if column and column.endswith("%")
        }
        entries.append(
            StatsEntry(
                method=row.get("Type", ""),
                name=row.get("Name", ""),
                requests=int(_num(row, "Request Count")),
                failures=int(_num(row, "Failure Count")),
                median_ms=_num(row, "Median Response Time"),
                mean_ms=_num(row, "Average Response Time"),
                min_ms=_num(row, "Min Response Time"),
                max_ms=_num(row, "Max Response Time"),
                rps=_num(row, "Requests/s"),
                failures_per_s=_num(row, "Failures/s"),
                percentiles=percentiles,
            )
        )
    return entries


def aggregated(entries: Iterable[StatsEntry]) -> StatsEntry:
    """The ``Aggregated`` row: the totals of the run."""
    for entry in entries:
        if entry.name == AGGREGATED:
            return entry
    raise ValueError(f"no {AGGREGATED!r} row in the stats")


@dataclass(frozen=True)
class HistoryRow:
    """One Aggregated row of ``*_stats_history.csv``."""

    timestamp: int
    users: int
    current_rps: float  # Locust's own windowed rate (lags at the start of a run)
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    total_requests: int
    total_failures: int
    mean_ms: float


@dataclass(frozen=True)
class History:
    """The Aggregated rows of a history file, and whether it had per-entry rows too."""

    rows: list[HistoryRow]
    full_history: bool  # True: percentiles are current (10 s window), else cumulative


def parse_history(path: str | Path) -> History:
    """Aggregated rows of a ``*_stats_history.csv``, in time order."""
    rows: list[HistoryRow] = []
    full = False
    for row in read_csv_rows(path):
        if row.get("Name") != AGGREGATED:
            full = True
            continue
        rows.append(
            HistoryRow(
                timestamp=int(_num(row, "Timestamp")),
                users=int(_num(row, "User Count")),
                current_rps=_num(row, "Requests/s"),
                p50_ms=_float(row.get("50%")),
                p95_ms=_float(row.get("95%")),
                p99_ms=_float(row.get("99%")),
                total_requests=int(_num(row, "Total Request Count")),
                total_failures=int(_num(row, "Total Failure Count")),
                mean_ms=_num(row, "Total Average Response Time"),
            )
        )
    rows.sort(key=lambda item: item.timestamp)
    return History(rows=rows, full_history=full)


@dataclass(frozen=True)
class RatePoint:
    """Throughput between two history rows (from the cumulative counts)."""

    elapsed_s: float
    users: int
    rps: float
    failures_per_s: float
    p95_ms: float | None
    p99_ms: float | None


def _measured(value: float | None) -> float | None:
    """A history percentile, None when Locust had no sample for it: ``N/A`` or the 0 it
    writes while its current-window cache is still empty (first seconds of a run)."""
    return value if value else None


def rate_series(rows: Sequence[HistoryRow]) -> list[RatePoint]:
    """Per-interval RPS from the cumulative request counts (exact, unlike Locust's windowed
    ``Requests/s``, which reads 0 for the first seconds). Rows sharing a timestamp merge."""
    points: list[RatePoint] = []
    if not rows:
        return points
    start = rows[0].timestamp
    previous = rows[0]
    for row in rows[1:]:
        seconds = row.timestamp - previous.timestamp
        if seconds <= 0:
            continue
        points.append(
            RatePoint(
                elapsed_s=float(row.timestamp - start),
                users=row.users,
                rps=(row.total_requests - previous.total_requests) / seconds,
                failures_per_s=(row.total_failures - previous.total_failures) / seconds,
                p95_ms=_measured(row.p95_ms),
                p99_ms=_measured(row.p99_ms),
            )
        )
        previous = row
    return points


def mean_users(rows: Sequence[HistoryRow]) -> float | None:
    """Mean user count over the run: the mean of the once-a-second samples from the first
    one with users (ramp-up included, the idle start before spawning excluded)."""
    active = list(itertools.dropwhile(lambda row: row.users <= 0, rows))
    if not active:
        return None
    return sum(row.users for row in active) / len(active)


# --------------------------------------------------------------------------- summary


@dataclass(frozen=True)
class RunSummary:
    """The headline numbers of one run (from the Aggregated row)."""

    name: str
    rps: float
    mean_ms: float
    p50: float
    p95: float
    p99: float
    error_pct: float
    requests: int
    failures: int
    users: int  # peak user count (0 if no history file)
    duration: float  # seconds from the first request to the last one counted
    mean_users: float | None = None  # mean of the per-second samples, ramp-up included
    # From the run's run.json (python -m loadtest run writes it), None when it is missing.
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        return asdict(self)


def summary_from_entries(
    name: str, entries: Sequence[StatsEntry], history: Sequence[HistoryRow] = ()
) -> RunSummary:
    """Build a RunSummary from parsed stats (and optionally history) rows."""
    total = aggregated(entries)
    error_pct = 100.0 * total.failures / total.requests if total.requests else 0.0
    if total.rps > 0:
        duration = total.requests / total.rps
    elif len(history) >= 2:
        duration = float(history[-1].timestamp - history[0].timestamp)
    else:
        duration = 0.0
    return RunSummary(
        name=name,
        rps=total.rps,
        mean_ms=total.mean_ms,
        p50=total.percentile("50%"),
        p95=total.percentile("95%"),
        p99=total.percentile("99%"),
        error_pct=error_pct,
        requests=total.requests,
        failures=total.failures,
        users=max((row.users for row in history), default=0),
        duration=duration,
        mean_users=mean_users(history),
    )


def read_run_meta(run_dir: str | Path) -> dict[str, Any]:
    """The run's run.json (profile, generator CPU, workers, start and stop), {} if missing."""
    path = Path(run_dir) / RUN_META
    if not path.exists():
        return {}
    meta = json.loads(path.read_text(encoding="utf-8"))
    return meta if isinstance(meta, dict) else {}


def summarize_run(run_dir: str | Path, name: str | None = None) -> RunSummary:
    """Read a run directory (one locust ``--csv`` prefix and its run.json) into a RunSummary."""
    stats_path, history_path = find_csv_files(run_dir)
    history = parse_history(history_path).rows if history_path else []
    summary = summary_from_entries(name or Path(run_dir).name, parse_stats(stats_path), history)
    return replace(summary, meta=read_run_meta(run_dir))


def timeline_series(timeline: tl.Timeline, window_s: float) -> list[RatePoint]:
    """Throughput, errors and percentiles per window of the run's timeline: every request in
    the window it was sent in, so a steady load draws a flat line."""
    windows = tl.windows(timeline, window_s)
    if not windows:
        return []
    begin = windows[0].start
    users = {step.start: step.users for step in timeline.steps}
    points = []
    for window in windows:
        current = [count for start, count in users.items() if start < window.end]
        points.append(
            RatePoint(
                elapsed_s=float(window.end - begin),
                users=current[-1] if current else 0,
                rps=window.rps,
                failures_per_s=window.failures / window.seconds,
                p95_ms=window.percentile(0.95),
                p99_ms=window.percentile(0.99),
            )
        )
    return points


def run_series(run_dir: str | Path, window_s: float) -> list[RatePoint]:
    """A run's time series: from its timeline when it has one, else from Locust's history
    (whose rates move only when workers report)."""
    timeline = tl.read_timeline(run_dir)
    if timeline is not None:
        return timeline_series(timeline, window_s)
    _, history_path = find_csv_files(run_dir)
    return rate_series(parse_history(history_path).rows) if history_path else []


# --------------------------------------------------------------------------- saturation


@dataclass(frozen=True)
class SaturationVerdict:
    """What limited a run's throughput, with the numbers behind it."""

    verdict: str  # THINK_TIME_BOUND, SERVER_SATURATED or GENERATOR_BOUND
    users: float
    requests_per_iteration: float
    think_mean_s: float
    mean_response_s: float
    offered_rps: float  # users / (think + response): Little's law for a closed loop
    ceiling_rps: float | None  # users / think: the most these users can ask, at zero latency
    achieved_rps: float
    achieved_ratio: float  # achieved / offered
    think_share: float  # think / (think + response): how much of a cycle is think time
    generator_cpu_pct: float | None
    explanation: str

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        return asdict(self)


def offered_load(
    users: float, think_mean_s: float, mean_response_s: float, requests_per_iteration: float = 1.0
) -> float:
    """Little's law for a closed loop: N users, each sending k requests per cycle of one
    think time and k response times: X = N * k / (Z + k * R)."""
    cycle = think_mean_s + requests_per_iteration * mean_response_s
    if cycle <= 0:
        raise ValueError("think time + response time must be > 0")
    return users * requests_per_iteration / cycle


def saturation_verdict(
    users: float,
    think_mean_s: float,
    mean_response_ms: float,
    achieved_rps: float,
    generator_cpu_pct: float | None = None,
    requests_per_iteration: float = 1.0,
    error_pct: float | None = None,
    lang: str = "en",
) -> SaturationVerdict:
    """Tell apart a run that measured think time, a saturated server, a saturated generator.

    - generator bound: the load generator's CPU is at or above ~90 % of a core; its numbers
      say more about locust than about the system;
    - think-time bound: achieved >= ~90 % of the offered load and think time is most of each
      user's cycle: the users' pacing fixed the throughput, not the system's capacity;
    - server saturated: the rest: the throughput falls well short of the offered load, or the
      response time (queueing at the server) takes most of the cycle.

    ``requests_per_iteration`` is the mean number of requests a task sends between two
    think times (1 for the seed's numbers; a task that sends three requests pays three
    response times and one think time). ``error_pct`` above 1 % adds a warning: failed
    requests count in the throughput (the seed's Kubernetes run: 100 % errors, same RPS).
    """
    if users <= 0:
        raise ValueError("users must be > 0")
    if think_mean_s < 0 or mean_response_ms < 0:
        raise ValueError("think time and response time must be >= 0")
    if requests_per_iteration < 1:
        raise ValueError("requests_per_iteration must be >= 1")
    k = requests_per_iteration
    response_s = mean_response_ms / 1000.0
    offered = offered_load(users, think_mean_s, response_s, k)
    ceiling = users * k / think_mean_s if think_mean_s > 0 else None
    ratio = achieved_rps / offered
    think_share = think_mean_s / (think_mean_s + k * response_s)

    if generator_cpu_pct is not None and generator_cpu_pct >= GENERATOR_CPU_LIMIT:
        verdict = GENERATOR_BOUND
    elif ratio >= ACHIEVED_RATIO_OK and think_share >= THINK_SHARE_BOUND:
        verdict = THINK_TIME_BOUND
    else:
        verdict = SERVER_SATURATED

    numbers = _VerdictNumbers(
        users, k, think_mean_s, response_s, offered, ceiling, achieved_rps, ratio, think_share
    )
    explanation = (_explain_ru if lang == "ru" else _explain_en)(
        verdict, numbers, generator_cpu_pct
    )
    if error_pct is not None and error_pct > 1.0:
        if lang == "ru":
            explanation += (
                f" Внимание: {error_pct:.1f}% запросов завершились ошибкой, а RPS считает и их: "
                "эти цифры не говорят о работающей системе."
            )
        else:
            explanation += (
                f" Warning: {error_pct:.1f}% of the requests failed and the RPS counts them "
                "too: these numbers do not describe a working system."
            )
    return SaturationVerdict(
        verdict=verdict,
        users=users,
        requests_per_iteration=k,
        think_mean_s=think_mean_s,
        mean_response_s=response_s,
        offered_rps=offered,
        ceiling_rps=ceiling,
        achieved_rps=achieved_rps,
        achieved_ratio=ratio,
        think_share=think_share,
        generator_cpu_pct=generator_cpu_pct,
        explanation=explanation,
    )


def _users(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


@dataclass(frozen=True)
class _VerdictNumbers:
    users: float
    k: float
    think_s: float
    response_s: float
    offered: float
    ceiling: float | None
    achieved: float
    ratio: float
    think_share: float


def _explain_en(verdict: str, n: _VerdictNumbers, cpu: float | None) -> str:
    if n.k == 1:
        formula = (
            f"{_users(n.users)} users / ({n.think_s:.3f} s think + {n.response_s:.3f} s response)"
        )
    else:
        formula = (
            f"{_users(n.users)} users x {n.k:.2f} requests per iteration / "
            f"({n.think_s:.3f} s think + {n.k:.2f} x {n.response_s:.3f} s response)"
        )
    math_text = (
        f"Offered load by Little's law: {formula} = {n.offered:.1f} req/s; achieved "
        f"{n.achieved:.1f} req/s = {100 * n.ratio:.0f}% of offered. Think time is "
        f"{100 * n.think_share:.0f}% of each user's cycle."
    )
    cpu_text = f" Load generator CPU: {cpu:.0f}%." if cpu is not None else ""
    if verdict == GENERATOR_BOUND:
        return (
            f"{math_text}{cpu_text} The load generator ran at or above "
            f"{GENERATOR_CPU_LIMIT:.0f}% of a core, so it, not the system under test, limited "
            "the run: its response times include its own queueing. Run more locust worker "
            "processes (--processes) or a lighter user class before reading these numbers."
        )
    if verdict == THINK_TIME_BOUND:
        ceiling = (
            f" Even with zero latency these users could ask at most {_users(n.users)}"
            f"{'' if n.k == 1 else f' x {n.k:.2f}'} / {n.think_s:.3f} s = {n.ceiling:.1f} req/s."
            if n.ceiling is not None
            else ""
        )
        over = (
            " Achieved exceeds the estimate: a locust user runs its first task without "
            "waiting (a burst at spawn, which weighs more in a short run), the tasks may send "
            "more requests per think time than assumed, or the think time was shorter."
            if n.ratio > 1.05
            else ""
        )
        return (
            f"{math_text}{cpu_text}{ceiling}{over} The throughput is the users' pacing, not "
            "the system's capacity: a faster server or more replicas cannot raise it, they "
            "only shorten the response time. To measure capacity, run the capacity profile "
            "(no think time, stepped users)."
        )
    if n.ratio < ACHIEVED_RATIO_OK:
        return (
            f"{math_text}{cpu_text} The system delivered well below what the users asked: "
            "requests waited at the server (queueing, failed or timed-out connections), so "
            "the server side is the limit at this load."
        )
    return (
        f"{math_text}{cpu_text} Response time, not think time, takes most of each user's "
        "cycle: the users mostly wait on the server, so the throughput is the server's "
        "at this concurrency. Adding users would raise the latency, not the throughput; "
        "see the capacity curve for the knee."
    )


def _explain_ru(verdict: str, n: _VerdictNumbers, cpu: float | None) -> str:
    if n.k == 1:
        formula = (
            f"{_users(n.users)} польз. / ({n.think_s:.3f} с паузы + {n.response_s:.3f} с отклика)"
        )
    else:
        formula = (
            f"{_users(n.users)} польз. x {n.k:.2f} запр. за итерацию / ({n.think_s:.3f} с паузы + "
            f"{n.k:.2f} x {n.response_s:.3f} с отклика)"
        )
    math_text = (
        f"Предлагаемая нагрузка по закону Литтла: {formula} = {n.offered:.1f} запр./с; получено "
        f"{n.achieved:.1f} запр./с = {100 * n.ratio:.0f}% от предлагаемой. Пауза составляет "
        f"{100 * n.think_share:.0f}% цикла пользователя."
    )
    cpu_text = f" CPU генератора нагрузки: {cpu:.0f}%." if cpu is not None else ""
    if verdict == GENERATOR_BOUND:
        return (
            f"{math_text}{cpu_text} Генератор нагрузки загружен на {GENERATOR_CPU_LIMIT:.0f}% "
            "ядра и выше: ограничивал он, а не тестируемая система, и его очередь входит во "
            "время отклика. Нужно больше процессов locust (--processes)."
        )
    if verdict == THINK_TIME_BOUND:
        ceiling = (
            f" Даже при нулевой задержке эти пользователи дают не более {_users(n.users)}"
            f"{'' if n.k == 1 else f' x {n.k:.2f}'} / {n.think_s:.3f} с = {n.ceiling:.1f} запр./с."
            if n.ceiling is not None
            else ""
        )
        over = (
            " Получено больше оценки: первую задачу пользователь locust выполняет без паузы "
            "(всплеск при запуске, заметный в коротком прогоне), задачи могут делать больше "
            "запросов на одну паузу, чем предполагалось, или пауза была короче."
            if n.ratio > 1.05
            else ""
        )
        return (
            f"{math_text}{cpu_text}{ceiling}{over} Пропускную способность задаёт темп "
            "пользователей (время паузы), а не возможности системы: ни более быстрый сервер, "
            "ни больше реплик её не поднимут, они лишь сокращают время отклика. Для измерения "
            "ёмкости нужен профиль capacity (без пауз, ступенчатый рост пользователей)."
        )
    if n.ratio < ACHIEVED_RATIO_OK:
        return (
            f"{math_text}{cpu_text} Система выдала заметно меньше, чем просили пользователи: "
            "запросы ждали на сервере (очереди, ошибки, таймауты) — ограничивает сервер."
        )
    return (
        f"{math_text}{cpu_text} Большую часть цикла пользователь ждёт ответа сервера, а не "
        "паузу: пропускная способность — это предел сервера при такой конкурентности; "
        "добавление пользователей поднимет задержку, а не RPS."
    )


# --------------------------------------------------------------------------- capacity


@dataclass(frozen=True)
class CapacityStep:
    """One user step of a capacity run."""

    users: int
    start_s: float  # elapsed seconds at the first row of the step
    end_s: float
    rps: float  # from the cumulative request counts over the step
    p99_ms: float | None  # from the step's last history row
    error_pct: float
    requests: int
    failures: int


@dataclass(frozen=True)
class CapacityResult:
    """Per-step numbers and the best step that met the SLO."""

    slo_p99_ms: float
    max_error_pct: float
    steps: list[CapacityStep] = field(default_factory=list)
    best: CapacityStep | None = None
    p99_is_cumulative: bool = False  # history written without --csv-full-history

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        return asdict(self)


def capacity_steps(
    history: History | Sequence[HistoryRow],
    slo_p99_ms: float,
    max_error_pct: float = 1.0,
) -> CapacityResult:
    """Group a stepped run's history by user count; find the highest RPS within the SLO.

    Consecutive rows with the same (non-zero) user count form a step. The step's RPS and
    error % come from the differences of the cumulative counts between the row before the
    step and its last row; its p99 is the last row's 99% (with ``--csv-full-history`` that is
    Locust's current 10 s window, i.e. the step itself when steps last 10 s or more).
    A step's p99 must be <= ``slo_p99_ms`` and its errors <= ``max_error_pct`` to qualify.
    """
    if slo_p99_ms <= 0:
        raise ValueError("slo_p99_ms must be > 0")
    rows = list(history.rows) if isinstance(history, History) else list(history)
    cumulative = isinstance(history, History) and not history.full_history
    if not rows:
        return CapacityResult(slo_p99_ms, max_error_pct, p99_is_cumulative=cumulative)
    start = rows[0].timestamp

    groups: list[tuple[int, int]] = []  # (first index, last index) per step
    for index, row in enumerate(rows):
        if row.users <= 0:
            continue
        if groups and rows[groups[-1][1]].users == row.users and groups[-1][1] == index - 1:
            groups[-1] = (groups[-1][0], index)
        else:
            groups.append((index, index))

    steps: list[CapacityStep] = []
    for first, last in groups:
        before = rows[first - 1] if first > 0 else rows[first]
        end = rows[last]
        seconds = end.timestamp - before.timestamp
        requests = end.total_requests - before.total_requests
        failures = end.total_failures - before.total_failures
        if seconds <= 0 or requests <= 0:
            continue
        steps.append(
            CapacityStep(
                users=end.users,
                start_s=float(rows[first].timestamp - start),
                end_s=float(end.timestamp - start),
                rps=requests / seconds,
                p99_ms=_measured(end.p99_ms),
                error_pct=100.0 * failures / requests,
                requests=requests,
                failures=failures,
            )
        )

    within = [
        step
        for step in steps
        if step.p99_ms is not None and step.p99_ms <= slo_p99_ms and step.error_pct <= max_error_pct
    ]
    return CapacityResult(slo_p99_ms, max_error_pct, steps, _highest(within), cumulative)


def _meets(step: CapacityStep, slo_p99_ms: float, max_error_pct: float) -> bool:
    return step.p99_ms is not None and step.p99_ms <= slo_p99_ms and step.error_pct <= max_error_pct


def _highest(within: Sequence[CapacityStep]) -> CapacityStep | None:
    """The capacity: the step with the most users among those within the SLO."""
    return max(within, key=lambda step: (step.users, step.rps)) if within else None


def capacity_from_timeline(
    timeline: tl.Timeline, slo_p99_ms: float, max_error_pct: float = 1.0, warmup_s: float = 0.0
) -> CapacityResult:
    """Capacity steps from a run's timeline: each step counts exactly the requests sent
    between the end of its warm-up and the next step's start."""
    if slo_p99_ms <= 0:
        raise ValueError("slo_p99_ms must be > 0")
    origin = timeline.started or (timeline.steps[0].start if timeline.steps else 0.0)
    steps = [
        CapacityStep(
            users=step.users,
            start_s=float(step.totals.start - origin),
            end_s=float(step.totals.end - origin),
            rps=step.totals.rps,
            p99_ms=step.totals.percentile(0.99),
            error_pct=step.totals.error_pct,
            requests=step.totals.requests,
            failures=step.totals.failures,
        )
        for step in tl.step_totals(timeline, warmup_s)
        if step.totals.requests > 0
    ]
    within = [step for step in steps if _meets(step, slo_p99_ms, max_error_pct)]
    return CapacityResult(slo_p99_ms, max_error_pct, steps, _highest(within))


def capacity_from_run(
    run_dir: str | Path, slo_p99_ms: float, max_error_pct: float = 1.0
) -> CapacityResult:
    """Capacity steps of a run directory: from its timeline (the warm-up from its run.json)
    when it has one, else from its ``*_stats_history.csv``."""
    timeline = tl.read_timeline(run_dir)
    if timeline is not None and timeline.steps:
        warmup = float(read_run_meta(run_dir).get("step_warmup_s") or 0.0)
        return capacity_from_timeline(timeline, slo_p99_ms, max_error_pct, warmup)
    _, history_path = find_csv_files(run_dir)
    if history_path is None:
        raise FileNotFoundError(f"no *{HISTORY_SUFFIX} in {run_dir}")
    return capacity_steps(parse_history(history_path), slo_p99_ms, max_error_pct)


@dataclass(frozen=True)
class StepSpread:
    """One user step over the repetitions: median, min and max of each figure.

    A repetition that stopped before this step (its SLO broke earlier) counts as a breach:
    its p99 is infinite for the median, so a step is within the SLO only when most
    repetitions ran it and met it.
    """

    users: int
    runs: int  # repetitions that ran the step
    rps_median: float
    rps_min: float
    rps_max: float
    p99_median: float | None  # None: most repetitions did not reach or measure the step
    p99_min: float | None
    p99_max: float | None
    error_pct_median: float
    within: bool


@dataclass(frozen=True)
class RepeatedCapacity:
    """A capacity profile run several times: the steps' spread and the capacity, the highest
    step whose median p99 and median errors meet the SLO."""

    name: str
    slo_p99_ms: float
    max_error_pct: float
    results: list[CapacityResult]
    steps: list[StepSpread]
    best: StepSpread | None
    per_repetition: list[float | None]  # each repetition's own capacity (req/s), in run order

    @property
    def repetitions(self) -> int:
        return len(self.results)

    @property
    def capacity_rps(self) -> float | None:
        return self.best.rps_median if self.best else None

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON (the repetitions' own steps under ``repetitions``)."""
        return {
            "name": self.name,
            "slo_p99_ms": self.slo_p99_ms,
            "max_error_pct": self.max_error_pct,
            "repetitions": [result.to_dict() for result in self.results],
            "steps": [asdict(step) for step in self.steps],
            "best": asdict(self.best) if self.best else None,
            "capacity_rps": self.capacity_rps,
            "per_repetition_rps": self.per_repetition,
        }


def repeated_capacity(name: str, results: Sequence[CapacityResult]) -> RepeatedCapacity:
    """Median and spread per user step over the repetitions, and the capacity."""
    if not results:
        raise ValueError(f"{name}: no capacity run to combine")
    slo = results[0].slo_p99_ms
    max_error = results[0].max_error_pct
    levels = sorted({step.users for result in results for step in result.steps})
    spreads: list[StepSpread] = []
    for users in levels:
        ran = [step for result in results for step in result.steps if step.users == users]
        rps = tl.spread([step.rps for step in ran])
        p99s = [
            math.inf if step is None or step.p99_ms is None else step.p99_ms
            for step in (
                next((item for item in result.steps if item.users == users), None)
                for result in results
            )
        ]
        finite = [value for value in p99s if math.isfinite(value)]
        p99_median = tl.median(p99s)
        error_median = tl.median(
            [
                next((item.error_pct for item in result.steps if item.users == users), 100.0)
                for result in results
            ]
        )
        spreads.append(
            StepSpread(
                users=users,
                runs=len(ran),
                rps_median=rps[0],
                rps_min=rps[1],
                rps_max=rps[2],
                p99_median=p99_median if math.isfinite(p99_median) else None,
                p99_min=min(finite) if finite else None,
                p99_max=max(finite) if finite else None,
                error_pct_median=error_median,
                within=math.isfinite(p99_median)
                and p99_median <= slo
                and error_median <= max_error,
            )
        )
    within = [step for step in spreads if step.within]
    best = max(within, key=lambda step: step.users) if within else None
    per_repetition = []
    for result in results:
        own = _highest([step for step in result.steps if _meets(step, slo, max_error)])
        per_repetition.append(own.rps if own else None)
    return RepeatedCapacity(name, slo, max_error, list(results), spreads, best, per_repetition)


@dataclass(frozen=True)
class ScalingRatio:
    """Capacity of a candidate over a baseline (e.g. 4 replicas over 1): the ratio of the
    medians, and the min and max of the ratios within each repetition (paired in run order,
    so the machine's drift falls on both)."""

    baseline: str
    candidate: str
    ratio: float | None
    ratio_min: float | None
    ratio_max: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def scaling_ratio(baseline: RepeatedCapacity, candidate: RepeatedCapacity) -> ScalingRatio:
    """The candidate's capacity over the baseline's."""
    ratio = None
    if baseline.capacity_rps and candidate.capacity_rps is not None:
        ratio = candidate.capacity_rps / baseline.capacity_rps
    paired = [
        cand / base
        for base, cand in zip(baseline.per_repetition, candidate.per_repetition, strict=False)
        if base and cand is not None
    ]
    return ScalingRatio(
        baseline.name,
        candidate.name,
        ratio,
        min(paired) if paired else None,
        max(paired) if paired else None,
    )


def percent_change(baseline: float, candidate: float) -> float | None:
    """Relative change in %, None when the baseline is 0 (not meaningful)."""
    if baseline == 0 or math.isnan(baseline) or math.isnan(candidate):
        return None
    return 100.0 * (candidate - baseline) / baseline
