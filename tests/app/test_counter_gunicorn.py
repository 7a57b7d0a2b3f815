"""The real server: gunicorn with app/gunicorn.conf.py, over HTTP."""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

APP_DIR = Path(__file__).resolve().parents[2] / "app"
CONF = APP_DIR / "gunicorn.conf.py"
GUNICORN_KEYS = [k for k in os.environ if k.startswith("GUNICORN_")]


def load_conf(monkeypatch, **env):
    for key in GUNICORN_KEYS:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return runpy.run_path(str(CONF))


def test_conf_defaults(monkeypatch):
    conf = load_conf(monkeypatch)
    assert conf["bind"] == ["0.0.0.0:8000"]
    assert (conf["workers"], conf["threads"]) == (2, 4)
    assert conf["worker_class"] == "gthread"
    assert conf["wsgi_app"] == "counter:create_app()"
    assert conf["accesslog"] is None
    assert conf["control_socket_disable"] is True


def test_conf_from_environment(monkeypatch):
    conf = load_conf(
        monkeypatch,
        GUNICORN_WORKERS="5",
        GUNICORN_THREADS="1",
        GUNICORN_BIND="127.0.0.1:9000",
        GUNICORN_ACCESSLOG="-",
        GUNICORN_CONTROL_SOCKET="/run/g.ctl",
    )
    assert (conf["workers"], conf["threads"]) == (5, 1)
    assert conf["worker_class"] == "sync"
    assert conf["bind"] == ["127.0.0.1:9000"]
    assert conf["accesslog"] == "-"
    assert conf["control_socket_disable"] is False
    assert conf["control_socket"] == "/run/g.ctl"


@pytest.mark.parametrize("value", ["two", "0", "-1"])
def test_conf_rejects_bad_workers(monkeypatch, value):
    with pytest.raises(SystemExit, match="GUNICORN_WORKERS"):
        load_conf(monkeypatch, GUNICORN_WORKERS=value)


def parent_pid(pid):
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def children(pid):
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if parent_pid(entry.name) == pid:
                    found.append(int(entry.name))
            except (FileNotFoundError, ProcessLookupError, IndexError):
                pass
    return found


def alive(pid):
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_gunicorn_serves_the_app(redis_server, rdb, processes, port_factory, tmp_path):
    rdb.flushall()
    port = port_factory()
    base = f"http://127.0.0.1:{port}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "GUNICORN_"))},
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": str(redis_server.port),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "2",
        "GUNICORN_THREADS": "2",
        "PYTHONPATH": str(APP_DIR),
    }
    log = tmp_path / "gunicorn.log"
    proc = processes.spawn(
        [sys.executable, "-m", "gunicorn", "--config", str(CONF), "counter:create_app()"],
        cwd=APP_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    worker_pids = []
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"gunicorn exited: {log.read_text()}")
            try:
                if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "gunicorn did not answer /healthz in 20 s"
            time.sleep(0.1)

        page = requests.get(f"{base}/", timeout=5)
        assert page.status_code == 200
        assert page.headers["Content-Type"].startswith("text/html")
        assert page.text == "Hello! I have been seen 1 times.\n"
        first = requests.post(f"{base}/api/counters/x/incr", timeout=5)
        second = requests.post(f"{base}/api/counters/x/incr", json={"by": 4}, timeout=5)
        assert first.json() == {"name": "x", "value": 1}
        assert second.json() == {"name": "x", "value": 5}
        assert rdb.hget("counters", "x") == "5"
        assert requests.get(f"{base}/readyz", timeout=5).status_code == 200
        bad = requests.put(f"{base}/api/counters/x", data="nope", timeout=5)
        assert bad.status_code == 400
        assert bad.headers["Content-Type"] == "application/json"

        # X-Instance names a worker (a child of the gunicorn master), never the master
        workers = set()
        for _ in range(20):
            host, _, pid = (
                requests.get(f"{base}/healthz", timeout=5).headers["X-Instance"].rpartition(":")
            )
            assert host
            workers.add(int(pid))
        assert proc.pid not in workers
        assert all(parent_pid(pid) == proc.pid for pid in workers)
        metrics = requests.get(f"{base}/metrics", timeout=5)
        assert metrics.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        assert "counter_http_request_duration_seconds_bucket" in metrics.text
        worker_pids = children(proc.pid)
        assert len(worker_pids) == 2
    finally:
        processes.stop(proc)
    assert proc.returncode == 0, "gunicorn should exit cleanly on SIGTERM"
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in worker_pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(pid) for pid in worker_pids), "gunicorn workers left behind"
