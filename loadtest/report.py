# ruff: noqa: RUF001  (Russian text: Cyrillic letters are intended)
"""Markdown tables in the seed report's form, in English or Russian."""

from __future__ import annotations

from collections.abc import Sequence

from loadtest.analysis import (
    CapacityResult,
    RunSummary,
    SaturationVerdict,
    percent_change,
)

LANGS = ("en", "ru")

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "metric": "Metric",
        "change": "Change",
        "rps": "RPS (requests/s)",
        "mean": "Mean response time",
        "p95": "95th percentile",
        "p99": "99th percentile",
        "errors": "Error rate",
        "ms": "ms",
        "run": "Run",
        "users": "Users",
        "duration": "Duration, s",
        "requests": "Requests",
        "failures": "Failures",
        "p50": "Median",
        "verdict": "Verdict",
        "offered": "Offered, req/s",
        "achieved": "Achieved, req/s",
        "step_users": "Users",
        "step_rps": "RPS",
        "step_p99": "p99",
        "step_errors": "Errors",
        "within": "Within SLO",
        "yes": "yes",
        "no": "no",
        "best": "Capacity: {rps:.1f} req/s at {users} users (p99 {p99} ms <= {slo:g} ms, "
        "errors {err} <= {maxerr:g}%).",
        "none": "No step met the SLO (p99 <= {slo:g} ms, errors <= {maxerr:g}%).",
        "cumulative": "Note: the history was written without --csv-full-history, so p99 per "
        "step is cumulative since the start, not the step's own.",
        "think-time bound": "think-time bound",
        "server saturated": "server saturated",
        "generator bound": "generator bound",
        "generator_cpu": "Generator CPU, busiest process (all)",
        "capacity_run": "Run",
        "capacity_rps": "Highest RPS within the SLO",
        "capacity_users": "At users",
        "capacity_p99": "p99 there",
        "capacity_steps": "Steps run",
        "capacity_none": "none within the SLO",
    },
    "ru": {
        "metric": "Метрика",
        "change": "Изменение",
        "rps": "RPS (запросов/сек)",
        "mean": "Среднее время отклика",
        "p95": "95-й перцентиль",
        "p99": "99-й перцентиль",
        "errors": "Процент ошибок",
        "ms": "мс",
        "run": "Прогон",
        "users": "Пользователи",
        "duration": "Длительность, с",
        "requests": "Запросы",
        "failures": "Ошибки",
        "p50": "Медиана",
        "verdict": "Вывод",
        "offered": "Предлагаемая, запр./с",
        "achieved": "Получено, запр./с",
        "step_users": "Пользователи",
        "step_rps": "RPS",
        "step_p99": "p99",
        "step_errors": "Ошибки",
        "within": "В пределах SLO",
        "yes": "да",
        "no": "нет",
        "best": "Ёмкость: {rps:.1f} запр./с при {users} пользователях (p99 {p99} мс <= "
        "{slo:g} мс, ошибки {err} <= {maxerr:g}%).",
        "none": "Ни одна ступень не уложилась в SLO (p99 <= {slo:g} мс, ошибки <= {maxerr:g}%).",
        "cumulative": "Примечание: история записана без --csv-full-history, поэтому p99 "
        "ступени накопленный с начала прогона, а не собственный.",
        "think-time bound": "ограничено паузой пользователей",
        "server saturated": "сервер насыщен",
        "generator bound": "ограничено генератором нагрузки",
        "generator_cpu": "CPU генератора, самый загруженный процесс (всего)",
        "capacity_run": "Прогон",
        "capacity_rps": "Наибольший RPS в пределах SLO",
        "capacity_users": "При пользователях",
        "capacity_p99": "p99 при этом",
        "capacity_steps": "Ступеней выполнено",
        "capacity_none": "ни одной ступени в пределах SLO",
    },
}


def text(lang: str) -> dict[str, str]:
    """The strings of a language; ValueError for an unknown one."""
    if lang not in TEXT:
        raise ValueError(f"unknown language {lang!r} (known: {', '.join(LANGS)})")
    return TEXT[lang]


def format_change(baseline: float, candidate: float) -> str:
    """``+1.4%`` / ``-26.7%`` / ``0.0%``; ``-`` when not meaningful (baseline 0)."""
    change = percent_change(baseline, candidate)
    if change is None:
        return "-"
    rounded = round(change, 1)
    if rounded == 0:
        return "0.0%"
    return f"{rounded:+.1f}%"


def format_pct(value: float) -> str:
    """An error rate as in the seed: ``0%``, ``100%``, ``0.53%``."""
    if value == 0:
        return "0%"
    formatted = f"{value:.2f}".rstrip("0").rstrip(".")
    return f"{formatted}%"


