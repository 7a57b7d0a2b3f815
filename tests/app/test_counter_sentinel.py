"""A real Redis Sentinel (``redis-server --sentinel``) in front of the test Redis."""

from __future__ import annotations

import time

from counter import create_app, get_state


def test_app_reaches_master_through_sentinel(sentinel):
    port, master = sentinel
    app = create_app(
        {
            "REDIS_HOST": "unused.invalid",
            "REDIS_PASSWORD": "",
            "REDIS_SENTINELS": f"127.0.0.1:{port}",
            "REDIS_SENTINEL_MASTER": "mymaster",
        }
    )
    assert get_state(app).settings.use_sentinel
    client = app.test_client()
    assert client.get("/readyz").status_code == 200
    assert client.get("/").get_data(as_text=True) == "Hello! I have been seen 1 times.\n"
    assert client.post("/api/counters/s/incr", json={"by": 5}).get_json()["value"] == 5
    direct = master.client(decode_responses=True)
    try:
        assert direct.get("hits") == "1"
        assert direct.hget("counters", "s") == "5"
    finally:
        direct.close()


def test_unknown_master_name_is_503(sentinel):
    port, _ = sentinel
    client = create_app(
        {"REDIS_SENTINELS": f"127.0.0.1:{port}", "REDIS_SENTINEL_MASTER": "nosuchmaster"}
    ).test_client()
    response = client.get("/")
    assert response.status_code == 503
    assert response.get_json() == {"error": "redis unavailable"}
    assert client.get("/readyz").status_code == 503
    assert client.get("/healthz").status_code == 200


def test_all_sentinels_down_is_503(redis_factory):
    dead = redis_factory()  # nothing listens on this port
    client = create_app({"REDIS_SENTINELS": f"127.0.0.1:{dead.port}"}).test_client()
    started = time.monotonic()
    assert client.post("/api/counters/q/incr").status_code == 503
    assert time.monotonic() - started < 2
