#!/usr/bin/env python3
"""Resource probe of the load tests: cheap samples of what the swarm uses while Locust runs.

Stdlib only, Python 3.9+: it runs as ``python3 /probe/probe.py MODE ...`` inside the counter
app's image on every swarm node (role loadtest, tasks/probe_start.yml) and is imported by the
tests. Output: JSON lines in ``--out`` (``{node}`` in the path is replaced by the node's name),
one object per line, flushed after each sample. Counters are cumulative; the analysis
(:mod:`loadtest.attribution`) takes differences.

Modes:

- ``node``: every ``--interval`` s, the local Docker engine over ``/var/run/docker.sock``:
  each container of the stacks ``--stack NS`` (label ``com.docker.stack.namespace``) gives a
  ``task`` line (CPU time, CFS periods and throttling, CPU limit in cores), and the node a
  ``host`` line (``/proc/stat`` ticks, busy and idle).
- ``services``: every ``--interval`` s, Redis ``INFO`` (``--redis HOST:PORT``, raw RESP over
  TCP) gives a ``redis`` line, and HAProxy's stats CSV (``--haproxy URL``) one ``haproxy`` line
  per row of the backend ``--haproxy-backend`` (the backend and its servers).

Every sample ends with a ``probe`` line (wall and CPU seconds the sample took). A source that
does not answer gives an ``error`` line and sampling goes on. The probe ends on SIGTERM or
SIGINT, after ``--duration`` s, or when the file ``--stop-file`` exists. While the file
``--pause-file`` exists no sample is taken (a ``paused`` line, then ``resumed`` when it is
gone): ``scripts/bench.py probe-cost`` switches the sampling off and on under a steady load to
measure what it costs.
"""

from __future__ import annotations

import argparse
import csv
import http.client
import io
import json
import os
import signal
import socket
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Any

DOCKER_SOCK = "/var/run/docker.sock"
STACK_LABEL = "com.docker.stack.namespace"
SERVICE_LABEL = "com.docker.swarm.service.name"
TASK_LABEL = "com.docker.swarm.task.name"
REDIS_FIELDS_INT = ("total_commands_processed", "instantaneous_ops_per_sec", "connected_clients")
REDIS_FIELDS_FLOAT = ("used_cpu_user", "used_cpu_sys")
HAPROXY_FIELDS_INT = ("qcur", "qmax", "scur", "smax", "stot", "rate", "req_tot")
SLEEP_SLICE_S = 0.25  # how often the stop flag and the stop file are looked at while waiting

Record = dict[str, Any]


class ProbeError(Exception):
    """A source answered, but not as expected."""


