# ruff: noqa: RUF001  (Russian text: Cyrillic letters are intended)
"""Bottleneck attribution: which resource saturated during a load-test run, with figures.

Input: the JSON lines of the resource probe (:mod:`loadtest.probe`, one file per node and
mode, fetched into ``<loadtest_dir>/samples/``). Counters in them are cumulative; every figure
here is a difference between consecutive samples of one series (one task, one host, one Redis),
over the pairs whose midpoint lies in the run's window [t0, t1] (epoch seconds):

- per service (tasks of a Swarm service): CPU in % of one core, per task (time-weighted mean)
  and in total; its CPU limit; use of the limit; share of CFS periods throttled
  (delta throttled_periods / delta periods over all its tasks);
- per node: host busy % (1 - delta idle ticks / delta total ticks);
- Redis: commands per second (delta total_commands_processed / dt) and CPU in % of one core
  (delta used_cpu_user + used_cpu_sys / dt; Redis executes commands on one thread);
- HAProxy backend ``app``: mean and max queue (qcur), mean and max sessions (scur).

:func:`attribute` names what saturated with the thresholds below, most severe first, in one
sentence (English and Russian) that gives every resource's figures, and answers the seed
report's claim "Redis is the main limit" from them. Stdlib only (matplotlib is imported inside
:func:`plot_service_cpu`).
"""

from __future__ import annotations

import itertools
import json
import math
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# Saturation thresholds (a resource at or above one is saturated).
SERVICE_THROTTLED_PCT = 20.0  # % of CFS periods in which a service's tasks hit their quota
SERVICE_QUOTA_USE_PCT = 85.0  # % of the CPU limit a service's tasks use on average
REDIS_CPU_PCT = 85.0  # % of one core: Redis runs commands on one thread
HOST_BUSY_PCT = 90.0  # % of all a node's CPUs busy
GENERATOR_CPU_PCT = 90.0  # % of one core: the busiest Locust process
HAPROXY_QUEUE_MEAN = 1.0  # requests waiting in the backend's queue, mean over the run

HAPROXY_BACKEND = "BACKEND"  # svname of the backend's own row in HAProxy's stats

Sample = dict[str, Any]


def load_samples(paths: Iterable[str | Path]) -> list[Sample]:
    """All probe lines of *paths* (files, or directories whose ``*.jsonl`` are read), by time.

    Lines that are not JSON objects with a numeric ``t`` (a last line cut short) are skipped.
    """
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        files.extend(sorted(path.glob("*.jsonl")) if path.is_dir() else [path])
    samples: list[Sample] = []
    for path in files:
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if isinstance(record, dict) and isinstance(record.get("t"), (int, float)):
                    samples.append(record)
    samples.sort(key=lambda record: record["t"])
    return samples


# --- figures ----------------------------------------------------------------------------------


@dataclass
class ServiceFigures:
    service: str
    tasks: int  # tasks sampled in the window
    cpu_pct_per_task: float  # % of one core, time-weighted mean over the tasks
    cpu_pct_total: float  # % of one core, all tasks together
    cpu_pct_max_task: float  # % of one core, the busiest task
    cpu_limit: float | None  # cores per task (None: no limit)
    quota_use_pct: float | None  # cpu_pct_per_task / limit
    throttled_pct: float | None  # % of CFS periods throttled (None: no limit)


@dataclass
class HostFigures:
    node: str
    busy_pct: float
    ncpu: int | None


@dataclass
class RedisFigures:
    addr: str
    ops_per_s: float
    cpu_pct: float  # % of one core
    role: str | None
    clients_mean: float | None


@dataclass
class HaproxyFigures:
    source: str  # stats URL
    proxy: str
    qcur_mean: float
    qcur_max: int
    scur_mean: float
    scur_max: int
    servers_up: int | None  # servers UP at the last sample


@dataclass
class ProbeFigures:
    samples: int  # probe loops (all nodes and modes)
    sample_s_mean: float  # wall seconds per loop
    sample_s_max: float
    cpu_pct: float  # the probes' own CPU, % of one core, all nodes together
    errors: dict[str, int] = field(default_factory=dict)  # error lines per source


