"""The worker against real Redis and PostgreSQL: upserts, bad input, outages, SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import psycopg2.errors
import pytest
import redis
from voting import load_settings, vote
from voting.store import VOTES_KEY, Vote
from voting.worker import Backoff, Worker, check

from tests.voting.votingutil import APP_DIR, settings_for, stored_votes, worker_env


def fast_worker(config) -> Worker:
    """A worker whose backoff waits only a little (tests wait for outages themselves)."""
    return Worker(load_settings(config), backoff=Backoff(initial=0.05, maximum=0.2))


def push(rdb, *votes: tuple[str, str]) -> None:
    for voter_id, choice in votes:
        rdb.rpush(VOTES_KEY, json.dumps({"voter_id": voter_id, "vote": choice}))


def drain(worker: Worker, rdb, limit: int = 1000) -> None:
    """Run iterations until the queue is empty and nothing is pending."""
    for _ in range(limit):
        if rdb.llen(VOTES_KEY) == 0 and worker.pending is None:
            return
        worker.run_once()
    raise AssertionError("queue not drained")


def test_worker_stores_votes_and_creates_the_table(config, rdb, pg):
    push(rdb, ("v1", "a"), ("v2", "b"), ("v3", "a"))
    worker = fast_worker(config)
    try:
        assert [worker.run_once() for _ in range(3)] == [True, True, True]
    finally:
        worker.shutdown()
    assert worker.processed == 3
    assert stored_votes(pg) == {"v1": "a", "v2": "b", "v3": "a"}
    assert rdb.llen(VOTES_KEY) == 0


def test_changing_a_vote_replaces_it(config, rdb, pg):
    push(rdb, ("alice", "a"), ("bob", "a"), ("alice", "b"), ("alice", "a"), ("alice", "b"))
    worker = fast_worker(config)
    try:
        drain(worker, rdb)
    finally:
        worker.shutdown()
    assert stored_votes(pg) == {"alice": "b", "bob": "a"}


def test_votes_from_the_vote_app_reach_postgres(config, rdb, pg):
    app_client = vote.create_app(config).test_client()
    voter_id = app_client.post("/api/vote", json={"vote": "a"}).get_json()["voter_id"]
    app_client.post("/", data={"vote": "b"})  # same cookie: changes the vote
    other = vote.create_app(config).test_client()
    other_id = other.post("/api/vote", json={"vote": "a"}).get_json()["voter_id"]
    worker = fast_worker(config)
    try:
        drain(worker, rdb)
    finally:
        worker.shutdown()
    assert stored_votes(pg) == {voter_id: "b", other_id: "a"}


def test_empty_queue_iteration_touches_health_file(config, tmp_path):
    worker = fast_worker(config)
    health = tmp_path / "worker-alive"
    try:
        started = time.monotonic()
        assert worker.run_once() is False  # BLPOP timed out
        assert 0.5 < time.monotonic() - started < 5
        assert health.exists()
        assert check(worker.settings) == 0
    finally:
        worker.shutdown()
    assert not health.exists()  # removed on shutdown


def test_health_check_fails_when_stale_or_missing(config, tmp_path, capsys):
    settings = load_settings({**config, "WORKER_HEALTH_MAX_AGE": 30})
    health = tmp_path / "worker-alive"
    assert check(settings) == 1
    health.touch()
    assert check(settings) == 0
    old = time.time() - 31
    os.utime(health, (old, old))
    assert check(settings) == 1
    assert "unhealthy" in capsys.readouterr().err


def test_malformed_messages_are_dropped(config, rdb, pg):
    rdb.rpush(VOTES_KEY, "not json", json.dumps({"voter_id": "x", "vote": "c"}), "[1]")
    push(rdb, ("ok", "b"))
    worker = fast_worker(config)
    try:
        drain(worker, rdb)
    finally:
        worker.shutdown()
    assert worker.dropped == 3
    assert stored_votes(pg) == {"ok": "b"}


def test_worker_survives_a_redis_restart(config, rdb, redis_factory, pg, caplog):
    server = redis_factory()
    server.start()
    cfg = {**config, "REDIS_PORT": server.port}
    worker = fast_worker(cfg)
    private = server.client(decode_responses=True)
    try:
        push(private, ("before", "a"))
        assert worker.run_once() is True
        server.stop()
        assert worker.run_once() is False  # logged, connection dropped, backoff
        assert worker.redis is None
        assert "redis unavailable" in caplog.text
        server.start()
        push(private, ("after", "b"))
        drain(worker, private)
    finally:
        private.close()
        worker.shutdown()
    assert stored_votes(pg) == {"before": "a", "after": "b"}


def test_a_vote_popped_during_a_postgres_outage_is_not_lost(
    redis_server, postgres_factory, rdb, tmp_path, caplog
):
    rdb.flushall()
    db = postgres_factory()
    db.start()
    worker = fast_worker(settings_for(redis_server, db, tmp_path))
    try:
        push(rdb, ("v1", "a"))
        assert worker.run_once() is True
        db.stop()
        push(rdb, ("v2", "b"))
        assert worker.run_once() is False  # popped v2, could not store it
        assert worker.pending is not None and worker.pending.voter_id == "v2"
        assert rdb.llen(VOTES_KEY) == 0
        assert "postgres unavailable" in caplog.text
        assert worker.run_once() is False  # still down: reconnect fails
        db.start()
        assert worker.run_once() is True  # reconnected, pending vote stored
    finally:
        worker.shutdown()
    conn = db.connect()
    try:
        assert stored_votes(conn) == {"v1": "a", "v2": "b"}
    finally:
        conn.close()


def test_pending_vote_goes_back_to_redis_on_shutdown(config, rdb, tmp_path):
    worker = fast_worker({**config, "DB_PORT": 1})  # no database at all
    worker.redis = redis.Redis(host="127.0.0.1", port=config["REDIS_PORT"], decode_responses=True)
    worker.pending = Vote("late", "a")
    worker.shutdown()
    assert [json.loads(x) for x in rdb.lrange(VOTES_KEY, 0, -1)] == [
        {"voter_id": "late", "vote": "a"}
    ]


def test_run_stops_after_iterations_or_when_stopped(config, rdb):
    worker = fast_worker(config)
    push(rdb, ("a1", "a"), ("a2", "a"))
    assert worker.run(iterations=2) == 2
    worker = fast_worker(config)
    worker.stop()
    assert worker.run() == 0


def stored_votes_or_empty(conn) -> dict[str, str]:
    """Like stored_votes, but empty while the worker has not created the table yet."""
    try:
        return stored_votes(conn)
    except psycopg2.errors.UndefinedTable:
        return {}


def start_worker(processes, config) -> subprocess.Popen:
    return processes.spawn(
        [sys.executable, "-m", "voting.worker"],
        cwd=APP_DIR,
        env=worker_env(config),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(predicate, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.1)


def test_real_worker_process_and_sigterm(config, rdb, pg, processes, tmp_path):
    proc = start_worker(processes, config)
    health = tmp_path / "worker-alive"
    push(rdb, *[(f"voter{i}", "ab"[i % 2]) for i in range(20)])
    try:
        wait_for(lambda: health.exists() and len(stored_votes_or_empty(pg)) == 20)
        probe = subprocess.run(
            [sys.executable, "-m", "voting.worker", "--check"],
            cwd=APP_DIR,
            env=worker_env(config),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert probe.returncode == 0, probe.stderr
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert time.monotonic() - started < 5
        assert proc.stderr is not None
        log = proc.stderr.read()
    finally:
        processes.stop(proc)
    assert "received SIGTERM, stopping" in log
    assert "worker stopped: 20 vote(s) stored" in log
    assert not health.exists()
    votes = stored_votes(pg)
    assert len(votes) == 20
    assert list(votes.values()).count("a") == 10


def test_two_real_workers_share_the_queue(config, rdb, pg, processes):
    workers = [start_worker(processes, config) for _ in range(2)]
    push(rdb, *[(f"v{i}", "ab"[i % 3 == 0]) for i in range(300)])
    wait_for(lambda: len(stored_votes_or_empty(pg)) == 300)
    for proc in workers:
        proc.send_signal(signal.SIGTERM)
    for proc in workers:
        assert proc.wait(timeout=10) == 0
    votes = stored_votes(pg)
    assert sum(v == "b" for v in votes.values()) == 100


def test_check_option_without_health_file(config):
    env = worker_env(config)
    probe = subprocess.run(
        [sys.executable, "-m", "voting.worker", "--check"],
        cwd=APP_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert probe.returncode == 1
    assert "does not exist" in probe.stderr


@pytest.mark.parametrize(("name", "value"), [("REDIS_PORT", "x"), ("DB_PORT", "70000")])
def test_bad_configuration_exits_2(config, name, value):
    env = {**worker_env(config), name: value}
    probe = subprocess.run(
        [sys.executable, "-m", "voting.worker"],
        cwd=APP_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert probe.returncode == 2
    assert name in probe.stderr