def _ms(value: float, lang: str) -> str:
    return f"{value:.2f} {text(lang)['ms']}"


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = [_row(header), _row(["-" * max(3, len(cell)) for cell in header])]
    lines += [_row(row) for row in rows]
    return "\n".join(lines)


def comparison_table(
    baseline: RunSummary,
    candidate: RunSummary,
    baseline_title: str,
    candidate_title: str,
    lang: str = "en",
) -> str:
    """The seed's table: RPS, mean, p95, p99, error % for two runs and the change."""
    t = text(lang)
    rows = [
        [t["rps"], f"{baseline.rps:.2f}", f"{candidate.rps:.2f}"],
        [t["mean"], _ms(baseline.mean_ms, lang), _ms(candidate.mean_ms, lang)],
        [t["p95"], _ms(baseline.p95, lang), _ms(candidate.p95, lang)],
        [t["p99"], _ms(baseline.p99, lang), _ms(candidate.p99, lang)],
        [t["errors"], format_pct(baseline.error_pct), format_pct(candidate.error_pct)],
    ]
    pairs = [
        (baseline.rps, candidate.rps),
        (baseline.mean_ms, candidate.mean_ms),
        (baseline.p95, candidate.p95),
        (baseline.p99, candidate.p99),
        (baseline.error_pct, candidate.error_pct),
    ]
    for row, (before, after) in zip(rows, pairs, strict=True):
        row.append(format_change(before, after))
    return _table([t["metric"], baseline_title, candidate_title, t["change"]], rows)


def runs_table(runs: Sequence[RunSummary], lang: str = "en") -> str:
    """One row per run with all headline numbers."""
    t = text(lang)
    header = [
        t["run"],
        t["users"],
        t["duration"],
        t["requests"],
        t["failures"],
        "RPS",
        t["mean"],
        t["p50"],
        "p95",
        "p99",
        t["errors"],
    ]
    rows = [
        [
            run.name,
            str(run.users),
            f"{run.duration:.1f}",
            str(run.requests),
            str(run.failures),
            f"{run.rps:.2f}",
            _ms(run.mean_ms, lang),
            _ms(run.p50, lang),
            _ms(run.p95, lang),
            _ms(run.p99, lang),
            format_pct(run.error_pct),
        ]
        for run in runs
    ]
    return _table(header, rows)


def _cpu(busiest: float | None, total: float | None) -> str:
    if busiest is None:
        return "-"
    if total is None or abs(total - busiest) < 0.05:
        return f"{busiest:.0f}%"
    return f"{busiest:.0f}% ({total:.0f}%)"


def verdicts_table(
    verdicts: Sequence[tuple[str, SaturationVerdict]],
    lang: str = "en",
    generator_total: dict[str, float | None] | None = None,
    capacity_cpu: dict[str, tuple[float | None, float | None]] | None = None,
) -> str:
    """Run, offered and achieved load, the generator's CPU, verdict."""
    t = text(lang)
    totals = generator_total or {}
    header = [t["run"], t["offered"], t["achieved"], t["generator_cpu"], t["verdict"]]
    rows = [
        [
            name,
            f"{v.offered_rps:.1f}",
            f"{v.achieved_rps:.1f}",
            _cpu(v.generator_cpu_pct, totals.get(name)),
            t[v.verdict],
        ]
        for name, v in verdicts
    ]
    return _table(header, rows)


def capacity_summary_table(
    capacities: Sequence[tuple[str, CapacityResult]],
    lang: str = "en",
    generator_cpu: dict[str, tuple[float | None, float | None]] | None = None,
) -> str:
    """One row per capacity run: the highest RPS within the SLO, at which step, and the
    generator's CPU (busiest process, all) over the run."""
    t = text(lang)
    cpu = generator_cpu or {}
    header = [
        t["capacity_run"],
        t["capacity_rps"],
        t["capacity_users"],
        t["capacity_p99"],
        t["capacity_steps"],
        t["generator_cpu"],
    ]
    rows = []
    for name, result in capacities:
        best = result.best
        steps = str(len(result.steps))
        load = _cpu(*cpu.get(name, (None, None)))
        if best is None or best.p99_ms is None:
            rows.append([name, t["capacity_none"], "-", "-", steps, load])
        else:
            rps = f"{best.rps:.1f}"
            rows.append([name, rps, str(best.users), _ms(best.p99_ms, lang), steps, load])
    return _table(header, rows)


