"""The result app: vote counts and percentages read from Postgres.

Run: ``gunicorn "voting.result:create_app()"``.

- ``GET /``: the page (refreshes itself every 5 s).
- ``GET /api/results``: ``{"a": n, "b": m, "total": n + m}``.
- ``GET /healthz`` (alive), ``GET /readyz`` (``SELECT 1``; 503 when Postgres is unreachable).

Each request opens its own short connection: nothing to repair after a database restart.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from typing import Any

import psycopg2
from flask import Blueprint, Flask, Response, jsonify, render_template

from .store import connect_db, count_votes, ping_db
from .web import error_response, get_settings, instance_id, new_app

bp = Blueprint("result", __name__)


@contextmanager
def database() -> Iterator[Any]:
    """A connection to the configured database, closed afterwards."""
    with closing(connect_db(get_settings())) as conn:
        yield conn


def tally() -> dict[str, int]:
    """``{"a": n, "b": m, "total": n + m}``."""
    with database() as conn:
        counts = count_votes(conn)
    return {**counts, "total": counts["a"] + counts["b"]}


def percentages(counts: Mapping[str, int]) -> dict[str, float]:
    """Share of each option in percent, one decimal (50/50 while nobody voted)."""
    total = counts["a"] + counts["b"]
    if total == 0:
        return {"a": 50.0, "b": 50.0}
    a = round(100.0 * counts["a"] / total, 1)
    return {"a": a, "b": round(100.0 - a, 1)}


@bp.get("/")
def index() -> Response:
    """The results page."""
    counts = tally()
    html = render_template(
        "result.html",
        options=get_settings().options,
        counts=counts,
        total=counts["total"],
        percent=percentages(counts),
        instance=instance_id(),
    )
    return Response(html, mimetype="text/html")


@bp.get("/api/results")
def results() -> Response:
    """Counts as JSON."""
    return jsonify(tally())


@bp.get("/healthz")
def healthz() -> Response:
    """Liveness: the process answers; Postgres is not touched."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> Response:
    """Readiness: 200 if Postgres answers ``SELECT 1``, else 503."""
    try:
        with database() as conn:
            ping_db(conn)
    except psycopg2.Error as exc:
        return error_response(503, f"database unavailable: {type(exc).__name__}")
    return jsonify(status="ready")


def create_app(config: Mapping[str, object] | None = None) -> Flask:
    """Build the result app; *config* overrides the environment (``DB_*``, ``OPTION_*``)."""
    app = new_app(__name__, config)
    app.register_blueprint(bp)

    @app.errorhandler(psycopg2.OperationalError)
    @app.errorhandler(psycopg2.InterfaceError)
    def _db_down(exc: Exception) -> Response:
        app.logger.warning("database unavailable: %s: %.200s", type(exc).__name__, exc)
        response = error_response(503, "database unavailable")
        response.headers["Retry-After"] = "1"
        return response

    return app
