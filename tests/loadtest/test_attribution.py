# ruff: noqa: RUF001  (Russian text: Cyrillic letters are intended)
"""loadtest/attribution.py: figures and the saturated resource, on probe output recorded from
the live lab (tests/loadtest/fixtures/probe/) and on synthetic samples, one per rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loadtest import attribution as at

PROBE_DIR = Path(__file__).resolve().parent / "fixtures" / "probe"
T0 = 1_000_000.0


# --- synthetic samples (cumulative counters, as the probe writes them) -------------------------


def task_series(
    service: str,
    task: str,
    cpu_pct: float,
    limit: float | None = 0.5,
    throttled_frac: float = 0.0,
    node: str = "n1",
    n: int = 31,
    dt: float = 2.0,
    start: float = T0,
) -> list[dict]:
    out = []
    for i in range(n):
        periods = int(i * dt * 10) if limit else 0
        out.append(
            {
                "t": start + i * dt,
                "kind": "task",
                "node": node,
                "stack": service.split("_")[0],
                "service": service,
                "task": task,
                "cpu_usage_ns": int(i * dt * cpu_pct / 100 * 1e9),
                "periods": periods,
                "throttled_periods": int(periods * throttled_frac),
                "throttled_ns": 0,
                "cpu_limit": limit,
            }
        )
    return out


def host_series(busy_pct: float, node: str = "n1", n: int = 31, dt: float = 2.0) -> list[dict]:
    ticks = 200 * dt  # 2 CPUs at 100 Hz
    return [
        {
            "t": T0 + i * dt + 0.01,
            "kind": "host",
            "node": node,
            "cpu_ticks_total": int(i * ticks),
            "cpu_ticks_idle": int(i * ticks * (1 - busy_pct / 100)),
            "ncpu": 2,
        }
        for i in range(n)
    ]


def redis_series(ops: float, cpu_pct: float, n: int = 31, dt: float = 2.0) -> list[dict]:
    return [
        {
            "t": T0 + i * dt + 0.02,
            "kind": "redis",
            "node": "n1",
            "addr": "counter_redis:6379",
            "role": "master",
            "total_commands_processed": int(i * dt * ops),
            "instantaneous_ops_per_sec": int(ops),
            "connected_clients": 9,
            "used_cpu_user": i * dt * cpu_pct / 100 * 0.6,
            "used_cpu_sys": i * dt * cpu_pct / 100 * 0.4,
        }
        for i in range(n)
    ]


def haproxy_series(qcur: int, scur: int, n: int = 31, dt: float = 2.0) -> list[dict]:
    out = []
    for i in range(n):
        t = T0 + i * dt + 0.03
        common = {"t": t, "kind": "haproxy", "node": "n1", "url": "http://e:8404/stats;csv"}
        common |= {"proxy": "app", "qmax": qcur, "smax": scur, "stot": i, "rate": 1}
        out.append({**common, "server": "app1", "qcur": 0, "scur": scur, "status": "UP"})
        out.append({**common, "server": "app2", "qcur": 0, "scur": 0, "status": "MAINT"})
        out.append({**common, "server": "BACKEND", "qcur": qcur, "scur": scur, "status": "UP"})
    return out


def lab(
    app_cpu: float = 20.0,
    app_throttled: float = 0.02,
    redis_cpu: float = 5.0,
    host_busy: float = 40.0,
    queue: int = 0,
    replicas: int = 4,
) -> list[dict]:
    samples = []
    for i in range(replicas):
        samples += task_series("counter_app", f"counter_app.{i + 1}.x", app_cpu, 0.5, app_throttled)
    samples += task_series("counter_redis", "counter_redis.1.x", redis_cpu, None)
    samples += host_series(host_busy)
    samples += redis_series(1200, redis_cpu)
    samples += haproxy_series(queue, 30)
    return sorted(samples, key=lambda r: r["t"])


WINDOW = (T0, T0 + 60)


# --- figures ----------------------------------------------------------------------------------


def test_window_figures_synthetic() -> None:
    figures = at.window_figures(lab(app_cpu=45, app_throttled=0.4, host_busy=70), *WINDOW)
    app = figures.services["counter_app"]
    assert app.tasks == 4
    assert app.cpu_pct_per_task == pytest.approx(45, abs=0.1)
    assert app.cpu_pct_total == pytest.approx(180, abs=0.5)
    assert app.cpu_limit == 0.5
    assert app.quota_use_pct == pytest.approx(90, abs=0.2)
    assert app.throttled_pct == pytest.approx(40, abs=0.5)
    redis_task = figures.services["counter_redis"]
    assert redis_task.cpu_limit is None and redis_task.throttled_pct is None
    assert figures.hosts["n1"].busy_pct == pytest.approx(70, abs=0.5)
    redis = figures.redis["counter_redis:6379"]
    assert redis.ops_per_s == pytest.approx(1200, rel=0.01)
    assert redis.cpu_pct == pytest.approx(5, abs=0.05)
    assert redis.role == "master" and redis.clients_mean == 9
    (haproxy,) = figures.haproxy.values()
    assert (haproxy.qcur_mean, haproxy.qcur_max, haproxy.scur_mean) == (0, 0, 30)
    assert haproxy.servers_up == 1
    assert figures.to_dict()["services"]["counter_app"]["tasks"] == 4


def test_window_takes_only_its_pairs() -> None:
    slow = task_series("s_a", "s_a.1", 10, None, n=16)
    fast = task_series("s_a", "s_a.1", 80, None, n=16, start=T0 + 30)
    # the counter goes on from where the slow part ended
    offset = slow[-1]["cpu_usage_ns"]
    for record in fast:
        record["cpu_usage_ns"] += offset
    samples = slow + fast[1:]
    assert at.window_figures(samples, T0, T0 + 29).services["s_a"].cpu_pct_per_task == (
        pytest.approx(10, abs=0.1)
    )
    assert at.window_figures(samples, T0 + 31, T0 + 60).services["s_a"].cpu_pct_per_task == (
        pytest.approx(80, abs=0.1)
    )


def test_counter_reset_is_skipped() -> None:
    series = task_series("s_a", "s_a.1", 30, None, n=11)
    for record in series[6:]:  # the same task name, counters from 0 again (a restart)
        record["cpu_usage_ns"] -= series[5]["cpu_usage_ns"] + 10**9
    figures = at.window_figures(series, T0, T0 + 20)
    assert figures.services["s_a"].cpu_pct_per_task == pytest.approx(30, abs=0.5)


def test_load_samples_skips_a_cut_line(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text('{"t": 2, "kind": "host"}\n{"t": 1, "kind": "host"}\n')
    (tmp_path / "b.jsonl").write_text('{"t": 3, "kind": "task"}\n{"t": 4, "kin')
    (tmp_path / "notes.txt").write_text("not read")
    samples = at.load_samples([tmp_path])
    assert [s["t"] for s in samples] == [1, 2, 3]
    assert at.load_samples([tmp_path / "a.jsonl"])[0]["t"] == 1


# --- one rule at a time -----------------------------------------------------------------------


def test_throttled_app_is_named() -> None:
    result = at.attribute(at.window_figures(lab(app_cpu=30, app_throttled=0.41), *WINDOW), 45.0)
    assert result.limit == "service:counter_app"
    assert [f.resource for f in result.saturated] == ["service:counter_app"]
    assert not result.redis_is_limit
    assert result.sentence_en.startswith(
        "Saturated: app replicas (counter_app) throttled in 41 % of CFS periods at their "
        "0.5-CPU quota, 60 % of quota (30 % of a core per task, 4 tasks). Not saturated: "
    )
    assert "Redis 5 % CPU (1,200 ops/s)" in result.sentence_en
    assert "HAProxy queue 0 (max 0), 30 sessions to backend app" in result.sentence_en
    assert "host n1 40 % busy (2 CPUs)" in result.sentence_en
    assert "generator 45 % of a core" in result.sentence_en
    # the Redis container is not listed twice (Redis INFO speaks for it)
    assert "counter_redis" not in result.sentence_en
    assert result.sentence_ru.startswith(
        "Насыщено: реплики app (counter_app): троттлинг в 41 % периодов CFS при квоте 0,5 CPU"
    )
    assert "Redis 5 % CPU (1\u00a0200 оп/с)" in result.sentence_ru
    assert "does not hold" in result.claim_en and "the limit is elsewhere: app" in result.claim_en
    assert "не подтверждается" in result.claim_ru


def test_app_at_its_quota_is_named_without_throttling() -> None:
    result = at.attribute(at.window_figures(lab(app_cpu=46, app_throttled=0.05), *WINDOW), None)
    assert result.limit == "service:counter_app"
    assert "92 % of quota" in result.sentence_en
    assert "Not sampled: generator." in result.sentence_en


def test_busy_redis_is_the_limit() -> None:
    figures = at.window_figures(lab(redis_cpu=97, app_cpu=20), *WINDOW)
    result = at.attribute(figures, 30.0, lang="ru")
    assert result.limit == "redis"
    assert result.redis_is_limit is True
    assert result.sentence_en.startswith("Saturated: Redis 97 % CPU (1,200 ops/s). Not saturated: ")
    assert result.claim_en.startswith(
        'The seed report\'s claim "Redis is the main limit" holds for this run: Redis used 97 %'
    )
    assert result.sentence == result.sentence_ru
    assert result.claim == result.claim_ru and "подтверждается: Redis занял 97 %" in result.claim


def test_redis_saturated_but_not_first() -> None:
    figures = at.window_figures(lab(redis_cpu=88, app_cpu=40, app_throttled=0.6), *WINDOW)
    result = at.attribute(figures, 30.0)
    assert [f.resource for f in result.saturated] == ["service:counter_app", "redis"]
    assert result.redis_is_limit is False
    assert "holds only in part" in result.claim_en


def test_nothing_saturated() -> None:
    result = at.attribute(at.window_figures(lab(), *WINDOW), 12.0)
    assert result.saturated == [] and result.limit is None
    assert result.sentence_en.startswith("Nothing saturated: ")
    assert result.sentence_ru.startswith("Ничто не насыщено: ")
    assert not result.redis_is_limit
    assert "no resource saturated" in result.claim_en


def test_busy_host_generator_and_queue_by_severity() -> None:
    figures = at.window_figures(lab(host_busy=99, queue=3), *WINDOW)
    result = at.attribute(figures, 95.0)
    # queue 3 / 1 = 3.0; host 99 / 90 = 1.1; generator 95 / 90 = 1.06
    assert [f.resource for f in result.saturated] == ["haproxy", "host", "generator"]
    assert result.sentence_en.startswith(
        "Saturated: HAProxy queue 3 (max 3), 30 sessions to backend app; host n1 99 % busy "
        "(2 CPUs); generator 95 % of a core. Not saturated: "
    )


def test_several_hosts_are_listed_busiest_first() -> None:
    samples = lab() + host_series(93, node="n2") + host_series(20, node="n3")
    result = at.attribute(at.window_figures(samples, *WINDOW), None)
    assert result.limit == "host"
    assert "hosts n2 93 %, n1 40 %, n3 20 % busy" in result.sentence_en
    assert "хосты заняты: n2 93 %, n1 40 %, n3 20 %" in result.sentence_ru


def test_window_without_samples() -> None:
    figures = at.window_figures(lab(), T0 + 1000, T0 + 1060)
    assert figures.services == {} and figures.redis == {} and figures.probe is None
    result = at.attribute(figures, None)
    assert result.sentence_en == "No probe data for the run."
    assert result.sentence_ru == "Нет данных зонда за прогон."
    assert "cannot be checked" in result.claim_en and "не проверить" in result.claim_ru
    assert result.redis_is_limit is False
    only_generator = at.attribute(figures, 50.0)
    assert only_generator.sentence_en == (
        "Nothing saturated: generator 50 % of a core. "
        "Not sampled: service tasks, Redis, HAProxy, host CPU."
    )


def test_to_dict_is_json() -> None:
    result = at.attribute(at.window_figures(lab(app_throttled=0.5), *WINDOW), 10.0)
    data = json.loads(json.dumps(result.to_dict()))
    assert data["limit"] == "service:counter_app" and data["redis_is_limit"] is False


# --- CPU over time ----------------------------------------------------------------------------


def test_cpu_series() -> None:
    samples = lab(app_cpu=25, replicas=4)
    series = at.cpu_series(samples, T0, T0 + 60, 10)
    assert set(series) == {"counter_app", "counter_redis"}
    points = series["counter_app"]
    assert [x for x, _ in points] == [5, 15, 25, 35, 45, 55]
    assert all(y == pytest.approx(100, abs=0.5) for _, y in points)  # 4 x 25 %
    with pytest.raises(ValueError, match="window_s"):
        at.cpu_series(samples, T0, T0 + 60, 0)


def test_plot_service_cpu(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    series = {
        "one": at.cpu_series(lab(app_cpu=40), T0, T0 + 60, 4),
        "two": at.cpu_series(lab(app_cpu=10), T0, T0 + 60, 4),
    }
    out = at.plot_service_cpu(series, tmp_path / "plots" / "service-cpu.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --- probe output recorded on the live lab ----------------------------------------------------


@pytest.fixture(scope="module")
def recorded() -> tuple[list[dict], dict]:
    runs = json.loads((PROBE_DIR / "runs.json").read_text())["runs"]
    return at.load_samples([PROBE_DIR]), runs


def test_recorded_samples_have_every_kind(recorded: tuple[list[dict], dict]) -> None:
    samples, _ = recorded
    kinds = {s["kind"] for s in samples}
    assert kinds >= {"start", "task", "host", "redis", "haproxy", "probe"}
    assert {s["node"] for s in samples if s["kind"] == "host"} == {"manager1", "worker1", "worker2"}
    app = [s for s in samples if s["kind"] == "task" and s["service"] == "counter_app"]
    assert {s["cpu_limit"] for s in app} == {0.5}
    assert len({s["task"] for s in app}) == 4


def test_recorded_light_run_saturates_nothing(recorded: tuple[list[dict], dict]) -> None:
    samples, runs = recorded
    run = runs["light"]
    figures = at.window_figures(samples, run["started"], run["stopped"])
    app = figures.services["counter_app"]
    assert app.tasks == 4 and app.quota_use_pct < 10 and app.throttled_pct < 5
    (redis,) = figures.redis.values()
    # ~25 requests/s, about one Redis command each (plus the probe's INFO)
    assert 10 < redis.ops_per_s < 60 and redis.cpu_pct < 5
    assert all(host.busy_pct < 60 for host in figures.hosts.values())
    result = at.attribute(figures, run["generator_cpu_pct"])
    assert result.saturated == []
    assert result.sentence_en.startswith("Nothing saturated: ")
    assert not result.redis_is_limit
    assert "no resource saturated" in result.claim_en


def test_recorded_heavy_run_host_is_the_limit_not_redis(recorded: tuple[list[dict], dict]) -> None:
    samples, runs = recorded
    run = runs["heavy"]
    figures = at.window_figures(samples, run["started"], run["stopped"])
    app = figures.services["counter_app"]
    assert 40 < app.quota_use_pct < 60 and app.throttled_pct < at.SERVICE_THROTTLED_PCT
    assert 80 < app.cpu_pct_total < 110  # 4 replicas together, % of one core
    (redis,) = figures.redis.values()
    assert 1000 < redis.ops_per_s < 2000 and redis.cpu_pct < 15
    (haproxy,) = figures.haproxy.values()
    assert haproxy.qcur_max == 0 and 15 < haproxy.scur_mean <= 40 and haproxy.servers_up == 4
    assert max(host.busy_pct for host in figures.hosts.values()) >= at.HOST_BUSY_PCT
    assert figures.probe is not None and figures.probe.cpu_pct < 1 and not figures.probe.errors
    result = at.attribute(figures, run["generator_cpu_pct"])
    assert result.limit == "host" and [f.resource for f in result.saturated] == ["host"]
    assert result.redis_is_limit is False
    assert result.sentence_en == (
        "Saturated: hosts worker1 93 %, worker2 91 %, manager1 90 % busy. Not saturated: app "
        "replicas (counter_app) throttled in 6.4 % of CFS periods at their 0.5-CPU quota, 50 % "
        "of quota (25 % of a core per task, 4 tasks); generator 41 % of a core; Redis 7.1 % CPU "
        "(1,328 ops/s); app-edge (counter_app-edge) 0.1 % of a core, no CPU limit; edge "
        "(probetest_edge) 16 % of a core, no CPU limit; HAProxy queue 0 (max 0), 25 sessions "
        "to backend app."
    )
    assert result.claim_en.startswith(
        'The seed report\'s claim "Redis is the main limit" does not hold for this run: Redis '
        "used only 7.1 % of a core at 1,328 ops/s (saturated from 85 %); the limit is "
        "elsewhere: hosts worker1 93 %"
    )
    assert result.sentence_ru.startswith("Насыщено: хосты заняты: worker1 93 %, worker2 91 %")


def test_recorded_cpu_series(recorded: tuple[list[dict], dict], tmp_path: Path) -> None:
    samples, runs = recorded
    series = {
        name: at.cpu_series(samples, run["started"], run["stopped"], 4)
        for name, run in runs.items()
    }
    heavy = dict(series["heavy"]["counter_app"])
    assert len(heavy) >= 6 and max(heavy.values()) > 80
    assert max(y for _, y in series["light"]["counter_app"]) < 20
    pytest.importorskip("matplotlib")
    out = at.plot_service_cpu(series, tmp_path / "service-cpu.png", lang="ru")
    assert out.stat().st_size > 10_000