# --- Docker engine over its unix socket ---------------------------------------------------


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP/1.1 over a unix socket (the Docker engine's API), kept alive between requests."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.unix_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class DockerClient:
    """The few GETs of the Docker engine API the probe needs (JSON in, JSON out)."""

    def __init__(self, sock_path: str = DOCKER_SOCK, timeout: float = 5.0) -> None:
        self.sock_path = sock_path
        self.timeout = timeout
        self._conn: UnixHTTPConnection | None = None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def get(self, path: str) -> Any:
        """GET *path* and decode its JSON; one retry on a fresh connection (keep-alive ended)."""
        for attempt in (1, 2):
            if self._conn is None:
                self._conn = UnixHTTPConnection(self.sock_path, self.timeout)
            try:
                self._conn.request("GET", path)
                response = self._conn.getresponse()
                body = response.read()
            except (OSError, http.client.HTTPException):
                self.close()
                if attempt == 2:
                    raise
                continue
            if response.status != 200:
                raise ProbeError(f"GET {path}: HTTP {response.status} {body[:200]!r}")
            return json.loads(body)
        raise AssertionError("unreachable")

    def info_name(self) -> str:
        return str(self.get("/info").get("Name") or socket.gethostname())

    def containers(self, namespace: str) -> list[Record]:
        filters = json.dumps({"label": [f"{STACK_LABEL}={namespace}"]})
        return list(self.get("/containers/json?filters=" + urllib.parse.quote(filters)))

    def stats(self, container_id: str) -> Record:
        # one-shot (API 1.41+): no second read to fill precpu_stats, so no 1 s wait
        return dict(self.get(f"/containers/{container_id}/stats?stream=false&one-shot=true"))

    def inspect(self, container_id: str) -> Record:
        return dict(self.get(f"/containers/{container_id}/json"))


def cpu_limit_cores(host_config: Record) -> float | None:
    """CPU limit of a container in cores (NanoCpus, or CpuQuota/CpuPeriod); None if none."""
    nano = host_config.get("NanoCpus") or 0
    if nano > 0:
        return nano / 1e9
    quota = host_config.get("CpuQuota") or 0
    period = host_config.get("CpuPeriod") or 100_000
    if quota > 0:
        return quota / period
    return None


def read_proc_stat(path: str = "/proc/stat") -> tuple[int, int, int]:
    """(total ticks, idle + iowait ticks, number of CPUs) from /proc/stat.

    Total is user + nice + system + idle + iowait + irq + softirq + steal (guest time is
    already in user and nice).
    """
    with open(path, encoding="ascii") as handle:
        lines = handle.read().splitlines()
    fields = [int(value) for value in lines[0].split()[1:]]
    fields += [0] * (8 - len(fields))
    total = sum(fields[:8])
    idle = fields[3] + fields[4]
    ncpu = sum(1 for line in lines[1:] if line.startswith("cpu") and line[3:4].isdigit())
    return total, idle, ncpu


class NodeSampler:
    """Mode ``node``: task and host lines from the local engine and /proc/stat.

    The engine answers a stats request at its next collection tick (once a second), so the
    requests of one sample run in parallel (one keep-alive connection per worker thread): a
    sample takes at most about a second whatever the number of containers.
    """

    def __init__(
        self,
        stacks: Sequence[str],
        client: DockerClient | None = None,
        proc_stat: str = "/proc/stat",
        workers: int = 8,
    ) -> None:
        self.stacks = list(stacks)
        self.client = client or DockerClient()
        self.proc_stat = proc_stat
        self.workers = max(1, workers)
        self._limits: dict[str, float | None] = {}
        self._node: str | None = None
        self._local = threading.local()
        self._clients: list[DockerClient] = []
        self._clients_lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None

    @property
    def node(self) -> str:
        if self._node is None:
            try:
                self._node = self.client.info_name()
            except (OSError, ProbeError, http.client.HTTPException, ValueError):
                return socket.gethostname()
        return self._node

    def _thread_client(self) -> DockerClient:
        client: DockerClient | None = getattr(self._local, "client", None)
        if client is None:
            client = DockerClient(self.client.sock_path, self.client.timeout)
            self._local.client = client
            with self._clients_lock:
                self._clients.append(client)
        return client

    def _limit(self, container_id: str) -> float | None:
        if container_id not in self._limits:
            inspected = self.client.inspect(container_id)
            self._limits[container_id] = cpu_limit_cores(inspected.get("HostConfig") or {})
        return self._limits[container_id]

    def task_record(self, namespace: str, container: Record, client: DockerClient) -> Record:
        container_id = str(container["Id"])
        labels = container.get("Labels") or {}
        stats = client.stats(container_id)
        cpu = stats.get("cpu_stats") or {}
        throttling = cpu.get("throttling_data") or {}
        return {
            "t": time.time(),
            "kind": "task",
            "node": self.node,
            "stack": namespace,
            "service": labels.get(SERVICE_LABEL),
            "task": labels.get(TASK_LABEL) or (container.get("Names") or ["?"])[0].lstrip("/"),
            "cpu_usage_ns": (cpu.get("cpu_usage") or {}).get("total_usage"),
            "periods": throttling.get("periods"),
            "throttled_periods": throttling.get("throttled_periods"),
            "throttled_ns": throttling.get("throttled_time"),
            "cpu_limit": self._limits.get(container_id),
        }

    def _task_or_error(self, job: tuple[str, Record]) -> Record:
        try:
            return self.task_record(job[0], job[1], self._thread_client())
        except Exception as exc:  # a container that ended between list and stats
            return error_record("docker", exc, node=self.node)

    def host_record(self) -> Record:
        total, idle, ncpu = read_proc_stat(self.proc_stat)
        return {
            "t": time.time(),
            "kind": "host",
            "node": self.node,
            "cpu_ticks_total": total,
            "cpu_ticks_idle": idle,
            "ncpu": ncpu,
        }

    def sample(self) -> list[Record]:
        records: list[Record] = []
        jobs: list[tuple[str, Record]] = []
        for namespace in self.stacks:
            try:
                containers = self.client.containers(namespace)
            except Exception as exc:
                records.append(error_record("docker", exc, node=self.node))
                continue
            for container in containers:
                try:
                    self._limit(str(container["Id"]))
                except Exception as exc:
                    records.append(error_record("docker", exc, node=self.node))
                    continue
                jobs.append((namespace, container))
        seen = {str(job[1]["Id"]) for job in jobs}
        for gone in set(self._limits) - seen:
            del self._limits[gone]
        if jobs:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="stats")
            records.extend(self._pool.map(self._task_or_error, jobs))
        try:
            records.append(self.host_record())
        except Exception as exc:
            records.append(error_record("host", exc, node=self.node))
        return records

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        self.client.close()
        with self._clients_lock:
            for client in self._clients:
                client.close()
            self._clients.clear()


# --- Redis INFO and HAProxy stats ------------------------------------------------------------


