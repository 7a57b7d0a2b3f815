"""JSON API for named counters under ``/api/counters``."""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request, url_for
from redis.exceptions import ResponseError

from .errors import ApiError
from .state import get_store

bp = Blueprint("api", __name__, url_prefix="/api")

NAME_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


def check_name(name: str) -> str:
    """Return *name* if valid (1..64 of ``[A-Za-z0-9_.-]``), else raise 400."""
    if not NAME_RE.fullmatch(name):
        raise ApiError(400, "counter name must be 1-64 characters of A-Z a-z 0-9 _ . -")
    return name


def check_int(field: str, value: Any) -> int:
    """Return *value* if it is a JSON integer within signed 64 bits, else raise 400."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(400, f"'{field}' must be an integer")
    if not INT64_MIN <= value <= INT64_MAX:
        raise ApiError(400, f"'{field}' must fit in a signed 64-bit integer")
    return value


def json_object(allowed: set[str], *, required: bool) -> dict[str, Any]:
    """Parse the request body as a JSON object with only *allowed* keys."""
    limit = current_app.config.get("MAX_CONTENT_LENGTH") or 64 * 1024
    if (request.content_length or 0) > limit:
        raise ApiError(413, f"request body larger than {limit} bytes")
    raw = request.stream.read(limit + 1)  # also bounds bodies sent without Content-Length
    if len(raw) > limit:
        raise ApiError(413, f"request body larger than {limit} bytes")
    if not raw.strip():
        if required:
            raise ApiError(400, "request body must be a JSON object")
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise ApiError(400, "request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "request body must be a JSON object")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ApiError(400, f"unexpected field(s): {', '.join(unknown)}")
    return body


def counter_json(name: str, value: int, status: int = 200) -> Response:
    """Return ``{"name": ..., "value": ...}``."""
    response = jsonify(name=name, value=value)
    response.status_code = status
    return response


@bp.get("/counters")
def list_counters() -> Response:
    """Return all counters as ``{name: value}``."""
    return jsonify(get_store().all())


@bp.get("/counters/<name>")
def get_counter(name: str) -> Response:
    """Return one counter, 404 if missing."""
    value = get_store().get(check_name(name))
    if value is None:
        raise ApiError(404, f"counter '{name}' not found")
    return counter_json(name, value)


@bp.put("/counters/<name>")
def put_counter(name: str) -> Response:
    """Create (201) or replace (200) a counter from ``{"value": int}``."""
    check_name(name)
    body = json_object({"value"}, required=True)
    if "value" not in body:
        raise ApiError(400, "'value' is required")
    value = check_int("value", body["value"])
    created = get_store().put(name, value)
    response = counter_json(name, value, 201 if created else 200)
    if created:
        response.headers["Location"] = url_for("api.get_counter", name=name)
    return response


@bp.delete("/counters/<name>")
def delete_counter(name: str) -> Response:
    """Delete a counter: 204, or 404 if missing."""
    if not get_store().delete(check_name(name)):
        raise ApiError(404, f"counter '{name}' not found")
    return Response(status=204)


@bp.post("/counters/<name>/incr")
def incr_counter(name: str) -> Response:
    """Atomically add ``by`` (default 1; the counter starts at 0) and return the value."""
    check_name(name)
    body = json_object({"by"}, required=False)
    by = check_int("by", body.get("by", 1))
    try:
        value = get_store().incr(name, by)
    except ResponseError as exc:
        if "overflow" in str(exc):
            raise ApiError(400, "increment would overflow a signed 64-bit integer") from None
        raise
    return counter_json(name, value)
