"""Redis outages: fast 503 JSON errors, no traceback, recovery without restart."""

from __future__ import annotations

import logging
import os
import signal
import time

import pytest
from counter import create_app


def make_client(server, **extra):
    config = {
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": server.port,
        "REDIS_PASSWORD": "",
        "REDIS_SENTINELS": "",
        **extra,
    }
    return create_app(config).test_client()


REDIS_ENDPOINTS = [
    ("get", "/", None),
    ("get", "/api/counters", None),
    ("get", "/api/counters/a", None),
    ("put", "/api/counters/a", {"value": 1}),
    ("delete", "/api/counters/a", None),
    ("post", "/api/counters/a/incr", {"by": 2}),
]


def test_503_while_down_then_recovers_with_same_app(redis_factory, caplog):
    server = redis_factory()
    server.start()
    client = make_client(server)
    assert client.get("/").status_code == 200  # pool now holds a live connection
    assert client.put("/api/counters/a", json={"value": 1}).status_code == 201

    server.stop()
    caplog.set_level(logging.WARNING)
    for method, path, body in REDIS_ENDPOINTS:
        started = time.monotonic()
        response = getattr(client, method)(path, json=body)
        elapsed = time.monotonic() - started
        assert response.status_code == 503, (method, path)
        assert response.get_json() == {"error": "redis unavailable"}
        assert response.headers["Retry-After"] == "1"
        assert elapsed < 1.0, f"{method} {path} took {elapsed:.2f}s to report Redis down"
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.get_json()["error"].startswith("redis unavailable")
    assert client.get("/healthz").status_code == 200
    warnings = [r for r in caplog.records if "redis unavailable" in r.getMessage()]
    assert len(warnings) == len(REDIS_ENDPOINTS)
    assert all(r.exc_info is None for r in warnings), "no traceback for an outage"

    server.start()  # same port, empty data (no persistence)
    assert client.get("/").get_data(as_text=True) == "Hello! I have been seen 1 times.\n"
    assert client.get("/readyz").status_code == 200
    assert client.post("/api/counters/a/incr", json={"by": 2}).get_json()["value"] == 2


def test_stale_pooled_connections_are_replaced_after_restart(redis_factory):
    server = redis_factory()
    server.start()
    client = make_client(server)
    for _ in range(3):
        assert client.get("/").status_code == 200
    server.stop()
    server.start()  # no request while it was down: the pooled socket is dead
    response = client.get("/")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "Hello! I have been seen 1 times.\n"


def test_never_started_redis_is_503(redis_factory):
    server = redis_factory()  # port chosen, no process
    client = make_client(server)
    response = client.post("/api/counters/z/incr")
    assert response.status_code == 503
    assert response.is_json


def test_hung_redis_times_out_as_504_and_is_not_retried(redis_factory):
    """A frozen Redis (SIGSTOP) gives a 504 after the socket timeout; no second attempt.

    The INCR was sent, so it may be applied: the answer says "in doubt" (504), not
    "not applied" (503). A retried INCR could be applied twice, so it is not retried:
    the server must see no new connection and execute the INCR exactly once.
    """
    server = redis_factory()
    server.start()
    client = make_client(server, REDIS_SOCKET_TIMEOUT=0.3)
    assert client.get("/readyz").status_code == 200  # the app's connection is pooled
    check = server.client(decode_responses=True)
    try:
        connections = check.info("stats")["total_connections_received"]
        os.kill(server.proc.pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            response = client.post("/api/counters/t/incr")
            elapsed = time.monotonic() - started
        finally:
            os.kill(server.proc.pid, signal.SIGCONT)
        assert response.status_code == 504
        assert response.get_json() == {
            "error": "no reply from redis: the write may or may not be applied"
        }
        assert "Retry-After" not in response.headers
        assert 0.25 < elapsed < 1.5
        # the INCR already sent is executed when Redis resumes
        deadline = time.monotonic() + 3
        while check.hget("counters", "t") is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert check.hget("counters", "t") == "1"
        assert check.info("stats")["total_connections_received"] == connections
        assert client.post("/api/counters/t/incr").get_json()["value"] == 2
    finally:
        check.close()


@pytest.mark.parametrize("retries", [0, 1])
def test_retries_setting_still_recovers(redis_factory, retries):
    server = redis_factory()
    server.start()
    client = make_client(server, REDIS_RETRIES=retries)
    assert client.get("/").status_code == 200
    server.stop()
    assert client.get("/").status_code == 503
    server.start()
    assert client.get("/").status_code == 200