def split_addr(addr: str, default_port: int) -> tuple[str, int]:
    """'host:port' (or 'host') -> (host, port)."""
    host, sep, port = addr.rpartition(":")
    if not sep:
        return addr, default_port
    return host.strip("[]"), int(port)


def _read_line(stream: IO[bytes]) -> bytes:
    line = stream.readline()
    if not line.endswith(b"\r\n"):
        raise ProbeError("redis: connection closed mid-reply")
    return line[:-2]


def redis_info_raw(addr: str, timeout: float = 2.0) -> str:
    """The text of Redis ``INFO`` at *addr* (RESP over a plain TCP connection)."""
    host, port = split_addr(addr, 6379)
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(b"*1\r\n$4\r\nINFO\r\n")
        with sock.makefile("rb") as stream:
            header = _read_line(stream)
            if header.startswith(b"-"):
                raise ProbeError("redis: " + header[1:].decode(errors="replace"))
            if not header.startswith(b"$"):
                raise ProbeError(f"redis: unexpected reply {header[:40]!r}")
            size = int(header[1:])
            body = stream.read(size + 2)
            if len(body) != size + 2:
                raise ProbeError("redis: connection closed mid-reply")
    return body[:size].decode(errors="replace")


def parse_redis_info(text: str) -> Record:
    """The fields the analysis uses from an ``INFO`` reply (numbers as numbers)."""
    raw: dict[str, str] = {}
    for line in text.splitlines():
        if line and not line.startswith("#") and ":" in line:
            key, _, value = line.partition(":")
            raw[key] = value.strip()
    out: Record = {"role": raw.get("role")}
    for key in REDIS_FIELDS_INT:
        out[key] = int(raw[key]) if raw.get(key, "").lstrip("-").isdigit() else None
    for key in REDIS_FIELDS_FLOAT:
        try:
            out[key] = float(raw[key])
        except (KeyError, ValueError):
            out[key] = None
    return out


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def parse_haproxy_csv(text: str, backend: str = "app", keep_unused: bool = False) -> list[Record]:
    """Rows of proxy *backend* (its servers and its BACKEND row) of HAProxy's stats CSV.

    Server-template slots that never had an address (status MAINT, no session ever) are left
    out unless *keep_unused*: the edge keeps 8 slots for 1 to 8 replicas.
    """
    lines = text.splitlines()
    if not lines or not lines[0].startswith("# "):
        raise ProbeError("haproxy: not a stats CSV (no '# pxname,...' header)")
    reader = csv.DictReader(io.StringIO("\n".join([lines[0][2:], *lines[1:]])))
    rows: list[Record] = []
    for row in reader:
        if row.get("pxname") != backend or row.get("svname") == "FRONTEND":
            continue
        record: Record = {"proxy": row["pxname"], "server": row.get("svname")}
        for key in HAPROXY_FIELDS_INT:
            record[key] = _int_or_none(row.get(key))
        record["status"] = row.get("status")
        unused = str(record["status"]).startswith("MAINT") and not record["stot"]
        if keep_unused or record["server"] == "BACKEND" or not unused:
            rows.append(record)
    return rows


def haproxy_csv_raw(url: str, timeout: float = 2.0) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read().decode(errors="replace")


class ServicesSampler:
    """Mode ``services``: Redis INFO and the HAProxy backend's stats."""

    def __init__(
        self,
        node: str,
        redis: Sequence[str] = (),
        haproxy: Sequence[str] = (),
        backend: str = "app",
        timeout: float = 2.0,
    ) -> None:
        self.node = node
        self.redis = list(redis)
        self.haproxy = list(haproxy)
        self.backend = backend
        self.timeout = timeout

    def sample(self) -> list[Record]:
        records: list[Record] = []
        for addr in self.redis:
            try:
                info = parse_redis_info(redis_info_raw(addr, self.timeout))
            except Exception as exc:
                records.append(error_record(f"redis {addr}", exc, node=self.node))
                continue
            records.append(
                {"t": time.time(), "kind": "redis", "node": self.node, "addr": addr, **info}
            )
        for url in self.haproxy:
            try:
                rows = parse_haproxy_csv(haproxy_csv_raw(url, self.timeout), self.backend)
                if not rows:
                    raise ProbeError(f"haproxy: no proxy {self.backend!r} in the stats")
            except Exception as exc:
                records.append(error_record(f"haproxy {url}", exc, node=self.node))
                continue
            now = time.time()
            for row in rows:
                records.append({"t": now, "kind": "haproxy", "node": self.node, "url": url, **row})
        return records

    def close(self) -> None:
        pass


# --- the loop ---------------------------------------------------------------------------------


def error_record(source: str, exc: BaseException, node: str | None = None) -> Record:
    return {
        "t": time.time(),
        "kind": "error",
        "node": node,
        "source": source,
        "error": f"{type(exc).__name__}: {exc}",
    }