@dataclass
class Figures:
    t0: float
    t1: float
    services: dict[str, ServiceFigures] = field(default_factory=dict)
    hosts: dict[str, HostFigures] = field(default_factory=dict)
    redis: dict[str, RedisFigures] = field(default_factory=dict)
    haproxy: dict[str, HaproxyFigures] = field(default_factory=dict)
    probe: ProbeFigures | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _pairs(series: Sequence[Sample], t0: float, t1: float) -> Iterator[tuple[Sample, Sample]]:
    """Consecutive samples of one series whose midpoint lies in [t0, t1]."""
    for first, second in itertools.pairwise(series):
        if second["t"] > first["t"] and t0 <= (first["t"] + second["t"]) / 2 <= t1:
            yield first, second


def _delta(first: Sample, second: Sample, key: str) -> float | None:
    """second[key] - first[key]; None when one is missing or the counter went back (restart)."""
    a, b = first.get(key), second.get(key)
    if not isinstance(a, (int, float)) or not isinstance(b, (int, float)) or b < a:
        return None
    return float(b - a)


def _by(samples: Iterable[Sample], kind: str, *keys: str) -> dict[tuple[Any, ...], list[Sample]]:
    groups: dict[tuple[Any, ...], list[Sample]] = defaultdict(list)
    for record in samples:
        if record.get("kind") == kind:
            groups[tuple(record.get(key) for key in keys)].append(record)
    return groups


def _service_figures(
    service: str, tasks: Mapping[Any, list[Sample]], t0: float, t1: float
) -> ServiceFigures | None:
    cpu_ns = dt_sum = 0.0
    periods = throttled = 0.0
    span_start, span_end = math.inf, -math.inf
    per_task: list[float] = []
    limits: list[float] = []
    for series in tasks.values():
        task_cpu = task_dt = 0.0
        for first, second in _pairs(series, t0, t1):
            used = _delta(first, second, "cpu_usage_ns")
            if used is None:
                continue
            dt = second["t"] - first["t"]
            task_cpu += used
            task_dt += dt
            span_start, span_end = min(span_start, first["t"]), max(span_end, second["t"])
            periods += _delta(first, second, "periods") or 0.0
            throttled += _delta(first, second, "throttled_periods") or 0.0
            if isinstance(second.get("cpu_limit"), (int, float)):
                limits.append(float(second["cpu_limit"]))
        if task_dt > 0:
            per_task.append(100 * task_cpu / task_dt / 1e9)
            cpu_ns += task_cpu
            dt_sum += task_dt
    if dt_sum <= 0:
        return None
    per_task_mean = 100 * cpu_ns / dt_sum / 1e9
    limit = max(set(limits), key=limits.count) if limits else None
    return ServiceFigures(
        service=service,
        tasks=len(per_task),
        cpu_pct_per_task=per_task_mean,
        cpu_pct_total=100 * cpu_ns / (span_end - span_start) / 1e9,
        cpu_pct_max_task=max(per_task),
        cpu_limit=limit,
        quota_use_pct=per_task_mean / limit if limit else None,
        throttled_pct=(100 * throttled / periods if periods else 0.0) if limit else None,
    )


