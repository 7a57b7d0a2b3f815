"""Configuration from the environment, without a server."""

from __future__ import annotations

import pytest
from counter import create_app, get_state
from counter.config import Settings, load_settings, parse_sentinels
from redis.sentinel import SentinelConnectionPool


def test_defaults_from_empty_environment():
    s = load_settings({})
    assert s == Settings()
    assert (s.redis_host, s.redis_port, s.redis_db) == ("redis", 6379, 0)
    assert s.redis_password is None
    assert s.sentinels == ()
    assert not s.use_sentinel
    assert s.sentinel_master == "mymaster"
    assert s.socket_timeout == 1.0
    assert (s.wait_replicas, s.wait_timeout_ms) == (0, 500)


def test_values_from_environment():
    s = load_settings(
        {
            "REDIS_HOST": "cache.local",
            "REDIS_PORT": "6380",
            "REDIS_DB": "3",
            "REDIS_PASSWORD": "s3cret",
            "REDIS_SOCKET_TIMEOUT": "0.25",
        }
    )
    assert (s.redis_host, s.redis_port, s.redis_db) == ("cache.local", 6380, 3)
    assert s.redis_password == "s3cret"
    assert s.socket_timeout == 0.25


def test_typed_values_are_accepted():
    s = load_settings({"REDIS_PORT": 7000, "REDIS_DB": 1})
    assert (s.redis_port, s.redis_db) == (7000, 1)


def test_empty_password_means_none():
    assert load_settings({"REDIS_PASSWORD": ""}).redis_password is None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"REDIS_PORT": "abc"}, "REDIS_PORT must be an integer"),
        ({"REDIS_PORT": "0"}, "REDIS_PORT must be >= 1"),
        ({"REDIS_PORT": "70000"}, "REDIS_PORT must be >= 1 and <= 65535"),
        ({"REDIS_DB": "-1"}, "REDIS_DB must be >= 0"),
        ({"REDIS_HOST": " "}, "REDIS_HOST must not be empty"),
        ({"REDIS_SOCKET_TIMEOUT": "0"}, "REDIS_SOCKET_TIMEOUT must be > 0"),
        ({"REDIS_SOCKET_TIMEOUT": "x"}, "REDIS_SOCKET_TIMEOUT must be a number"),
        ({"REDIS_SENTINELS": "a:b"}, "REDIS_SENTINELS"),
        ({"REDIS_SENTINELS": "::1:26379"}, "IPv6"),
        ({"REDIS_SENTINELS": ":26379"}, "empty host"),
        ({"REDIS_SENTINEL_MASTER": ""}, "REDIS_SENTINEL_MASTER must not be empty"),
        ({"REDIS_WAIT_REPLICAS": "-1"}, "REDIS_WAIT_REPLICAS must be >= 0"),
        ({"REDIS_WAIT_REPLICAS": "one"}, "REDIS_WAIT_REPLICAS must be an integer"),
        ({"REDIS_WAIT_TIMEOUT_MS": "0"}, "REDIS_WAIT_TIMEOUT_MS must be >= 1"),
        ({"REDIS_WAIT_TIMEOUT_MS": "0.5"}, "REDIS_WAIT_TIMEOUT_MS must be an integer"),
    ],
)
def test_bad_values_name_the_variable(env, message):
    with pytest.raises(ValueError, match=message):
        load_settings(env)


def test_wait_settings():
    s = load_settings(
        {"REDIS_WAIT_REPLICAS": "2", "REDIS_WAIT_TIMEOUT_MS": "250", "REDIS_SOCKET_TIMEOUT": "0.5"}
    )
    assert (s.wait_replicas, s.wait_timeout_ms) == (2, 250)
    assert (
        load_settings({"REDIS_WAIT_REPLICAS": 1, "REDIS_WAIT_TIMEOUT_MS": 999}).wait_timeout_ms
        == 999
    )


@pytest.mark.parametrize(("timeout_ms", "socket_timeout"), [("1000", "1.0"), ("900", "0.3")])
def test_wait_timeout_must_stay_below_the_socket_timeout(timeout_ms, socket_timeout):
    env = {
        "REDIS_WAIT_REPLICAS": "1",
        "REDIS_WAIT_TIMEOUT_MS": timeout_ms,
        "REDIS_SOCKET_TIMEOUT": socket_timeout,
    }
    with pytest.raises(ValueError, match=r"REDIS_WAIT_TIMEOUT_MS .* REDIS_SOCKET_TIMEOUT"):
        load_settings(env)


def test_wait_timeout_is_not_checked_without_wait():
    """The default 500 ms does not forbid a short socket timeout while WAIT is off."""
    s = load_settings({"REDIS_SOCKET_TIMEOUT": "0.3"})
    assert (s.wait_replicas, s.wait_timeout_ms, s.socket_timeout) == (0, 500, 0.3)


def test_create_app_passes_wait_settings_to_the_store():
    app = create_app({"REDIS_WAIT_REPLICAS": "1", "REDIS_WAIT_TIMEOUT_MS": "300"})
    store = get_state(app).store
    assert (store.wait_replicas, store.wait_timeout_ms) == (1, 300)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", ()),
        (" , ", ()),
        ("host1:26379,host2:26379", (("host1", 26379), ("host2", 26379))),
        (" s1:1 , s2 ,", (("s1", 1), ("s2", 26379))),
        ("[::1]:26380,[fe80::1]", (("::1", 26380), ("fe80::1", 26379))),
        ("10.0.0.5", (("10.0.0.5", 26379),)),
    ],
)
def test_parse_sentinels(raw, expected):
    assert parse_sentinels(raw) == expected


def test_sentinel_settings():
    s = load_settings({"REDIS_SENTINELS": "s1:26379,s2:26380", "REDIS_SENTINEL_MASTER": "cache"})
    assert s.use_sentinel
    assert s.sentinels == (("s1", 26379), ("s2", 26380))
    assert s.sentinel_master == "cache"


def test_create_app_uses_sentinel_pool_when_sentinels_set():
    app = create_app({"REDIS_SENTINELS": "s1:26379", "REDIS_SENTINEL_MASTER": "cache"})
    client = get_state(app).store.client
    assert isinstance(client.connection_pool, SentinelConnectionPool)
    assert client.connection_pool.service_name == "cache"


def test_create_app_direct_connection_settings():
    app = create_app(
        {"REDIS_HOST": "h", "REDIS_PORT": "6390", "REDIS_DB": "2", "REDIS_SENTINELS": ""}
    )
    kwargs = get_state(app).store.client.connection_pool.connection_kwargs
    assert (kwargs["host"], kwargs["port"], kwargs["db"]) == ("h", 6390, 2)
    assert kwargs["socket_timeout"] == 1.0
    assert kwargs["socket_connect_timeout"] == 1.0


def test_environment_is_read_and_mapping_overrides_it(monkeypatch):
    monkeypatch.setenv("REDIS_HOST", "from-env")
    monkeypatch.setenv("REDIS_PORT", "6001")
    monkeypatch.delenv("REDIS_SENTINELS", raising=False)
    app = create_app({"REDIS_PORT": 6002})
    s = get_state(app).settings
    assert (s.redis_host, s.redis_port) == ("from-env", 6002)


def test_create_app_rejects_bad_environment(monkeypatch):
    monkeypatch.setenv("REDIS_PORT", "not-a-port")
    with pytest.raises(ValueError, match="REDIS_PORT"):
        create_app()
