"""loadtest/probe.py against real sources: this machine's Docker engine (a throwaway
container with a 0.2-CPU limit busy-looping), a real redis-server, and HAProxy stats CSV
recorded from the lab's edge (tests/loadtest/fixtures/haproxy/). Nothing is left behind: the
container and its image are removed, every process is stopped, in finalizers."""

from __future__ import annotations

import ast
import contextlib
import http.server
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from loadtest import probe

REPO = Path(__file__).resolve().parents[2]
PROBE = REPO / "loadtest" / "probe.py"
HAPROXY_DIR = Path(__file__).resolve().parent / "fixtures" / "haproxy"
REDIS_SERVER = shutil.which("redis-server")


def docker(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check)


def docker_ok() -> bool:
    if shutil.which("docker") is None or not os.path.exists(probe.DOCKER_SOCK):
        return False
    return docker("info", check=False).returncode == 0


needs_docker = pytest.mark.skipif(not docker_ok(), reason="no Docker engine answers")
needs_redis = pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server is not installed")


def read_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def run_probe(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """The probe as the nodes run it: a script, with the system's python3 when there is one."""
    python = shutil.which("python3") or sys.executable
    return subprocess.run(
        [python, str(PROBE), *args], capture_output=True, text=True, timeout=timeout, check=False
    )


# --- the script itself ------------------------------------------------------------------------


def test_probe_is_python39_stdlib_only() -> None:
    tree = ast.parse(PROBE.read_text(), feature_version=(3, 9))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert imported - {"__future__"} <= sys.stdlib_module_names, imported
    # annotations are strings (from __future__ import annotations): X | None is fine on 3.9
    assert "from __future__ import annotations" in PROBE.read_text()


def test_cpu_limit_cores() -> None:
    assert probe.cpu_limit_cores({"NanoCpus": 500_000_000}) == 0.5
    assert probe.cpu_limit_cores({"CpuQuota": 20_000, "CpuPeriod": 100_000}) == 0.2
    assert probe.cpu_limit_cores({"CpuQuota": 50_000}) == 0.5
    assert probe.cpu_limit_cores({"NanoCpus": 0, "CpuQuota": 0}) is None
    assert probe.cpu_limit_cores({}) is None


def test_read_proc_stat(tmp_path: Path) -> None:
    stat = tmp_path / "stat"
    stat.write_text(
        "cpu  100 5 50 800 20 3 2 1 7 0\ncpu0 50 2 25 400 10 1 1 0 3 0\n"
        "cpu1 50 3 25 400 10 2 1 1 4 0\nintr 1 2 3\nctxt 99\n"
    )
    assert probe.read_proc_stat(str(stat)) == (981, 820, 2)
    total, idle, ncpu = probe.read_proc_stat()  # this machine's
    assert total > idle > 0 and ncpu >= 1


def test_split_addr() -> None:
    assert probe.split_addr("redis:6380", 6379) == ("redis", 6380)
    assert probe.split_addr("redis", 6379) == ("redis", 6379)
    assert probe.split_addr("[::1]:7000", 6379) == ("::1", 7000)


# --- node mode against this machine's Docker engine -------------------------------------------


@pytest.fixture(scope="module")
def busy_image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A tiny local image holding the host's /bin/sh and its libraries (nothing is pulled)."""
    if shutil.which("ldd") is None:
        pytest.skip("ldd is needed to build the test image")
    shell = os.path.realpath("/bin/sh")
    libs = re.findall(
        r"(/\S+)", subprocess.run(["ldd", shell], capture_output=True, text=True).stdout
    )
    tar = tmp_path_factory.mktemp("image") / "rootfs.tar"
    with tarfile.open(tar, "w", dereference=True) as out:
        out.add(shell, arcname="bin/sh")
        for lib in libs:
            out.add(lib, arcname=lib.lstrip("/"))
    image = f"loadtest-probe-test:{uuid.uuid4().hex[:12]}"
    docker("import", str(tar), image)
    try:
        yield image
    finally:
        docker("rmi", "-f", image, check=False)


@pytest.fixture
def busy_container(busy_image: str) -> Iterator[tuple[str, str]]:
    """A container capped at 0.2 CPU running a busy loop, labelled as a task of a unique stack."""
    namespace = f"probetest{uuid.uuid4().hex[:10]}"
    name = f"{namespace}_busy.1.x"
    try:
        docker(
            "run", "-d", "--name", name, "--cpus", "0.2", "--network", "none",
            "--label", f"com.docker.stack.namespace={namespace}",
            "--label", f"com.docker.swarm.service.name={namespace}_busy",
            "--label", f"com.docker.swarm.task.name={name}",
            busy_image, "/bin/sh", "-c", "while :; do :; done",
        )  # fmt: skip
        yield namespace, name
    finally:
        docker("rm", "-f", name, check=False)


@needs_docker
def test_node_mode_reads_cpu_and_throttling(
    busy_container: tuple[str, str], tmp_path: Path
) -> None:
    namespace, name = busy_container
    out = tmp_path / "node-{node}.jsonl"
    done = run_probe("node", "--stack", namespace, "--interval", "0.5", "--duration", "3",
                     "--out", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    engine = docker("info", "--format", "{{.Name}}").stdout.strip()
    path = tmp_path / f"node-{engine}.jsonl"
    records = read_lines(path)
    assert records[0]["kind"] == "start" and records[0]["node"] == engine
    tasks = [r for r in records if r["kind"] == "task"]
    assert len(tasks) >= 4, records
    assert {r["task"] for r in tasks} == {name}
    assert {r["service"] for r in tasks} == {f"{namespace}_busy"}
    assert {r["stack"] for r in tasks} == {namespace}
    assert {r["cpu_limit"] for r in tasks} == {0.2}
    first, last = tasks[0], tasks[-1]
    assert last["cpu_usage_ns"] > first["cpu_usage_ns"]
    assert last["periods"] > first["periods"]
    assert last["throttled_periods"] > first["throttled_periods"]
    assert last["throttled_ns"] > first["throttled_ns"]
    # a busy loop at 0.2 CPU: about 0.2 s of CPU per second, throttled in nearly every period
    dt = last["t"] - first["t"]
    assert 0.1 < (last["cpu_usage_ns"] - first["cpu_usage_ns"]) / 1e9 / dt < 0.35
    throttled = (last["throttled_periods"] - first["throttled_periods"]) / (
        last["periods"] - first["periods"]
    )
    assert throttled > 0.5  # nearly every period on an idle host; less on a busy one
    hosts = [r for r in records if r["kind"] == "host"]
    assert len(hosts) == len([r for r in records if r["kind"] == "probe"]) >= 4
    assert hosts[-1]["cpu_ticks_total"] > hosts[0]["cpu_ticks_total"]
    assert hosts[-1]["ncpu"] >= 1
    assert not [r for r in records if r["kind"] == "error"]
    loops = [r for r in records if r["kind"] == "probe"]
    assert all(r["sample_s"] < 2.5 and r["cpu_s"] < 0.5 for r in loops)


@needs_docker
def test_node_mode_without_engine_writes_errors(tmp_path: Path) -> None:
    out = tmp_path / "node.jsonl"
    done = run_probe("node", "--stack", "x", "--docker-sock", str(tmp_path / "none.sock"),
                     "--interval", "0.2", "--duration", "0.7", "--out", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    records = read_lines(out)
    errors = [r for r in records if r["kind"] == "error"]
    assert errors and all(r["source"] == "docker" for r in errors)
    # the host's CPU is still sampled, every loop
    assert len([r for r in records if r["kind"] == "host"]) >= 3


# --- services mode against redis-server and a stats endpoint -----------------------------------


@pytest.fixture
def redis_port() -> Iterator[int]:
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="probe-redis-")
    process = subprocess.Popen(
        [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", workdir],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                probe.redis_info_raw(f"127.0.0.1:{port}", timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.05)
        yield port
    finally:
        stop(process)
        shutil.rmtree(workdir, ignore_errors=True)


def send_commands(port: int, count: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"*1\r\n$4\r\nPING\r\n" * count)
        received = b""
        while received.count(b"+PONG\r\n") < count:
            chunk = sock.recv(65536)
            assert chunk
            received += chunk


@pytest.fixture
def stats_url() -> Iterator[str]:
    """An HTTP server answering /stats;csv with the CSV recorded from the lab's edge."""
    body = (HAPROXY_DIR / "stats-under-load.csv").read_bytes()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/stats;csv"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@needs_redis
def test_redis_info_counts_commands(redis_port: int) -> None:
    sampler = probe.ServicesSampler("test-node", redis=[f"127.0.0.1:{redis_port}"])
    (before,) = sampler.sample()
    send_commands(redis_port, 500)
    (after,) = sampler.sample()
    assert before["kind"] == after["kind"] == "redis"
    assert before["role"] == "master" and before["node"] == "test-node"
    # 500 PINGs, plus the second INFO itself
    assert after["total_commands_processed"] - before["total_commands_processed"] >= 500
    assert (
        after["used_cpu_user"] + after["used_cpu_sys"]
        >= before["used_cpu_user"] + before["used_cpu_sys"]
    )
    assert isinstance(after["instantaneous_ops_per_sec"], int)
    assert after["connected_clients"] >= 1


@needs_redis
def test_services_mode_samples_redis_and_haproxy(
    redis_port: int, stats_url: str, tmp_path: Path
) -> None:
    dead = f"http://127.0.0.1:{free_port()}/stats;csv"
    out = tmp_path / "services-{node}.jsonl"
    stop_file = tmp_path / "stop"
    process = subprocess.Popen(
        [shutil.which("python3") or sys.executable, str(PROBE), "services",
         "--redis", f"127.0.0.1:{redis_port}", "--haproxy", stats_url, "--haproxy", dead,
         "--interval", "0.3", "--timeout", "1", "--node", "n1", "--out", str(out),
         "--stop-file", str(stop_file)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    try:
        path = tmp_path / "services-n1.jsonl"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if path.exists() and path.read_text().count('"kind":"probe"') >= 2:
                send_commands(redis_port, 200)
                if path.read_text().count('"kind":"probe"') >= 4:
                    break
            time.sleep(0.1)
        stop_file.touch()
        assert process.wait(10) == 0
    finally:
        stop(process)
    records = read_lines(path)
    redis = [r for r in records if r["kind"] == "redis"]
    assert len(redis) >= 4
    assert redis[-1]["total_commands_processed"] - redis[0]["total_commands_processed"] >= 200
    rows = [r for r in records if r["kind"] == "haproxy"]
    assert {r["url"] for r in rows} == {stats_url}
    backend = [r for r in rows if r["server"] == "BACKEND"]
    assert len(backend) == len(redis) and backend[0]["scur"] == 38
    # the endpoint that does not answer gives error lines, and sampling went on
    errors = [r for r in records if r["kind"] == "error"]
    assert len(errors) >= 3 and all(dead in r["source"] for r in errors)
    assert sum(r["kind"] == "probe" for r in records) >= 4


@needs_redis
def test_sigterm_ends_the_probe(redis_port: int, tmp_path: Path) -> None:
    out = tmp_path / "s.jsonl"
    process = subprocess.Popen(
        [shutil.which("python3") or sys.executable, str(PROBE), "services",
         "--redis", f"127.0.0.1:{redis_port}", "--interval", "5", "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while '"kind":"probe"' not in (out.read_text() if out.exists() else ""):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(5) == 0
        assert time.monotonic() - started < 2  # not the rest of the 5 s interval
    finally:
        stop(process)
    assert read_lines(out)[-1]["kind"] == "probe"


def test_run_loop_survives_a_failing_sampler(tmp_path: Path) -> None:
    calls = []

    def sample() -> list[dict]:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("boom")
        return [{"t": time.time(), "kind": "x"}]

    with (tmp_path / "o.jsonl").open("w") as out:
        taken = probe.run_loop(sample, out, interval=0.05, duration=0.4)
    records = read_lines(tmp_path / "o.jsonl")
    assert taken >= 4
    assert next(r for r in records if r["kind"] == "error")["error"] == "RuntimeError: boom"
    assert sum(r["kind"] == "x" for r in records) == taken - 1


def test_run_loop_takes_no_sample_while_the_pause_file_exists(tmp_path: Path) -> None:
    pause = tmp_path / "pause"
    stop = probe.Stop()
    stamps: list[float] = []

    def sample() -> list[dict]:
        stamps.append(time.time())
        return []

    def drive() -> None:
        time.sleep(0.4)
        pause.touch()
        time.sleep(0.8)
        pause.unlink()
        time.sleep(0.4)
        stop.requested = True

    driver = threading.Thread(target=drive)
    driver.start()
    with (tmp_path / "o.jsonl").open("w") as out:
        taken = probe.run_loop(sample, out, interval=0.05, stop=stop, pause_file=str(pause))
    driver.join()
    records = read_lines(tmp_path / "o.jsonl")
    marks = [r for r in records if r["kind"] in ("paused", "resumed")]
    assert [r["kind"] for r in marks] == ["paused", "resumed"]
    paused_at, resumed_at = marks[0]["t"], marks[1]["t"]
    assert 0.6 <= resumed_at - paused_at <= 1.2
    # samples before and after the pause, none inside it
    assert taken == len(stamps) and taken >= 8
    assert any(t < paused_at for t in stamps) and any(t > resumed_at for t in stamps)
    assert not [t for t in stamps if paused_at < t < resumed_at]


def test_main_rejects_services_without_targets(tmp_path: Path) -> None:
    assert probe.main(["services", "--out", str(tmp_path / "x.jsonl")]) == 2
    assert (
        probe.main(["node", "--stack", "s", "--interval", "0", "--out", str(tmp_path / "y")]) == 2
    )


# --- HAProxy stats CSV recorded from the lab's edge ---------------------------------------------


def test_parse_haproxy_csv_recorded_under_load() -> None:
    """The lab's edge (server-template app 8) with 4 replicas, 40 Locust users."""
    text = (HAPROXY_DIR / "stats-under-load.csv").read_text()
    rows = probe.parse_haproxy_csv(text)
    by_server = {row["server"]: row for row in rows}
    assert {row["proxy"] for row in rows} == {"app"}
    # the four replicas and the backend's own row; the slots never used (app5-8) and the
    # frontends (http, stats) are left out
    assert list(by_server) == ["app1", "app2", "app3", "app4", "BACKEND"]
    assert by_server["BACKEND"] == {
        "proxy": "app",
        "server": "BACKEND",
        "qcur": 0,
        "qmax": 0,
        "scur": 38,
        "smax": 40,
        "stot": 100748,
        "rate": 1447,
        "req_tot": 100694,
        "status": "UP",
    }
    servers = [row for row in rows if row["server"] != "BACKEND"]
    assert all(row["status"] == "UP" for row in servers)
    assert sum(row["scur"] for row in servers) == by_server["BACKEND"]["scur"]
    assert sum(row["rate"] for row in servers) == pytest.approx(by_server["BACKEND"]["rate"], abs=5)
    every = probe.parse_haproxy_csv(text, keep_unused=True)
    assert [row["server"] for row in every[4:8]] == ["app5", "app6", "app7", "app8"]
    assert {row["status"] for row in every[4:8]} == {"MAINT (resolution)"}


def test_parse_haproxy_csv_recorded_while_scaling() -> None:
    """The edge while the service was scaled down: replicas gone are MAINT but kept (they
    served), the slots never used are left out."""
    rows = probe.parse_haproxy_csv((HAPROXY_DIR / "stats-scaling.csv").read_text())
    status = {row["server"]: row["status"] for row in rows}
    assert status == {
        "app1": "MAINT (resolution)",
        "app2": "MAINT (resolution)",
        "app3": "UP",
        "app4": "MAINT (resolution)",
        "BACKEND": "UP",
    }


def test_parse_haproxy_csv_other_proxy_and_garbage() -> None:
    text = (HAPROXY_DIR / "stats-under-load.csv").read_text()
    assert probe.parse_haproxy_csv(text, backend="nosuch") == []
    assert probe.parse_haproxy_csv(text, backend="stats") == []  # a frontend only
    with pytest.raises(probe.ProbeError):
        probe.parse_haproxy_csv("<html>not stats</html>")
