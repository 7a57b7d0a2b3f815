"""A tiny in-memory stand-in for the counter app, served by gunicorn in the load tests.

Same endpoints, status codes and X-Instance header as the real app (app/counter). The
counters live in an SQLite file (``LOADTEST_STUB_DB``, default: a file in the temp dir named
after the parent pid) shared by all gunicorn workers, the way the real app's replicas share
Redis. Run from this directory:

    LOADTEST_STUB_DB=/tmp/x.db gunicorn -w 4 -b 127.0.0.1:PORT loadtest_stub_server:app
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, Response, jsonify, request

app = Flask(__name__)
_INSTANCE = f"stub-{os.getpid()}"
_DB = os.environ.get("LOADTEST_STUB_DB") or os.path.join(
    tempfile.gettempdir(), f"loadtest-stub-{os.getppid()}.db"
)
_local = threading.local()
HITS = ""  # the page's hit count: a key no counter name can take


def _init_db() -> None:
    """Create the table and switch to WAL once per process; workers start together, so
    retry while another one holds the lock."""
    for _ in range(200):
        try:
            with sqlite3.connect(_DB, timeout=30, isolation_level=None) as conn:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER)"
                )
            return
        except sqlite3.OperationalError:
            time.sleep(0.05)
    raise RuntimeError(f"cannot initialise {_DB}")


_init_db()


@contextmanager
def _db() -> Iterator[sqlite3.Connection]:
    conn = getattr(_local, "conn", None)
    if conn is None:
        conn = sqlite3.connect(_DB, timeout=30, isolation_level=None)
        _local.conn = conn
    yield conn


def _get(conn: sqlite3.Connection, name: str) -> int | None:
    row = conn.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
    return None if row is None else int(row[0])


def _incr(conn: sqlite3.Connection, name: str, by: int) -> int:
    conn.execute(
        "INSERT INTO counters (name, value) VALUES (?, ?) "
        "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
        (name, by),
    )
    value = _get(conn, name)
    return 0 if value is None else value


@app.after_request
def add_instance(response: Response) -> Response:
    response.headers["X-Instance"] = _INSTANCE
    return response


@app.get("/")
def index() -> str:
    with _db() as conn:
        seen = _incr(conn, HITS, 1)
    return f"Hello! I have been seen {seen} times.\n"


@app.get("/healthz")
@app.get("/readyz")
def health() -> Response:
    return jsonify(status="ok")


@app.get("/api/counters")
def list_counters() -> Response:
    with _db() as conn:
        rows = conn.execute(
            "SELECT name, value FROM counters WHERE name != '' ORDER BY name"
        ).fetchall()
    return jsonify(dict(rows))


@app.get("/api/counters/<name>")
def get_counter(name: str) -> tuple[Response, int]:
    with _db() as conn:
        value = _get(conn, name)
    if value is None:
        return jsonify(error="not found", name=name), 404
    return jsonify(name=name, value=value), 200


@app.put("/api/counters/<name>")
def put_counter(name: str) -> tuple[Response, int]:
    body = request.get_json(silent=True) or {}
    value = body.get("value")
    if not isinstance(value, int) or isinstance(value, bool):
        return jsonify(error="value must be an integer"), 400
    with _db() as conn:
        created = _get(conn, name) is None
        conn.execute("INSERT OR REPLACE INTO counters (name, value) VALUES (?, ?)", (name, value))
    return jsonify(name=name, value=value), 201 if created else 200


@app.delete("/api/counters/<name>")
def delete_counter(name: str) -> tuple[Response, int]:
    with _db() as conn:
        deleted = conn.execute("DELETE FROM counters WHERE name = ?", (name,)).rowcount
    if not deleted:
        return jsonify(error="not found", name=name), 404
    return Response(status=204), 204


@app.post("/api/counters/<name>/incr")
def incr_counter(name: str) -> tuple[Response, int]:
    body = request.get_json(silent=True) or {}
    by = body.get("by", 1)
    if not isinstance(by, int) or isinstance(by, bool):
        return jsonify(error="by must be an integer"), 400
    with _db() as conn:
        value = _incr(conn, name, by)
    return jsonify(name=name, value=value), 200
