"""Fixtures of the voting app tests: a real redis-server and a real PostgreSQL (no mocks).

The redis-server helpers are the counter tests' (tests/app/conftest.py), reused as-is;
the PostgreSQL server is tests/voting/votingutil.py's. Every server is stopped and its
directory removed at the end, even when a test fails.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.app.conftest import REDIS_SERVER, Processes, RedisServer
from tests.voting.votingutil import PostgresServer, settings_for


def _require_redis_server() -> None:
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not on PATH (Debian: apt-get install redis-server)")


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A real redis-server shared by the session; always terminated at the end."""
    _require_redis_server()
    server = RedisServer()
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL shared by the session; always stopped and removed at the end."""
    server = PostgresServer()
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture
def redis_factory() -> Iterator[Callable[[], RedisServer]]:
    """Start test-private redis-servers (restartable on their port); all closed afterwards."""
    _require_redis_server()
    servers: list[RedisServer] = []

    def make(port: int | None = None) -> RedisServer:
        server = RedisServer(port)
        servers.append(server)
        return server

    try:
        yield make
    finally:
        for server in servers:
            server.close()


@pytest.fixture
def postgres_factory() -> Iterator[Callable[[], PostgresServer]]:
    """Start test-private PostgreSQL clusters (restartable); all stopped and removed afterwards."""
    servers: list[PostgresServer] = []

    def make() -> PostgresServer:
        server = PostgresServer()
        servers.append(server)
        return server

    try:
        yield make
    finally:
        for server in servers:
            server.close()


@pytest.fixture
def processes() -> Iterator[Processes]:
    """Helper processes (real workers) that cannot outlive the test."""
    procs = Processes()
    try:
        yield procs
    finally:
        procs.stop_all()


@pytest.fixture
def config(redis_server: RedisServer, postgres_server: PostgresServer, tmp_path: Path):
    """Settings for the session servers, emptied before the test (no queue, no table)."""
    client = redis_server.client()
    try:
        client.flushall()
    finally:
        client.close()
    conn = postgres_server.connect()
    try:
        with conn.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS votes")
    finally:
        conn.close()
    return settings_for(redis_server, postgres_server, tmp_path)


@pytest.fixture
def rdb(redis_server: RedisServer):
    """A plain client of the session redis, to see what the vote app queued."""
    client = redis_server.client(decode_responses=True)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def pg(postgres_server: PostgresServer):
    """An autocommit connection to the session PostgreSQL, to see what the worker stored."""
    conn = postgres_server.connect()
    try:
        yield conn
    finally:
        conn.close()