class Stop:
    """Set by SIGTERM/SIGINT; the loop looks at it between samples."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self, signum: int, frame: object) -> None:
        self.requested = True


def run_loop(
    sample: Callable[[], list[Record]],
    out: IO[str],
    interval: float,
    duration: float = 0.0,
    stop_file: str | None = None,
    stop: Stop | None = None,
    meta: Record | None = None,
    pause_file: str | None = None,
) -> int:
    """Sample every *interval* s (on a fixed grid: a slow sample does not shift the next ones)
    until *stop* is requested, *duration* s have passed (0: no limit) or *stop_file* exists;
    no sample while *pause_file* exists. Returns the number of samples taken."""
    stop = stop or Stop()
    meta = meta or {}
    start = time.monotonic()
    taken = 0
    paused = False

    def stopping() -> bool:
        if stop.requested or (stop_file and os.path.exists(stop_file)):
            return True
        return bool(duration) and time.monotonic() - start >= duration

    while not stopping():
        if bool(pause_file) and os.path.exists(str(pause_file)) != paused:
            paused = not paused
            mark = {"t": time.time(), "kind": "paused" if paused else "resumed", **meta}
            out.write(json.dumps(mark, separators=(",", ":")) + "\n")
            out.flush()
        if paused:
            time.sleep(SLEEP_SLICE_S)
            continue
        wall0, cpu0 = time.monotonic(), time.process_time()
        try:
            records = sample()
        except Exception as exc:  # a sampler bug: record it, keep sampling
            records = [error_record("probe", exc, node=meta.get("node"))]
        records.append(
            {
                "t": time.time(),
                "kind": "probe",
                **meta,
                "sample_s": round(time.monotonic() - wall0, 6),
                "cpu_s": round(time.process_time() - cpu0, 6),
            }
        )
        out.write("".join(json.dumps(record, separators=(",", ":")) + "\n" for record in records))
        out.flush()
        taken += 1
        # the next point of the grid (past ones are skipped when a sample took too long)
        next_at = start + (int((time.monotonic() - start) / interval) + 1) * interval
        while not stopping() and time.monotonic() < next_at:
            time.sleep(min(SLEEP_SLICE_S, max(0.0, next_at - time.monotonic())))
    return taken


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="probe.py", description=__doc__.split("\n\n")[0])
    modes = parser.add_subparsers(dest="mode", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--out", required=True, help="JSON lines file; {node} is the node's name")
    common.add_argument("--interval", type=float, default=2.0, help="seconds between samples")
    common.add_argument("--duration", type=float, default=0.0, help="seconds, 0: until stopped")
    common.add_argument("--stop-file", help="end when this file exists")
    common.add_argument("--pause-file", help="take no sample while this file exists")
    common.add_argument("--timeout", type=float, default=3.0, help="seconds per request")
    node = modes.add_parser("node", parents=[common], help="tasks' cgroups and the host's CPU")
    node.add_argument("--stack", action="append", required=True, help="stack namespace (repeat)")
    node.add_argument("--docker-sock", default=DOCKER_SOCK)
    node.add_argument("--proc-stat", default="/proc/stat")
    services = modes.add_parser("services", parents=[common], help="Redis INFO, HAProxy stats")
    services.add_argument("--redis", action="append", default=[], help="HOST:PORT (repeat)")
    services.add_argument("--haproxy", action="append", default=[], help="stats CSV URL (repeat)")
    services.add_argument("--haproxy-backend", default="app", help="proxy whose rows are kept")
    services.add_argument(
        "--node", default=os.environ.get("PROBE_NODE") or socket.gethostname(), help="node name"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.interval <= 0:
        print("probe.py: --interval must be > 0", file=sys.stderr)
        return 2
    sampler: NodeSampler | ServicesSampler
    if args.mode == "node":
        sampler = NodeSampler(
            args.stack, DockerClient(args.docker_sock, args.timeout), args.proc_stat
        )
        node = sampler.node
    else:
        if not args.redis and not args.haproxy:
            print("probe.py services: give --redis and/or --haproxy", file=sys.stderr)
            return 2
        node = args.node
        sampler = ServicesSampler(
            node, args.redis, args.haproxy, args.haproxy_backend, args.timeout
        )
    stop = Stop()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    path = args.out.replace("{node}", node)
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    meta: Record = {"mode": args.mode, "node": node, "interval": args.interval, "pid": os.getpid()}
    try:
        # append: a restarted probe task goes on in the same file
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps({"t": time.time(), "kind": "start", **meta}) + "\n")
            out.flush()
            run_loop(
                sampler.sample,
                out,
                args.interval,
                args.duration,
                args.stop_file,
                stop,
                meta,
                args.pause_file,
            )
    finally:
        sampler.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