def window_figures(samples: Sequence[Sample], t0: float, t1: float) -> Figures:
    """The figures of every sampled resource over [t0, t1] (see the module's docstring)."""
    figures = Figures(t0=t0, t1=t1)
    by_service: dict[str, dict[Any, list[Sample]]] = defaultdict(dict)
    for (service, node, task), series in _by(samples, "task", "service", "node", "task").items():
        by_service[str(service)][(node, task)] = series
    for service, tasks in sorted(by_service.items()):
        found = _service_figures(service, tasks, t0, t1)
        if found is not None:
            figures.services[service] = found

    for (node,), series in sorted(_by(samples, "host", "node").items()):
        total = idle = 0.0
        for first, second in _pairs(series, t0, t1):
            d_total, d_idle = (
                _delta(first, second, "cpu_ticks_total"),
                _delta(first, second, "cpu_ticks_idle"),
            )
            if d_total and d_idle is not None:
                total += d_total
                idle += d_idle
        if total > 0:
            figures.hosts[str(node)] = HostFigures(
                node=str(node), busy_pct=100 * (1 - idle / total), ncpu=series[-1].get("ncpu")
            )

    for (addr,), series in sorted(_by(samples, "redis", "addr").items()):
        commands = cpu_s = dt_sum = 0.0
        clients: list[float] = []
        role = None
        for first, second in _pairs(series, t0, t1):
            d_cmd = _delta(first, second, "total_commands_processed")
            d_user = _delta(first, second, "used_cpu_user")
            d_sys = _delta(first, second, "used_cpu_sys")
            if d_cmd is None or d_user is None or d_sys is None:
                continue
            dt = second["t"] - first["t"]
            commands += d_cmd
            cpu_s += d_user + d_sys
            dt_sum += dt
            role = second.get("role")
            if isinstance(second.get("connected_clients"), int):
                clients.append(second["connected_clients"])
        if dt_sum > 0:
            figures.redis[str(addr)] = RedisFigures(
                addr=str(addr),
                ops_per_s=commands / dt_sum,
                cpu_pct=100 * cpu_s / dt_sum,
                role=role,
                clients_mean=sum(clients) / len(clients) if clients else None,
            )

    rows = [
        record for record in samples if record.get("kind") == "haproxy" and t0 <= record["t"] <= t1
    ]
    for (source, proxy), backend in sorted(
        _by(
            [r for r in rows if r.get("server") == HAPROXY_BACKEND], "haproxy", "url", "proxy"
        ).items()
    ):
        queue = [r["qcur"] for r in backend if isinstance(r.get("qcur"), int)]
        sessions = [r["scur"] for r in backend if isinstance(r.get("scur"), int)]
        if not queue and not sessions:
            continue
        last_t = backend[-1]["t"]
        up = [
            r
            for r in rows
            if r["t"] == last_t
            and r.get("url") == source
            and r.get("server") != HAPROXY_BACKEND
            and str(r.get("status", "")).startswith("UP")
        ]
        figures.haproxy[str(source)] = HaproxyFigures(
            source=str(source),
            proxy=str(proxy),
            qcur_mean=sum(queue) / len(queue) if queue else 0.0,
            qcur_max=max(queue) if queue else 0,
            scur_mean=sum(sessions) / len(sessions) if sessions else 0.0,
            scur_max=max(sessions) if sessions else 0,
            servers_up=len(up),
        )

    loops = [r for r in samples if r.get("kind") == "probe" and t0 <= r["t"] <= t1]
    errors: dict[str, int] = defaultdict(int)
    for record in samples:
        if record.get("kind") == "error" and t0 <= record["t"] <= t1:
            errors[str(record.get("source"))] += 1
    if loops:
        walls = [float(r.get("sample_s") or 0.0) for r in loops]
        # the time the probe ran within the window (it may start late or end early)
        ran_s = min(t1, loops[-1]["t"]) - max(
            t0, loops[0]["t"] - float(loops[0].get("interval") or 0)
        )
        figures.probe = ProbeFigures(
            samples=len(loops),
            sample_s_mean=sum(walls) / len(walls),
            sample_s_max=max(walls),
            cpu_pct=100 * sum(float(r.get("cpu_s") or 0.0) for r in loops) / max(ran_s, 1e-9),
            errors=dict(errors),
        )
    return figures


# --- attribution ------------------------------------------------------------------------------


def _num(value: float, lang: str, digits: int | None = None) -> str:
    """1,234 / 0.5 / 41 in English; 1 234 / 0,5 / 41 in Russian."""
    if digits is None:
        digits = 0 if abs(value) >= 10 or float(round(value)) == round(value, 1) else 1
    text = f"{value:,.{digits}f}"
    if lang == "ru":
        text = text.replace(",", "\u00a0").replace(".", ",")
    return text


def _cores(value: float, lang: str) -> str:
    return _num(value, lang, 2).rstrip("0").rstrip(".,") if value % 1 else _num(value, lang, 0)


@dataclass
class Finding:
    """One resource's figures and whether it saturated."""

    resource: str  # service:<name>, redis, haproxy, host, generator
    saturated: bool
    severity: float  # the largest figure / its threshold (>= 1: saturated)
    en: str
    ru: str


@dataclass
class Attribution:
    saturated: list[Finding]  # most severe first
    others: list[Finding]  # sampled, not saturated, most loaded first
    not_sampled_en: list[str]
    not_sampled_ru: list[str]
    sentence_en: str
    sentence_ru: str
    redis_is_limit: bool
    claim_en: str
    claim_ru: str
    lang: str = "en"

    @property
    def sentence(self) -> str:
        return self.sentence_ru if self.lang == "ru" else self.sentence_en

    @property
    def claim(self) -> str:
        return self.claim_ru if self.lang == "ru" else self.claim_en

    @property
    def limit(self) -> str | None:
        """The resource that saturated most (``service:counter_app``, ``redis``, ...)."""
        return self.saturated[0].resource if self.saturated else None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "limit": self.limit}


def _short(service: str) -> str:
    return service.split("_", 1)[1] if "_" in service else service


