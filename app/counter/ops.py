"""Operational endpoints: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .errors import error_response
from .metrics import CONTENT_TYPE
from .state import get_state

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    """Liveness: the process answers; Redis is not touched."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> Response:
    """Readiness: 200 if Redis answers PING, else 503."""
    try:
        get_state().store.ping()
    except (RedisConnectionError, RedisTimeoutError) as exc:
        return error_response(503, f"redis unavailable: {type(exc).__name__}")
    return jsonify(status="ready")


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus metrics of this process (each gunicorn worker has its own)."""
    return Response(get_state().metrics.render(), content_type=CONTENT_TYPE)
