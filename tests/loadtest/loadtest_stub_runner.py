"""Start and stop the stub counter app (gunicorn + loadtest_stub_server) on a loopback port.

Used by the pytest fixture that runs real locust and by record_fixtures.py. The server
listens on 127.0.0.1 only, runs in its own session (process group) and is always stopped:
SIGTERM to the gunicorn master, then SIGKILL to its group if it does not exit.
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
    raise RuntimeError(f"stub server at {url} not ready after {timeout} s")


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


@contextmanager
def stub_server(workers: int = 1, timeout: float = 20.0) -> Iterator[str]:
    """Run the stub app under gunicorn with ``workers`` processes; yield its base URL."""
    gunicorn = BIN / "gunicorn"
    if not gunicorn.exists():
        found = shutil.which("gunicorn")
        if found is None:
            raise FileNotFoundError("gunicorn not found")
        gunicorn = Path(found)
    workdir = Path(tempfile.mkdtemp(prefix="loadtest-stub-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = os.environ | {"LOADTEST_STUB_DB": str(workdir / "counters.db")}
    with (workdir / "gunicorn.log").open("wb") as log:
        process = subprocess.Popen(
            [
                str(gunicorn),
                "--workers",
                str(workers),
                "--bind",
                f"127.0.0.1:{port}",
                "--chdir",
                str(HERE),
                "--log-level",
                "warning",
                "loadtest_stub_server:app",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_ready(url, process, timeout)
        yield url
    finally:
        _stop(process)
        shutil.rmtree(workdir, ignore_errors=True)
