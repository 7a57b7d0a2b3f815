"""Redis access: client construction (direct or Sentinel) and counter operations.

Increments are not idempotent, so they bypass redis-py's retries and go through
:meth:`CounterStore.write_once`: the command is sent at most once, and a failure is
reported as :class:`WriteNotApplied` (nothing reached Redis, or Redis refused it) or
:class:`WriteInDoubt` (sent, but not confirmed: it may or may not be applied).
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.connection import Connection, ConnectionPool
from redis.exceptions import BusyLoadingError, ReadOnlyError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
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
    The client retries connection errors (refused, reset; ``settings.retries`` times,
    without backoff) but never timeouts. That retry is only safe for idempotent
    commands (reads, HSET, HDEL, PING): increments do not use it but go through
    :meth:`CounterStore.write_once`, which sends them at most once.
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


class WriteNotApplied(Exception):
    """The write was certainly not applied: never sent, or refused by Redis (read-only)."""


class WriteInDoubt(Exception):
    """The write was sent but not confirmed: it may or may not be applied (or kept).

    ``reason`` is safe to show to a client; the message may hold addresses.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


#: Errors of the connection itself (refused, reset, timed out, no master known).
CONNECTION_ERRORS: tuple[type[Exception], ...] = (RedisConnectionError, RedisTimeoutError)


def checkout(pool: ConnectionPool) -> Connection:
    """Take a connected, healthy connection from *pool*, or raise :class:`WriteNotApplied`.

    Connecting may retry (nothing of the write is sent yet). redis-py 4.x requires a
    command name for ``get_connection``; 5.3+ deprecates passing one.
    """
    try:
        if _needs_command_name(type(pool)):
            connection = pool.get_connection("_")
        else:
            connection = pool.get_connection()
    except CONNECTION_ERRORS as exc:
        raise WriteNotApplied(f"no connection to redis: {_describe(exc)}") from exc
    try:
        connection.check_health()  # PING if idle for health_check_interval
    except CONNECTION_ERRORS as exc:
        connection.disconnect()
        pool.release(connection)
        raise WriteNotApplied(f"redis failed the health check: {_describe(exc)}") from exc
    return connection


@functools.cache
def _needs_command_name(pool_type: type[ConnectionPool]) -> bool:
    """True if ``get_connection`` has a mandatory ``command_name`` (redis-py < 5.3)."""
    param = inspect.signature(pool_type.get_connection).parameters.get("command_name")
    return param is not None and param.default is inspect.Parameter.empty


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def refused(exc: BaseException) -> bool:
    """True if *exc* is Redis refusing a command it did not execute.

    That is a READONLY reply (a replica), redis-py's Sentinel "The previous master is
    now a slave" (a ConnectionError raised while handling a ReadOnlyError), or LOADING.
    """
    if isinstance(exc, (ReadOnlyError, BusyLoadingError)):
        return True
    return isinstance(exc, RedisConnectionError) and isinstance(exc.__context__, ReadOnlyError)


def send_once(connection: Connection, *args: str | int) -> Any:
    """Send one command on *connection* and read its reply, never resending it.

    Any failure once the command may have left (even while writing it) closes the
    connection, so that a late reply is never read as the next command's. A refusal
    raises :class:`WriteNotApplied`; another error reply (``ResponseError``, e.g. an
    overflow) is raised as is; a lost or timed-out connection raises :class:`WriteInDoubt`.
    """
    try:
        connection.send_command(*args, check_health=False)
        return connection.read_response()
    except ReadOnlyError as exc:
        raise WriteNotApplied(f"redis refused the write: {_describe(exc)}") from exc
    except ResponseError:
        raise  # the server answered: the connection is in step
    except CONNECTION_ERRORS as exc:
        connection.disconnect()
        if refused(exc):
            raise WriteNotApplied(f"redis refused the write: {_describe(exc)}") from exc
        raise WriteInDoubt("no reply from redis", _describe(exc)) from exc
    except BaseException:
        connection.disconnect()
        raise


def wait_for_replicas(connection: Connection, replicas: int, timeout_ms: int) -> None:
    """Run ``WAIT replicas timeout_ms``; raise :class:`WriteInDoubt` unless enough confirm.

    Called after the write succeeded on the master, so every failure here is a doubt.
    """
    reason = f"applied on the master, not confirmed by {replicas} replica(s)"
    try:
        confirmed = int(send_once(connection, "WAIT", replicas, timeout_ms))
    except (WriteNotApplied, WriteInDoubt, redis.RedisError) as exc:
        connection.disconnect()
        raise WriteInDoubt(reason, f"WAIT failed: {exc}") from exc
    if confirmed < replicas:
        raise WriteInDoubt(
            f"applied on the master, confirmed by {confirmed} of {replicas} replicas "
            f"within {timeout_ms} ms"
        )


class CounterStore:
    """Named counters kept as fields of one Redis hash; every operation is atomic.

    Increments are sent at most once (:meth:`write_once`); with *wait_replicas* > 0
    one is acknowledged only after that many replicas confirmed it (``WAIT``).
    """

    def __init__(
        self,
        client: redis.Redis,
        key: str = COUNTERS_KEY,
        *,
        wait_replicas: int = 0,
        wait_timeout_ms: int = 500,
    ) -> None:
        self.client = client
        self.key = key
        self.wait_replicas = wait_replicas
        self.wait_timeout_ms = wait_timeout_ms

    def write_once(self, *args: str | int) -> Any:
        """Run a non-idempotent command at most once and return its reply.

        Raises :class:`WriteNotApplied` if it was certainly not applied,
        :class:`WriteInDoubt` if it may have been, ``ResponseError`` for an error reply.
        """
        pool = self.client.connection_pool
        connection = checkout(pool)
        try:
            reply = send_once(connection, *args)
            if self.wait_replicas > 0:
                wait_for_replicas(connection, self.wait_replicas, self.wait_timeout_ms)
            return reply
        finally:
            pool.release(connection)

    def hit(self) -> int:
        """Increment and return the page-hit counter."""
        return int(self.write_once("INCR", HITS_KEY))

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
        return int(self.write_once("HINCRBY", self.key, name, by))

    def ping(self) -> bool:
        """Return True if Redis answers PING (raises on connection failure)."""
        return bool(self.client.ping())
