"""app/voting/db/docker-entrypoint.sh run on this host, as in the image: first start
initialises the cluster (password from a root-only *_FILE secret, extra database), drops
root for user postgres and execs postgres; a second start reuses the data."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg2
import pytest

from tests.app.conftest import free_port
from tests.voting.votingutil import APP_DIR, PG_BINDIR

ENTRYPOINT = APP_DIR / "voting" / "db" / "docker-entrypoint.sh"

pytestmark = pytest.mark.skipif(
    PG_BINDIR is None or os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="needs root, setpriv and PostgreSQL server binaries (apt-get install postgresql)",
)


def wait_ready(proc: subprocess.Popen, port: int, timeout: float = 30) -> None:
    assert PG_BINDIR is not None
    deadline = time.monotonic() + timeout
    isready = [str(PG_BINDIR / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port)]
    while subprocess.run(isready, check=False).returncode != 0:
        assert proc.poll() is None, f"entrypoint exited with {proc.returncode}"
        assert time.monotonic() < deadline, "postgres not ready"
        time.sleep(0.1)


def uid_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError("no Uid line")


def test_entrypoint_initialises_then_reuses_the_cluster(processes):
    root = Path(tempfile.mkdtemp(prefix="voting-entrypoint-"))
    try:
        root.chmod(0o755)  # user postgres must reach PGDATA and the socket dir
        sockdir = root / "sock"
        sockdir.mkdir()
        shutil.chown(sockdir, "postgres", "postgres")
        secret = root / "password"
        secret.write_text("s3cret\n")
        secret.chmod(0o600)  # root only, like a Docker secret: read before dropping root
        port = free_port()
        env = {
            "PATH": f"{PG_BINDIR}:/usr/sbin:/usr/bin:/sbin:/bin",
            "PGDATA": str(root / "data"),
            "POSTGRES_PASSWORD_FILE": str(secret),
            "POSTGRES_DB": "votes",
            "LANG": "C.UTF-8",
        }
        args = [
            str(ENTRYPOINT),
            "postgres",
            "-p",
            str(port),
            "-k",
            str(sockdir),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
        ]

        def run(environ: dict[str, str]) -> subprocess.Popen:
            proc = processes.spawn(
                args, env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
            )
            wait_ready(proc, port)
            # exec chain: the spawned pid *is* the postmaster, running as postgres
            assert Path(f"/proc/{proc.pid}/comm").read_text().strip() == "postgres"
            assert uid_of(proc.pid) == pwd.getpwnam("postgres").pw_uid
            return proc

        def login(password: str, dbname: str = "votes") -> None:
            conn = psycopg2.connect(
                host="127.0.0.1", port=port, user="postgres", password=password, dbname=dbname
            )
            conn.close()

        proc = run(env)
        login("s3cret")
        with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
            login("wrong")
        proc.send_signal(signal.SIGINT)  # the image's STOPSIGNAL: fast shutdown
        assert proc.wait(timeout=30) == 0
        assert "initialised (superuser postgres, database votes)" in proc.stderr.read()
        processes.stop(proc)

        # second start: no password needed any more, the data (and password) are kept
        again = {k: v for k, v in env.items() if not k.startswith("POSTGRES_PASSWORD")}
        proc = run(again)
        login("s3cret")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        assert "initialising" not in proc.stderr.read()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_entrypoint_refuses_to_initialise_without_a_password():
    root = Path(tempfile.mkdtemp(prefix="voting-entrypoint-"))
    try:
        root.chmod(0o755)
        result = subprocess.run(
            [str(ENTRYPOINT), "postgres"],
            env={"PATH": f"{PG_BINDIR}:/usr/sbin:/usr/bin:/sbin:/bin", "PGDATA": str(root / "d")},
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert result.returncode == 1
        assert "POSTGRES_PASSWORD" in result.stderr
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_entrypoint_runs_other_commands_as_is():
    result = subprocess.run(
        [str(ENTRYPOINT), "echo", "hello"], capture_output=True, text=True, timeout=30, check=False
    )
    assert (result.returncode, result.stdout) == (0, "hello\n")