def capacity_table(result: CapacityResult, lang: str = "en") -> str:
    """Per-step RPS, p99, errors and the capacity sentence."""
    t = text(lang)
    header = [t["step_users"], t["step_rps"], t["step_p99"], t["step_errors"], t["within"]]
    rows = []
    for step in result.steps:
        ok = (
            step.p99_ms is not None
            and step.p99_ms <= result.slo_p99_ms
            and step.error_pct <= result.max_error_pct
        )
        p99 = "-" if step.p99_ms is None else _ms(step.p99_ms, lang)
        rows.append(
            [
                str(step.users),
                f"{step.rps:.1f}",
                p99,
                format_pct(step.error_pct),
                t["yes"] if ok else t["no"],
            ]
        )
    lines = [_table(header, rows), ""]
    best = result.best
    if best is not None:
        lines.append(
            t["best"].format(
                rps=best.rps,
                users=best.users,
                p99=f"{best.p99_ms:g}",
                slo=result.slo_p99_ms,
                err=format_pct(best.error_pct),
                maxerr=result.max_error_pct,
            )
        )
    else:
        lines.append(t["none"].format(slo=result.slo_p99_ms, maxerr=result.max_error_pct))
    if result.p99_is_cumulative:
        lines += ["", t["cumulative"]]
    return "\n".join(lines)


HEADINGS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Load test results",
        "runs": "Runs",
        "compare": "Comparison: {baseline} vs {candidate}",
        "saturation": "What limited each run",
        "capacity": "Capacity: {name}",
        "capacity_all": "Capacity within the SLO (p99 <= {slo:g} ms, errors <= {maxerr:g}%)",
        "instances": "Responses per instance (X-Instance)",
        "think_unknown": "{name}: think time unknown (pass --think-mean), no verdict.",
    },
    "ru": {
        "title": "Результаты нагрузочного тестирования",
        "runs": "Прогоны",
        "compare": "Сравнение: {baseline} и {candidate}",
        "saturation": "Что ограничивало каждый прогон",
        "capacity": "Ёмкость: {name}",
        "capacity_all": "Ёмкость в пределах SLO (p99 <= {slo:g} мс, ошибки <= {maxerr:g}%)",
        "instances": "Ответы по экземплярам (X-Instance)",
        "think_unknown": "{name}: время паузы неизвестно (укажите --think-mean), вывода нет.",
    },
}


def render_markdown(
    runs: Sequence[RunSummary],
    comparisons: Sequence[tuple[RunSummary, RunSummary]],
    verdicts: Sequence[tuple[str, SaturationVerdict | None]],
    capacities: Sequence[tuple[str, CapacityResult]] = (),
    instances: Sequence[tuple[str, dict[str, int]]] = (),
    lang: str = "en",
    generator_total: dict[str, float | None] | None = None,
    capacity_cpu: dict[str, tuple[float | None, float | None]] | None = None,
) -> str:
    """The whole tables.md: runs, comparisons, verdicts with their math, capacity."""
    text(lang)  # validates the language
    h = HEADINGS[lang]
    parts = [f"# {h['title']}", ""]
    if runs:
        parts += [f"## {h['runs']}", "", runs_table(runs, lang), ""]
    for baseline, candidate in comparisons:
        heading = h["compare"].format(baseline=baseline.name, candidate=candidate.name)
        table = comparison_table(baseline, candidate, baseline.name, candidate.name, lang)
        parts += [f"## {heading}", "", table, ""]
    known = [(name, verdict) for name, verdict in verdicts if verdict is not None]
    if verdicts:
        parts += [f"## {h['saturation']}", ""]
        if known:
            parts += [verdicts_table(known, lang, generator_total), ""]
        for name, verdict in verdicts:
            if verdict is None:
                parts += [h["think_unknown"].format(name=name), ""]
            else:
                parts += [f"**{name}**: {verdict.explanation}", ""]
    if capacities:
        first = capacities[0][1]
        heading = h["capacity_all"].format(slo=first.slo_p99_ms, maxerr=first.max_error_pct)
        table = capacity_summary_table(capacities, lang, capacity_cpu)
        parts += [f"## {heading}", "", table, ""]
    for name, result in capacities:
        parts += [f"## {h['capacity'].format(name=name)}", "", capacity_table(result, lang), ""]
    shown = [(name, counts) for name, counts in instances if counts]
    if shown:
        parts += [f"## {h['instances']}", ""]
        for name, counts in shown:
            spread = ", ".join(f"{key}: {value}" for key, value in sorted(counts.items()))
            parts += [f"- {name}: {spread}"]
        parts.append("")
    return "\n".join(parts).rstrip() + "\n"
