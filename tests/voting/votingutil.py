"""Helpers of the voting tests: a real PostgreSQL server, settings, result readers.

PostgreSQL: Debian's server binaries (/usr/lib/postgresql/<version>/bin), a throw-away
cluster in a temp dir owned by user ``postgres`` (tests run as root: initdb, postgres and
pg_ctl run through ``runuser -u postgres --``), on a free loopback port, with its unix
socket in the temp dir.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg2
import pytest

from tests.app.conftest import RedisServer, free_port, spawn, stop_process

REPO = Path(__file__).resolve().parents[2]
APP_DIR = REPO / "app"
DB_USER = "postgres"
DB_PASSWORD = "voting-test-pw"


def postgres_bindir() -> Path | None:
    """Newest ``/usr/lib/postgresql/<version>/bin`` that has initdb, or None."""
    found = [Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/initdb")]
    if not found:
        return None
    return max(found, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)


PG_BINDIR = postgres_bindir()


def _require_postgres() -> Path:
    if PG_BINDIR is None:
        pytest.skip(
            "PostgreSQL server binaries missing: no /usr/lib/postgresql/*/bin/initdb "
            "(Debian: apt-get install postgresql)"
        )
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root but there is no 'postgres' user to run the server")
        if shutil.which("runuser") is None:
            pytest.skip("running as root but runuser is missing")
    return PG_BINDIR


class PostgresServer:
    """A PostgreSQL cluster in a temp dir, served on 127.0.0.1:<port>; restartable."""

    def __init__(self, port: int | None = None) -> None:
        self.bindir = _require_postgres()
        self.port = port or free_port()
        self.root = Path(tempfile.mkdtemp(prefix="voting-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.proc: subprocess.Popen | None = None
        self.as_postgres: list[str] = []
        if os.geteuid() == 0:  # postgres refuses to run as root
            entry = pwd.getpwnam("postgres")
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
            self.as_postgres = ["runuser", "-u", "postgres", "--"]
        self.root.chmod(0o700)
        self._initdb()

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*self.as_postgres, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def _initdb(self) -> None:
        pwfile = self.root / "pwfile"
        pwfile.write_text(DB_PASSWORD + "\n")
        shutil.chown(pwfile, user="postgres" if self.as_postgres else None)
        result = self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            DB_USER,
            f"--pwfile={pwfile}",
            "--auth-host=scram-sha-256",
            "--auth-local=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )
        pwfile.unlink()
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed ({result.returncode}): {result.stderr}")

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def params(self, **overrides: object) -> dict[str, object]:
        """psycopg2.connect() arguments for this server."""
        return {
            "host": "127.0.0.1",
            "port": self.port,
            "user": DB_USER,
            "password": DB_PASSWORD,
            "dbname": "postgres",
            "connect_timeout": 3,
            **overrides,
        }

    def connect(self):  # psycopg2 connection
        conn = psycopg2.connect(**self.params())
        conn.autocommit = True
        return conn

    def start(self, timeout: float = 30) -> None:
        assert not self.running
        with self.log.open("ab") as log:
            self.proc = spawn(
                [
                    *self.as_postgres,
                    str(self.bindir / "postgres"),
                    "-D",
                    str(self.data),
                    "-p",
                    str(self.port),
                    "-k",
                    str(self.root),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    "fsync=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "full_page_writes=off",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout: float) -> None:
        assert self.proc is not None
        isready = [str(self.bindir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)]
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"postgres exited early ({self.proc.returncode}): {self.log.read_text()}"
                )
            if subprocess.run(isready, check=False, timeout=10).returncode == 0:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"postgres on {self.port} not ready: {self.log.read_text()}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            with contextlib.suppress(subprocess.SubprocessError, OSError):
                pg_ctl = str(self.bindir / "pg_ctl")
                self._run(pg_ctl, "stop", "-D", str(self.data), "-m", "fast", "-w", timeout=30)
        stop_process(self.proc)
        self.proc = None

    def close(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def settings_for(redis: RedisServer, pg: PostgresServer, tmp_path: Path) -> dict[str, object]:
    """create_app()/load_settings() overrides pointing at *redis* and *pg*."""
    return {
        "TESTING": True,
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": redis.port,
        "REDIS_SOCKET_TIMEOUT": 1,
        "DB_HOST": "127.0.0.1",
        "DB_PORT": pg.port,
        "DB_NAME": "postgres",
        "DB_USER": DB_USER,
        "DB_PASSWORD": DB_PASSWORD,
        "DB_PASSWORD_FILE": "",
        "DB_CONNECT_TIMEOUT": 2,
        "OPTION_A": "Cats",
        "OPTION_B": "Dogs",
        "WORKER_HEALTH_FILE": str(tmp_path / "worker-alive"),
        "WORKER_POP_TIMEOUT": 1,
    }


def stored_votes(conn) -> dict[str, str]:
    """``{voter_id: vote}`` from the votes table."""
    with conn.cursor() as cur:
        cur.execute("SELECT id, vote FROM votes")
        return dict(cur.fetchall())


def worker_env(config: dict[str, object]) -> dict[str, str]:
    """Environment for a real ``python -m voting.worker`` child."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "DB_"))}
    env.update({k: str(v) for k, v in config.items() if k.isupper() and k != "TESTING"})
    env["PYTHONPATH"] = str(APP_DIR)
    return env
