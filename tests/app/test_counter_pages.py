"""GET /, health endpoints, JSON errors for unknown routes, X-Instance."""

from __future__ import annotations

import os
import re
import socket

from counter import create_app


def test_index_counts_hits(client, rdb):
    first = client.get("/")
    second = client.get("/")
    assert first.status_code == 200
    assert first.mimetype == "text/html"
    assert first.get_data(as_text=True) == "Hello! I have been seen 1 times.\n"
    assert second.get_data(as_text=True) == "Hello! I have been seen 2 times.\n"
    assert rdb.get("hits") == "2"


def test_index_continues_from_stored_value(client, rdb):
    rdb.set("hits", 41)
    assert "seen 42 times" in client.get("/").get_data(as_text=True)


def test_x_instance_header_on_every_response(client):
    expected = f"{socket.gethostname()}:{os.getpid()}"
    for method, path in [
        ("get", "/"),
        ("get", "/healthz"),
        ("get", "/readyz"),
        ("get", "/metrics"),
        ("get", "/api/counters"),
        ("get", "/api/counters/missing"),
        ("get", "/no/such/page"),
        ("post", "/healthz"),
        ("put", "/api/counters/bad%20name"),
    ]:
        response = getattr(client, method)(path)
        assert response.headers.get("X-Instance") == expected, (method, path)


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_healthz_does_not_touch_redis(redis_factory):
    # a port where nothing listens: /healthz must still be 200, /readyz 503
    dead = redis_factory()
    app = create_app({"REDIS_HOST": "127.0.0.1", "REDIS_PORT": dead.port, "REDIS_SENTINELS": ""})
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 503


def test_readyz_when_redis_is_up(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ready"}


def test_unknown_route_is_json_404(client):
    response = client.get("/nope")
    assert response.status_code == 404
    assert response.is_json
    assert set(response.get_json()) == {"error"}


def test_wrong_method_is_json_405_with_allow(client):
    response = client.post("/")
    assert response.status_code == 405
    assert "error" in response.get_json()
    allow = {m.strip() for m in response.headers["Allow"].split(",")}
    assert "GET" in allow


def test_too_large_body_is_json_413(client):
    response = client.put("/api/counters/big", data=b"x" * (65 * 1024))
    assert response.status_code == 413
    assert "error" in response.get_json()


def test_index_body_matches_load_test_regex(client):
    body = client.get("/").get_data(as_text=True)
    assert re.fullmatch(r"Hello! I have been seen (\d+) times\.\n", body)
