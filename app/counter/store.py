"""Redis access: client construction (direct or Sentinel) and counter operations."""

from __future__ import annotations

import redis
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.retry import Retry
from redis.sentinel import Sentinel

from .config import Settings

#: Key incremented by the classic ``GET /`` page.
HITS_KEY = "hits"
#: Hash holding the named counters: field = counter name, value = integer.
COUNTERS_KEY = "counters"


def make_redis(settings: Settings) -> redis.Redis:
    """Return a client; no connection is made until the first command.

    Timeouts are short so an unreachable Redis is reported within about a second.
    Only connection errors (refused, reset) are retried, once, without backoff:
    a timed-out INCR may already have been applied, so timeouts are never retried.
    """
    timeouts = {
        "socket_timeout": settings.socket_timeout,
        "socket_connect_timeout": settings.socket_timeout,
        "retry": Retry(NoBackoff(), settings.retries, supported_errors=(RedisConnectionError,)),
        "retry_on_error": [RedisConnectionError],
    }
    common: dict[str, object] = {
        **timeouts,
        "health_check_interval": 30,
        "decode_responses": True,
    }
    if settings.use_sentinel:
        sentinel_kwargs: dict[str, object] = dict(timeouts)
        if settings.sentinel_password:
            sentinel_kwargs["password"] = settings.sentinel_password
        sentinel = Sentinel(
            list(settings.sentinels),
            sentinel_kwargs=sentinel_kwargs,
            **common,
        )
        return sentinel.master_for(
            settings.sentinel_master,
            db=settings.redis_db,
            password=settings.redis_password,
        )
    return redis.Redis(
        host=settings.redis_host,
        port=settings.redis_port,
        db=settings.redis_db,
        password=settings.redis_password,
        **common,
    )


class CounterStore:
    """Named counters kept as fields of one Redis hash; every operation is atomic."""

    def __init__(self, client: redis.Redis, key: str = COUNTERS_KEY) -> None:
        self.client = client
        self.key = key

    def hit(self) -> int:
        """Increment and return the page-hit counter."""
        return int(self.client.incr(HITS_KEY))

    def all(self) -> dict[str, int]:
        """Return every counter as ``{name: value}``."""
        return {name: int(value) for name, value in self.client.hgetall(self.key).items()}

    def get(self, name: str) -> int | None:
        """Return the counter's value, or None if it does not exist."""
        value = self.client.hget(self.key, name)
        return None if value is None else int(value)

    def put(self, name: str, value: int) -> bool:
        """Set the counter; return True if it was created, False if replaced."""
        return bool(self.client.hset(self.key, name, value))

    def delete(self, name: str) -> bool:
        """Delete the counter; return True if it existed."""
        return bool(self.client.hdel(self.key, name))

    def incr(self, name: str, by: int = 1) -> int:
        """Atomically add *by* (created at 0 if missing) and return the new value."""
        return int(self.client.hincrby(self.key, name, by))

    def ping(self) -> bool:
        """Return True if Redis answers PING (raises on connection failure)."""
        return bool(self.client.ping())