def _service_finding(s: ServiceFigures) -> Finding:
    short = _short(s.service)
    if s.cpu_limit is None:
        severity = 0.0
        each_en = f", {_num(s.cpu_pct_per_task, 'en')} % each" if s.tasks > 1 else ""
        each_ru = f", {_num(s.cpu_pct_per_task, 'ru')} % на задачу" if s.tasks > 1 else ""
        return Finding(
            f"service:{s.service}",
            False,
            severity,
            f"{short} ({s.service}) {_num(s.cpu_pct_total, 'en')} % of a core, "
            f"no CPU limit{each_en}",
            f"{short} ({s.service}) {_num(s.cpu_pct_total, 'ru')} % ядра, без лимита CPU{each_ru}",
        )
    throttled = s.throttled_pct or 0.0
    use = s.quota_use_pct or 0.0
    severity = max(throttled / SERVICE_THROTTLED_PCT, use / SERVICE_QUOTA_USE_PCT)
    many = s.tasks > 1
    each_en = f"{_num(s.cpu_pct_per_task, 'en')} % of a core"
    each_ru = f"{_num(s.cpu_pct_per_task, 'ru')} % ядра"
    tasks_ru = f"{s.tasks} " + ("задачи" if s.tasks < 5 else "задач")
    en = (
        f"{short} {'replicas' if many else 'replica'} ({s.service}) throttled in "
        f"{_num(throttled, 'en')} % of CFS periods at their {_cores(s.cpu_limit, 'en')}-CPU quota, "
        f"{_num(use, 'en')} % of quota "
        + (f"({each_en} per task, {s.tasks} tasks)" if many else f"({each_en}, 1 task)")
    )
    ru = (
        f"{'реплики' if many else 'реплика'} {short} ({s.service}): троттлинг в "
        f"{_num(throttled, 'ru')} % периодов CFS при квоте {_cores(s.cpu_limit, 'ru')} CPU, "
        f"{_num(use, 'ru')} % квоты "
        + (f"({each_ru} на задачу, {tasks_ru})" if many else f"({each_ru}, 1 задача)")
    )
    return Finding(f"service:{s.service}", severity >= 1, severity, en, ru)


def _redis_finding(redis: Mapping[str, RedisFigures]) -> Finding | None:
    if not redis:
        return None
    r = max(redis.values(), key=lambda item: item.cpu_pct)
    severity = r.cpu_pct / REDIS_CPU_PCT
    return Finding(
        "redis",
        severity >= 1,
        severity,
        f"Redis {_num(r.cpu_pct, 'en')} % CPU ({_num(r.ops_per_s, 'en', 0)} ops/s)",
        f"Redis {_num(r.cpu_pct, 'ru')} % CPU ({_num(r.ops_per_s, 'ru', 0)} оп/с)",
    )


def _haproxy_finding(haproxy: Mapping[str, HaproxyFigures]) -> Finding | None:
    if not haproxy:
        return None
    h = max(haproxy.values(), key=lambda item: item.qcur_mean)
    severity = h.qcur_mean / HAPROXY_QUEUE_MEAN
    return Finding(
        "haproxy",
        severity >= 1,
        severity,
        f"HAProxy queue {_num(h.qcur_mean, 'en')} (max {h.qcur_max}), "
        f"{_num(h.scur_mean, 'en')} sessions to backend {h.proxy}",
        f"очередь HAProxy {_num(h.qcur_mean, 'ru')} (макс. {h.qcur_max}), "
        f"{_num(h.scur_mean, 'ru')} сессий к бэкенду {h.proxy}",
    )


def _host_finding(hosts: Mapping[str, HostFigures]) -> Finding | None:
    if not hosts:
        return None
    ranked = sorted(hosts.values(), key=lambda item: -item.busy_pct)
    severity = ranked[0].busy_pct / HOST_BUSY_PCT
    if len(ranked) == 1:
        h = ranked[0]
        cpus = f" ({h.ncpu} CPUs)" if h.ncpu else ""
        en = f"host {h.node} {_num(h.busy_pct, 'en')} % busy{cpus}"
        ru = f"хост {h.node} занят на {_num(h.busy_pct, 'ru')} %" + (
            f" ({h.ncpu} CPU)" if h.ncpu else ""
        )
    else:
        en = "hosts " + ", ".join(f"{h.node} {_num(h.busy_pct, 'en')} %" for h in ranked) + " busy"
        ru = "хосты заняты: " + ", ".join(f"{h.node} {_num(h.busy_pct, 'ru')} %" for h in ranked)
    return Finding("host", severity >= 1, severity, en, ru)


