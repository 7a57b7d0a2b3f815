"""Record the CSV fixtures under tests/loadtest/fixtures/ with real locust runs.

    .venv/bin/python tests/loadtest/record_fixtures.py [NAME ...]

Starts the counter app (gunicorn + redis-server) on 127.0.0.1 (1 worker, then 4 workers: the
"1 replica" / "4 replicas" pair; then no server at all, so every request fails, like the
seed's Kubernetes run), runs ``python -m loadtest run`` against it (locust headless, 20 users,
10 users/s, 10 s, think 1-2 s) and a short stepped capacity run (5 more users every 3 s up to
15, no think time), then copies the CSVs, run.json and instances.json, with the
temporary paths removed. Only loopback traffic; every run is bounded.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

from loadtest_app_runner import app_server, free_port  # noqa: E402

FIXTURES = HERE / "fixtures"
PROFILES = """
profiles:
  fixture:
    users: 20
    spawn_rate: 10
    run_time: 10
    wait_min: 1.0
    wait_max: 2.0
    weights: {page: 3, read: 3, incr: 3, list: 1, crud: 1}
  fixture-capacity:
    users: 15
    spawn_rate: 15
    run_time: 9
    wait_min: 0.0
    wait_max: 0.0
    weights: {page: 3, read: 3, incr: 3, list: 1, crud: 1}
    step: {step_users: 5, step_seconds: 3}
  constant-rate:
    users: 20
    spawn_rate: 100
    run_time: 20
    wait_min: 0.0
    wait_max: 0.0
    pacing: 0.1
    weights: {page: 1}
  constant-steps:
    users: 15
    spawn_rate: 100
    run_time: 21
    wait_min: 0.0
    wait_max: 0.0
    pacing: 0.1
    weights: {page: 1}
    step: {step_users: 5, step_seconds: 7, warmup: 1}
"""
# (fixture name, gunicorn workers (0: nothing listens, every request fails), profile,
# Locust workers (0: one process))
RUNS = [("one-replica", 1, "fixture", 0), ("four-replicas", 4, "fixture", 0)]
RUNS += [("no-server", 0, "fixture", 0), ("capacity", 2, "fixture-capacity", 0)]
# Known, constant rates (users / pacing: 200 req/s; steps of 50, 100, 150 req/s) from a master
# and 2 workers, which report every 3 s: the timeline's figures against the true rate.
RUNS += [("constant-rate", 4, "constant-rate", 2), ("constant-steps", 4, "constant-steps", 2)]
KEEP = ("locust_stats.csv", "locust_stats_history.csv", "locust_failures.csv", "instances.json")
KEEP += ("timeline.json",)


@contextmanager
def _nothing_listening() -> Iterator[str]:
    """A loopback URL where no server listens: connections are refused (like the seed's
    Kubernetes run, where every request failed)."""
    yield f"http://127.0.0.1:{free_port()}"


def record(name: str, workers: int, profile: str, locust_workers: int, scratch: Path) -> None:
    """One locust run against a fresh counter app; copy its files to fixtures/<name>/."""
    run_dir = scratch / name
    with app_server(workers=workers) if workers else _nothing_listening() as url:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "loadtest",
                "run",
                profile,
                "--host",
                url,
                "--out",
                str(run_dir),
                "--profiles",
                str(scratch / "profiles.yml"),
                "--workers",
                str(locust_workers),
            ],
            cwd=ROOT,
            check=True,
            timeout=120,
        )
    target = FIXTURES / name
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for filename in KEEP:
        if (run_dir / filename).exists():
            shutil.copy(run_dir / filename, target / filename)
    meta = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    meta["host"] = "http://127.0.0.1:PORT"
    meta["command"] = [
        part.replace(str(run_dir), "<run-dir>")
        .replace(str(ROOT) + "/", "")
        .replace(url, "http://127.0.0.1:PORT")
        for part in meta["command"]
    ]
    meta["command"][0] = "locust"
    (target / "run.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    print(f"recorded {target}")


def main() -> None:
    """Record every fixture run."""
    with tempfile.TemporaryDirectory(prefix="loadtest-record-") as tmp:
        scratch = Path(tmp)
        (scratch / "profiles.yml").write_text(PROFILES, encoding="utf-8")
        only = set(sys.argv[1:])
        for name, workers, profile, locust_workers in RUNS:
            if not only or name in only:
                record(name, workers, profile, locust_workers, scratch)


if __name__ == "__main__":
    main()
