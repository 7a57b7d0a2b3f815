# ruff: noqa: RUF001  (Russian text: Cyrillic letters are intended)
"""Markdown tables in the seed report's form, in English or Russian."""

from __future__ import annotations

from collections.abc import Sequence

from loadtest.analysis import (
    RepeatedCapacity,
    RunSummary,
    SaturationVerdict,
    ScalingRatio,
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
        "best": "Capacity: {rps:.1f} req/s at {users} users (median of {runs}: p99 {p99} ms <= "
        "{slo:g} ms, errors {err} <= {maxerr:g}%).",
        "none": "No step met the SLO (median p99 <= {slo:g} ms, errors <= {maxerr:g}%).",
        "step_runs": "Runs",
        "capacity_spread": "Repetitions' capacities (min-max)",
        "scaling": "Scaling {candidate} over {baseline}: capacity x{ratio} (medians); within "
        "each repetition x{low} to x{high}.",
        "scaling_none": "Scaling {candidate} over {baseline}: not measured (a capacity is "
        "missing).",
        "cumulative": "Note: the history was written without --csv-full-history, so p99 per "
        "step is cumulative since the start, not the step's own.",
        "think-time bound": "think-time bound",
        "server saturated": "server saturated",
        "generator bound": "generator bound",
        "generator_cpu": "Generator CPU, busiest process (all)",
        "capacity_run": "Run",
        "capacity_rps": "Capacity, req/s (median)",
        "capacity_users": "At users",
        "capacity_p99": "p99 there",
        "capacity_steps": "Repetitions",
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
        "best": "Ёмкость: {rps:.1f} запр./с при {users} пользователях (медиана {runs}: p99 {p99} "
        "мс <= {slo:g} мс, ошибки {err} <= {maxerr:g}%).",
        "none": "Ни одна ступень не уложилась в SLO (медиана p99 <= {slo:g} мс, ошибки <= "
        "{maxerr:g}%).",
        "step_runs": "Прогонов",
        "capacity_spread": "Ёмкость по повторам (мин-макс)",
        "scaling": "Масштабирование {candidate} относительно {baseline}: ёмкость x{ratio} "
        "(медианы); внутри повторов от x{low} до x{high}.",
        "scaling_none": "Масштабирование {candidate} относительно {baseline}: не измерено "
        "(нет ёмкости).",
        "cumulative": "Примечание: история записана без --csv-full-history, поэтому p99 "
        "ступени накопленный с начала прогона, а не собственный.",
        "think-time bound": "ограничено паузой пользователей",
        "server saturated": "сервер насыщен",
        "generator bound": "ограничено генератором нагрузки",
        "generator_cpu": "CPU генератора, самый загруженный процесс (всего)",
        "capacity_run": "Прогон",
        "capacity_rps": "Ёмкость, запр./с (медиана)",
        "capacity_users": "При пользователях",
        "capacity_p99": "p99 при этом",
        "capacity_steps": "Повторов",
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


def _range(low: float | None, high: float | None, fmt: str = ".1f") -> str:
    if low is None or high is None:
        return "-"
    if f"{low:{fmt}}" == f"{high:{fmt}}":
        return f"{low:{fmt}}"
    return f"{low:{fmt}}-{high:{fmt}}"


def capacity_summary_table(
    capacities: Sequence[RepeatedCapacity],
    lang: str = "en",
    generator_cpu: dict[str, tuple[float | None, float | None]] | None = None,
) -> str:
    """One row per scenario: the capacity (median step within the SLO), the spread of the
    repetitions' own capacities, the step, and the generator's CPU (busiest process, all)."""
    t = text(lang)
    cpu = generator_cpu or {}
    header = [
        t["capacity_run"],
        t["capacity_rps"],
        t["capacity_spread"],
        t["capacity_users"],
        t["capacity_p99"],
        t["capacity_steps"],
        t["generator_cpu"],
    ]
    rows = []
    for result in capacities:
        own = [value for value in result.per_repetition if value is not None]
        spread = _range(min(own), max(own)) if own else "-"
        if own and len(own) < result.repetitions:
            spread += f" ({result.repetitions - len(own)} x {t['capacity_none']})"
        load = _cpu(*cpu.get(result.name, (None, None)))
        reps = str(result.repetitions)
        best = result.best
        if best is None or best.p99_median is None:
            rows.append([result.name, t["capacity_none"], spread, "-", "-", reps, load])
        else:
            rps = f"{best.rps_median:.1f}"
            p99 = _ms(best.p99_median, lang)
            rows.append([result.name, rps, spread, str(best.users), p99, reps, load])
    return _table(header, rows)


def capacity_table(result: RepeatedCapacity, lang: str = "en") -> str:
    """Per step: RPS and p99 as median (min-max over the repetitions), errors, whether the
    medians meet the SLO, and the capacity sentence."""
    t = text(lang)
    header = [
        t["step_users"],
        t["step_runs"],
        t["step_rps"],
        t["step_p99"],
        t["step_errors"],
        t["within"],
    ]
    rows = []
    for step in result.steps:
        rps = f"{step.rps_median:.1f}"
        if result.repetitions > 1:
            rps += f" ({_range(step.rps_min, step.rps_max)})"
        p99 = "-" if step.p99_median is None else _ms(step.p99_median, lang)
        if result.repetitions > 1 and step.p99_min is not None:
            p99 += f" ({_range(step.p99_min, step.p99_max, 'g')})"
        rows.append(
            [
                str(step.users),
                f"{step.runs}/{result.repetitions}",
                rps,
                p99,
                format_pct(step.error_pct_median),
                t["yes"] if step.within else t["no"],
            ]
        )
    lines = [_table(header, rows), ""]
    best = result.best
    if best is not None and best.p99_median is not None:
        lines.append(
            t["best"].format(
                rps=best.rps_median,
                users=best.users,
                runs=result.repetitions,
                p99=f"{best.p99_median:g}",
                slo=result.slo_p99_ms,
                err=format_pct(best.error_pct_median),
                maxerr=result.max_error_pct,
            )
        )
    else:
        lines.append(t["none"].format(slo=result.slo_p99_ms, maxerr=result.max_error_pct))
    if any(item.p99_is_cumulative for item in result.results):
        lines += ["", t["cumulative"]]
    return "\n".join(lines)


def scaling_lines(ratios: Sequence[ScalingRatio], lang: str = "en") -> list[str]:
    """One sentence per pair: the ratio of the median capacities and its spread."""
    t = text(lang)
    lines = []
    for ratio in ratios:
        if ratio.ratio is None:
            lines.append(
                t["scaling_none"].format(baseline=ratio.baseline, candidate=ratio.candidate)
            )
            continue
        low = "-" if ratio.ratio_min is None else f"{ratio.ratio_min:.2f}"
        high = "-" if ratio.ratio_max is None else f"{ratio.ratio_max:.2f}"
        lines.append(
            t["scaling"].format(
                baseline=ratio.baseline,
                candidate=ratio.candidate,
                ratio=f"{ratio.ratio:.2f}",
                low=low,
                high=high,
            )
        )
    return lines


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
        "bottleneck": "What saturated (sampled on the nodes during each run)",
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
        "bottleneck": "Что насыщалось (замеры на узлах во время каждого прогона)",
    },
}