def _generator_finding(cpu_pct: float | None) -> Finding | None:
    if cpu_pct is None:
        return None
    severity = cpu_pct / GENERATOR_CPU_PCT
    return Finding(
        "generator",
        severity >= 1,
        severity,
        f"generator {_num(cpu_pct, 'en')} % of a core",
        f"генератор {_num(cpu_pct, 'ru')} % ядра",
    )


def _is_redis_service(service: str) -> bool:
    return _short(service) == "redis" or service == "redis"


def attribute(figures: Figures, generator_cpu_pct: float | None, lang: str = "en") -> Attribution:
    """Name what saturated during the window of *figures* (thresholds: module constants).

    *generator_cpu_pct*: the busiest Locust process in % of one core (run.json), None if not
    measured. Services with a CPU limit are judged by throttling and quota use; a service
    without one only by the host it runs on (its figures are still given). The Redis service's
    container is left out when Redis INFO was sampled (its own figure is better).
    """
    findings: list[Finding] = []
    missing_en: list[str] = []
    missing_ru: list[str] = []
    for service, figures_of in figures.services.items():
        if figures.redis and _is_redis_service(service):
            continue
        findings.append(_service_finding(figures_of))
    if not figures.services:
        missing_en.append("service tasks")
        missing_ru.append("задачи сервисов")
    for found, en, ru in (
        (_redis_finding(figures.redis), "Redis", "Redis"),
        (_haproxy_finding(figures.haproxy), "HAProxy", "HAProxy"),
        (_host_finding(figures.hosts), "host CPU", "CPU хостов"),
        (_generator_finding(generator_cpu_pct), "generator", "генератор"),
    ):
        if found is None:
            missing_en.append(en)
            missing_ru.append(ru)
        else:
            findings.append(found)
    findings.sort(key=lambda item: -item.severity)
    saturated = [item for item in findings if item.saturated]
    others = [item for item in findings if not item.saturated]

    def sentence(ru: bool) -> str:
        def texts(items: list[Finding]) -> str:
            return "; ".join(item.ru if ru else item.en for item in items)

        parts = []
        if saturated:
            parts.append(("Насыщено: " if ru else "Saturated: ") + texts(saturated) + ".")
            if others:
                parts.append(("Не насыщено: " if ru else "Not saturated: ") + texts(others) + ".")
        elif others:
            parts.append(
                ("Ничто не насыщено: " if ru else "Nothing saturated: ") + texts(others) + "."
            )
        else:
            parts.append("Нет данных зонда за прогон." if ru else "No probe data for the run.")
        missing = missing_ru if ru else missing_en
        if missing and (saturated or others):
            parts.append(("Не измерено: " if ru else "Not sampled: ") + ", ".join(missing) + ".")
        return " ".join(parts)

    redis = next((item for item in findings if item.resource == "redis"), None)
    redis_is_limit = bool(redis and redis.saturated and saturated and saturated[0] is redis)
    claim_en, claim_ru = _claim(figures, redis, redis_is_limit, saturated)
    return Attribution(
        saturated=saturated,
        others=others,
        not_sampled_en=missing_en,
        not_sampled_ru=missing_ru,
        sentence_en=sentence(False),
        sentence_ru=sentence(True),
        redis_is_limit=redis_is_limit,
        claim_en=claim_en,
        claim_ru=claim_ru,
        lang=lang,
    )


