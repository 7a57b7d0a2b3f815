"""Start and stop the real counter app (app/counter under gunicorn, with a real
redis-server) on loopback ports, for the tests that run real Locust and for
record_fixtures.py.

Both servers listen on 127.0.0.1 only, run in their own sessions (process groups) and are
always stopped: SIGTERM, then SIGKILL of the group if they do not exit. redis-server keeps
nothing on disk (no RDB, no AOF, a temporary directory).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

HERE = Path(__file__).resolve().parent
APP_DIR = HERE.parents[1] / "app"
BIN = Path(sys.executable).parent
LOCUST = BIN / "locust"


def locust_available() -> bool:
    """True when a locust executable sits next to this python."""
    return LOCUST.exists()


def gunicorn_available() -> bool:
    """True when gunicorn sits next to this python or on PATH."""
    return (BIN / "gunicorn").exists() or shutil.which("gunicorn") is not None


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (bound, read, released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode} before serving")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    raise RuntimeError(f"counter app at {url} not ready after {timeout} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    # Workers left behind by a killed master share its process group (own session).
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def _redis_ready(port: int, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited with {process.returncode}")
        with suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
            conn.sendall(b"PING\r\n")
            if conn.recv(16).startswith(b"+PONG"):
                return
        time.sleep(0.05)
    raise RuntimeError(f"redis-server on port {port} not ready after {timeout} s")


def app_available() -> bool:
    """True when gunicorn and redis-server are both installed."""
    return gunicorn_available() and shutil.which("redis-server") is not None


@contextmanager
def app_server(workers: int = 1, timeout: float = 20.0) -> Iterator[str]:
    """Run the counter app under gunicorn (``workers`` processes) against a fresh
    redis-server; yield its base URL."""
    gunicorn = BIN / "gunicorn"
    if not gunicorn.exists():
        found = shutil.which("gunicorn")
        if found is None:
            raise FileNotFoundError("gunicorn not found")
        gunicorn = Path(found)
    redis_bin = shutil.which("redis-server")
    if redis_bin is None:
        raise FileNotFoundError("redis-server not found")
    workdir = Path(tempfile.mkdtemp(prefix="loadtest-app-"))
    redis_port, port = free_port(), free_port()
    url = f"http://127.0.0.1:{port}"
    processes: list[subprocess.Popen[bytes]] = []
    try:
        with (workdir / "redis.log").open("wb") as log:
            redis_args = ["--port", str(redis_port), "--bind", "127.0.0.1", "--save", ""]
            redis_args += ["--appendonly", "no", "--dir", str(workdir)]
            processes.append(
                subprocess.Popen(
                    [redis_bin, *redis_args],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        _redis_ready(redis_port, processes[0], timeout)
        env = os.environ | {
            "REDIS_HOST": "127.0.0.1",
            "REDIS_PORT": str(redis_port),
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "GUNICORN_WORKERS": str(workers),
        }
        with (workdir / "gunicorn.log").open("wb") as log:
            processes.append(
                subprocess.Popen(
                    [str(gunicorn), "-c", "gunicorn.conf.py", "counter:create_app()"],
                    cwd=APP_DIR,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        _wait_ready(url, processes[1], timeout)
        yield url
    finally:
        for process in reversed(processes):
            _stop(process)
        shutil.rmtree(workdir, ignore_errors=True)