def render_markdown(
    runs: Sequence[RunSummary],
    comparisons: Sequence[tuple[RunSummary, RunSummary]],
    verdicts: Sequence[tuple[str, SaturationVerdict | None]],
    capacities: Sequence[RepeatedCapacity] = (),
    instances: Sequence[tuple[str, dict[str, int]]] = (),
    lang: str = "en",
    generator_total: dict[str, float | None] | None = None,
    capacity_cpu: dict[str, tuple[float | None, float | None]] | None = None,
    scaling: Sequence[ScalingRatio] = (),
    saturated: Sequence[tuple[str, str]] = (),
    redis_answer: str = "",
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
        first = capacities[0]
        heading = h["capacity_all"].format(slo=first.slo_p99_ms, maxerr=first.max_error_pct)
        table = capacity_summary_table(capacities, lang, capacity_cpu)
        parts += [f"## {heading}", "", table, ""]
        for line in scaling_lines(scaling, lang):
            parts += [line, ""]
    for result in capacities:
        title = h["capacity"].format(name=result.name)
        parts += [f"## {title}", "", capacity_table(result, lang), ""]
    if saturated:
        parts += [f"## {h['bottleneck']}", ""]
        parts += [f"- **{name}**: {line}" for name, line in saturated]
        parts.append("")
        if redis_answer:
            parts += [redis_answer, ""]
    shown = [(name, counts) for name, counts in instances if counts]
    if shown:
        parts += [f"## {h['instances']}", ""]
        for name, counts in shown:
            spread = ", ".join(f"{key}: {value}" for key, value in sorted(counts.items()))
            parts += [f"- {name}: {spread}"]
        parts.append("")
    return "\n".join(parts).rstrip() + "\n"
