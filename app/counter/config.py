"""Settings of the counter app, read from the environment (12-factor style)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_SENTINEL_PORT = 26379

#: Environment variables read by :func:`load_settings`, with their defaults.
DEFAULTS: dict[str, str] = {
    "REDIS_HOST": "redis",
    "REDIS_PORT": "6379",
    "REDIS_DB": "0",
    "REDIS_PASSWORD": "",
    "REDIS_SENTINELS": "",
    "REDIS_SENTINEL_MASTER": "mymaster",
    "REDIS_SENTINEL_PASSWORD": "",
    "REDIS_SOCKET_TIMEOUT": "1.0",
    "REDIS_RETRIES": "1",
    "REDIS_WAIT_REPLICAS": "0",
    "REDIS_WAIT_TIMEOUT_MS": "500",
}


@dataclass(frozen=True)
class Settings:
    """How to reach Redis: directly (host/port) or through Sentinel."""

    redis_host: str = "redis"
    redis_port: int = 6379
    redis_db: int = 0
    redis_password: str | None = None
    sentinels: tuple[tuple[str, int], ...] = ()
    sentinel_master: str = "mymaster"
    sentinel_password: str | None = None
    socket_timeout: float = 1.0
    retries: int = 1
    #: replicas that must confirm an increment (``WAIT``) before it is acknowledged; 0 = no WAIT
    wait_replicas: int = 0
    #: how long ``WAIT`` may block, in milliseconds (below the socket timeout)
    wait_timeout_ms: int = 500

    @property
    def use_sentinel(self) -> bool:
        """True when at least one sentinel address is configured."""
        return bool(self.sentinels)


def _int(name: str, raw: str, minimum: int = 0, maximum: int | None = None) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum or (maximum is not None and value > maximum):
        upper = "" if maximum is None else f" and <= {maximum}"
        raise ValueError(f"{name} must be >= {minimum}{upper}, got {value}")
    return value


def _float(name: str, raw: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None
    if not value > 0:
        raise ValueError(f"{name} must be > 0, got {raw!r}")
    return value


def _check_wait_timeout(wait_replicas: int, wait_timeout_ms: int, socket_timeout: float) -> None:
    """Refuse a ``WAIT`` that could outlast the socket timeout (only checked when WAIT is on)."""
    if wait_replicas > 0 and not wait_timeout_ms < socket_timeout * 1000:
        raise ValueError(
            f"REDIS_WAIT_TIMEOUT_MS ({wait_timeout_ms}) must be below REDIS_SOCKET_TIMEOUT "
            f"({socket_timeout} s = {socket_timeout * 1000:g} ms) when REDIS_WAIT_REPLICAS > 0"
        )


def parse_address(item: str, default_port: int = DEFAULT_SENTINEL_PORT) -> tuple[str, int]:
    """Parse ``host``, ``host:port``, ``[v6]`` or ``[v6]:port``."""
    item = item.strip()
    if item.startswith("["):
        host, sep, rest = item[1:].partition("]")
        if not sep or not host:
            raise ValueError(f"bad sentinel address {item!r}")
        if rest and not rest.startswith(":"):
            raise ValueError(f"bad sentinel address {item!r}")
        port_raw = rest[1:]
    elif item.count(":") == 1:
        host, _, port_raw = item.partition(":")
    elif ":" in item:
        raise ValueError(f"bad sentinel address {item!r}: write IPv6 as [addr]:port")
    else:
        host, port_raw = item, ""
    if not host:
        raise ValueError(f"bad sentinel address {item!r}: empty host")
    port = _int("sentinel port", port_raw, 1, 65535) if port_raw else default_port
    return host, port


def parse_sentinels(raw: str) -> tuple[tuple[str, int], ...]:
    """Parse ``"host1:26379,host2:26379"``; empty entries are ignored."""
    return tuple(parse_address(part) for part in raw.split(",") if part.strip())


def load_settings(environ: Mapping[str, object] | None = None) -> Settings:
    """Build :class:`Settings` from *environ* (default ``os.environ``).

    Values may be strings (environment) or already typed (``create_app`` mapping).
    Raises ``ValueError`` naming the variable on bad input.
    """
    env: Mapping[str, object] = os.environ if environ is None else environ

    def get(name: str) -> str:
        value = env.get(name)
        return DEFAULTS[name] if value is None else str(value)

    host = get("REDIS_HOST").strip()
    if not host:
        raise ValueError("REDIS_HOST must not be empty")
    master = get("REDIS_SENTINEL_MASTER").strip()
    if not master:
        raise ValueError("REDIS_SENTINEL_MASTER must not be empty")
    try:
        sentinels = parse_sentinels(get("REDIS_SENTINELS"))
    except ValueError as exc:
        raise ValueError(f"REDIS_SENTINELS: {exc}") from None
    socket_timeout = _float("REDIS_SOCKET_TIMEOUT", get("REDIS_SOCKET_TIMEOUT"))
    wait_replicas = _int("REDIS_WAIT_REPLICAS", get("REDIS_WAIT_REPLICAS"), 0)
    wait_timeout_ms = _int("REDIS_WAIT_TIMEOUT_MS", get("REDIS_WAIT_TIMEOUT_MS"), 1)
    _check_wait_timeout(wait_replicas, wait_timeout_ms, socket_timeout)
    return Settings(
        redis_host=host,
        redis_port=_int("REDIS_PORT", get("REDIS_PORT"), 1, 65535),
        redis_db=_int("REDIS_DB", get("REDIS_DB"), 0),
        redis_password=get("REDIS_PASSWORD") or None,
        sentinels=sentinels,
        sentinel_master=master,
        sentinel_password=get("REDIS_SENTINEL_PASSWORD") or None,
        socket_timeout=socket_timeout,
        retries=_int("REDIS_RETRIES", get("REDIS_RETRIES"), 0, 10),
        wait_replicas=wait_replicas,
        wait_timeout_ms=wait_timeout_ms,
    )
