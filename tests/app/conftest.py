"""Fixtures: real redis-server processes on free loopback ports (no mocks)."""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
import redis
from counter import create_app

REDIS_SERVER = shutil.which("redis-server")
REPO = Path(__file__).resolve().parents[2]
APP_DIR = REPO / "app"


def free_port() -> int:
    """Return a TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:
    """In the child: get SIGTERM if pytest dies, so no server outlives the run."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def spawn(args: list[str], **kwargs) -> subprocess.Popen:
    """Start a child in its own session that dies with the test run."""
    preexec = _die_with_parent if sys.platform.startswith("linux") else None
    return subprocess.Popen(args, preexec_fn=preexec, start_new_session=True, **kwargs)


def stop_process(proc: subprocess.Popen, timeout: float = 10) -> None:
    """Terminate *proc* (then kill its process group if it lingers) and reap it."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout)
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


class RedisServer:
    """One redis-server process on 127.0.0.1 that can be stopped and started again.

    *args* are extra command-line options (e.g. ``["--replicaof", "127.0.0.1", "6379"]``),
    given after the defaults so they can override them (``--appendonly yes``).
    """

    def __init__(self, port: int | None = None, args: Sequence[str] = ()) -> None:
        self.port = port or free_port()
        self.args = list(args)
        self.proc: subprocess.Popen | None = None
        self.workdir = tempfile.mkdtemp(prefix="counter-redis-")

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def client(self, **kwargs) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2, **kwargs)

    def start(self, timeout: float = 10) -> None:
        assert REDIS_SERVER is not None
        assert not self.running
        self.proc = spawn(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.workdir,
                *self.args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout: float) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        client = self.client()
        try:
            while True:
                if self.proc.poll() is not None:
                    err = (
                        self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                    )
                    raise RuntimeError(f"redis-server exited early ({self.proc.returncode}): {err}")
                try:
                    if client.ping():
                        return
                except redis.exceptions.ConnectionError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server on port {self.port} did not answer PING")
                time.sleep(0.05)
        finally:
            client.close()

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


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


@pytest.fixture
def redis_factory() -> Iterator[type[RedisServer]]:
    """Start extra, test-private redis-servers; all are terminated after the test."""
    _require_redis_server()
    servers: list[RedisServer] = []

    class Tracked(RedisServer):
        def __init__(self, port: int | None = None, args: Sequence[str] = ()) -> None:
            super().__init__(port, args)
            servers.append(self)

    try:
        yield Tracked
    finally:
        for server in servers:
            server.close()


class Processes:
    """Children started by one test; all stopped (process group killed if needed) after it."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen] = []

    def spawn(self, args: list[str], **kwargs) -> subprocess.Popen:
        proc = spawn(args, **kwargs)
        self.started.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen) -> None:
        stop_process(proc)

    def stop_all(self) -> None:
        for proc in reversed(self.started):
            stop_process(proc)


@pytest.fixture
def processes() -> Iterator[Processes]:
    """Start helper processes (sentinel, gunicorn) that cannot outlive the test."""
    procs = Processes()
    try:
        yield procs
    finally:
        procs.stop_all()


@pytest.fixture
def port_factory():
    """Return a function giving free loopback ports."""
    return free_port


@pytest.fixture
def sentinel(redis_factory, processes: Processes, tmp_path: Path):
    """A redis plus one real sentinel (``redis-server --sentinel``) watching it as mymaster.

    Yields ``(sentinel_port, master_server)``; skips if no sentinel is up within 5 s.
    """
    master = redis_factory()
    master.start()
    port = free_port()
    conf = tmp_path / "sentinel.conf"
    conf.write_text(
        f"port {port}\n"
        "bind 127.0.0.1\n"
        f"dir {tmp_path}\n"
        f"sentinel monitor mymaster 127.0.0.1 {master.port} 1\n"
        "sentinel down-after-milliseconds mymaster 5000\n"
    )
    proc = processes.spawn(
        [REDIS_SERVER, str(conf), "--sentinel"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1, decode_responses=True)
    try:
        deadline = time.monotonic() + 5
        while True:
            if proc.poll() is not None:
                pytest.skip(f"redis-server --sentinel exited with {proc.returncode}")
            try:
                if client.sentinel_get_master_addr_by_name("mymaster"):
                    break
            except redis.exceptions.ConnectionError:
                pass
            if time.monotonic() > deadline:
                pytest.skip("sentinel did not report mymaster within 5 s")
            time.sleep(0.05)
    finally:
        client.close()
    return port, master


@pytest.fixture
def redis_config(redis_server: RedisServer) -> dict[str, object]:
    """create_app() settings for the session redis, flushed before each test."""
    client = redis_server.client()
    try:
        client.flushall()
    finally:
        client.close()
    return {
        "TESTING": True,
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": redis_server.port,
        "REDIS_DB": 0,
        "REDIS_PASSWORD": "",
        "REDIS_SENTINELS": "",
        "REDIS_SOCKET_TIMEOUT": 1,
    }


@pytest.fixture
def app(redis_config: dict[str, object]):
    return create_app(redis_config)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def rdb(redis_server: RedisServer) -> Iterator[redis.Redis]:
    """A plain client of the session redis, to check what the app stored."""
    client = redis_server.client(decode_responses=True)
    try:
        yield client
    finally:
        client.close()