def _claim(
    figures: Figures, redis: Finding | None, redis_is_limit: bool, saturated: list[Finding]
) -> tuple[str, str]:
    """The answer to the seed report's claim "Redis is the main limit" (en, ru)."""
    claim_en = 'The seed report\'s claim "Redis is the main limit"'
    claim_ru = "Утверждение исходного отчёта «Redis — главное ограничение»"
    if redis is None:
        return (
            f"{claim_en} cannot be checked for this run: Redis was not sampled.",
            f"{claim_ru} для этого прогона не проверить: Redis не измерялся.",
        )
    r = max(figures.redis.values(), key=lambda item: item.cpu_pct)
    cpu_en, cpu_ru = _num(r.cpu_pct, "en"), _num(r.cpu_pct, "ru")
    ops_en, ops_ru = _num(r.ops_per_s, "en", 0), _num(r.ops_per_s, "ru", 0)
    bound_en, bound_ru = _num(REDIS_CPU_PCT, "en"), _num(REDIS_CPU_PCT, "ru")
    if redis_is_limit:
        return (
            f"{claim_en} holds for this run: Redis used {cpu_en} % of its one core "
            f"(saturated from {bound_en} %) at {ops_en} ops/s, the most saturated resource.",
            f"{claim_ru} для этого прогона подтверждается: Redis занял {cpu_ru} % своего "
            f"единственного ядра (насыщение от {bound_ru} %) при {ops_ru} оп/с — это самый "
            "насыщенный ресурс.",
        )
    if redis.saturated:
        top = saturated[0]
        return (
            f"{claim_en} holds only in part for this run: Redis is saturated ({cpu_en} % of a "
            f"core at {ops_en} ops/s), but more so is: {top.en}.",
            f"{claim_ru} для этого прогона подтверждается лишь отчасти: Redis насыщен "
            f"({cpu_ru} % ядра при {ops_ru} оп/с), но сильнее насыщено: {top.ru}.",
        )
    if saturated:
        top = saturated[0]
        return (
            f"{claim_en} does not hold for this run: Redis used only {cpu_en} % of a core at "
            f"{ops_en} ops/s (saturated from {bound_en} %); the limit is elsewhere: {top.en}.",
            f"{claim_ru} для этого прогона не подтверждается: Redis занял лишь {cpu_ru} % ядра "
            f"при {ops_ru} оп/с (насыщение от {bound_ru} %); ограничение в другом: {top.ru}.",
        )
    return (
        f"{claim_en} does not hold for this run: Redis used only {cpu_en} % of a core at "
        f"{ops_en} ops/s, and no resource saturated (the load stayed below every limit).",
        f"{claim_ru} для этого прогона не подтверждается: Redis занял лишь {cpu_ru} % ядра при "
        f"{ops_ru} оп/с, и ни один ресурс не насыщен (нагрузка ниже всех пределов).",
    )


# --- CPU over time ----------------------------------------------------------------------------


def cpu_series(
    samples: Sequence[Sample], t0: float, t1: float, window_s: float
) -> dict[str, list[tuple[float, float]]]:
    """Per service, (seconds since t0, CPU in % of one core of all its tasks) per window.

    Each task's CPU rate is averaged over the sample pairs whose midpoint falls in the window,
    then the tasks are added up; windows with no pair are left out.
    """
    if window_s <= 0:
        raise ValueError("window_s must be > 0")
    buckets: dict[str, dict[int, dict[Any, list[float]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(lambda: [0.0, 0.0]))
    )
    for (service, node, task), series in _by(samples, "task", "service", "node", "task").items():
        for first, second in _pairs(series, t0, t1):
            used = _delta(first, second, "cpu_usage_ns")
            if used is None:
                continue
            index = int(((first["t"] + second["t"]) / 2 - t0) // window_s)
            acc = buckets[str(service)][index][(node, task)]
            acc[0] += used
            acc[1] += second["t"] - first["t"]
    out: dict[str, list[tuple[float, float]]] = {}
    for service in sorted(buckets):
        points = []
        for index in sorted(buckets[service]):
            tasks = buckets[service][index].values()
            total = sum(100 * cpu / dt / 1e9 for cpu, dt in tasks if dt > 0)
            points.append(((index + 0.5) * window_s, total))
        out[service] = points
    return out


def plot_service_cpu(
    series_by_run: Mapping[str, Mapping[str, Sequence[tuple[float, float]]]],
    out_png: str | Path,
    lang: str = "en",
) -> Path:
    """Per-service CPU over time (% of one core), one subplot per run, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = list(series_by_run)
    if not runs:
        raise ValueError("no run to plot")
    fig, axes = plt.subplots(
        len(runs), 1, figsize=(9, 2.8 * len(runs)), sharex=False, squeeze=False
    )
    ylabel = "CPU, % ядра" if lang == "ru" else "CPU, % of one core"
    xlabel = "с от начала прогона" if lang == "ru" else "s since the run's start"
    for ax, run in zip(axes[:, 0], runs, strict=True):
        for service, points in sorted(series_by_run[run].items()):
            if points:
                xs, ys = zip(*points, strict=True)
                ax.plot(xs, ys, marker=".", label=service)
        ax.set_title(run)
        ax.set_ylabel(ylabel)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        if series_by_run[run]:
            ax.legend(fontsize="small", loc="upper left")
    axes[-1, 0].set_xlabel(xlabel)
    fig.tight_layout()
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
