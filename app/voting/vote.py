"""The vote app: a page with two options; each vote is queued in Redis for the worker.

Run: ``gunicorn "voting.vote:create_app()"``.

- ``GET /``: the form (options from OPTION_A / OPTION_B).
- ``POST /`` (form field ``vote`` = ``a`` | ``b``): queue the vote, show the page again.
- ``POST /api/vote`` (``{"vote": "a"}``, optional ``"voter_id"``): 202 ``{"voter_id", "vote"}``.
- ``GET /healthz`` (alive), ``GET /readyz`` (Redis PING; 503 when unreachable).

The voter is identified by the ``voter_id`` cookie, set on the first response that lacks
it; voting again with the same id replaces the earlier vote (the worker upserts).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import redis
from flask import Blueprint, Flask, Response, current_app, jsonify, render_template, request

from .store import CHOICES, REDIS_DOWN, Vote, make_redis, push_vote, valid_voter_id
from .web import ApiError, error_response, get_settings, instance_id, new_app

REDIS_KEY = "voting.redis"
COOKIE = "voter_id"
COOKIE_MAX_AGE = 365 * 24 * 3600

bp = Blueprint("vote", __name__)


def get_redis() -> redis.Redis:
    """The Redis client of the current app."""
    client: redis.Redis = current_app.extensions[REDIS_KEY]
    return client


def current_voter() -> tuple[str, bool]:
    """Return ``(voter_id, is_new)``: the cookie's id, or a fresh one if absent or bad."""
    voter_id = request.cookies.get(COOKIE)
    if valid_voter_id(voter_id):
        return str(voter_id), False
    return uuid.uuid4().hex, True


def check_vote(value: Any) -> str:
    """Return *value* if it is ``"a"`` or ``"b"``, else raise 400."""
    if value not in CHOICES:
        raise ApiError(400, "vote must be 'a' or 'b'")
    return str(value)


def with_cookie(response: Response, voter_id: str, is_new: bool) -> Response:
    """Set the voter cookie on *response* if the voter had none."""
    if is_new:
        response.set_cookie(COOKIE, voter_id, max_age=COOKIE_MAX_AGE, httponly=True, samesite="Lax")
    return response


def page(voter_id: str, is_new: bool, vote: str | None = None) -> Response:
    """Render the voting page (with the vote just cast marked)."""
    settings = get_settings()
    html = render_template(
        "vote.html",
        options=settings.options,
        vote=vote,
        instance=instance_id(),
    )
    return with_cookie(Response(html, mimetype="text/html"), voter_id, is_new)


@bp.get("/")
def index() -> Response:
    """The form."""
    voter_id, is_new = current_voter()
    return page(voter_id, is_new)


@bp.post("/")
def vote_form() -> Response:
    """Queue the form's vote and show the page again."""
    vote = check_vote(request.form.get("vote"))
    voter_id, is_new = current_voter()
    push_vote(get_redis(), Vote(voter_id, vote))
    return page(voter_id, is_new, vote)


@bp.post("/api/vote")
def vote_api() -> Response:
    """Queue ``{"vote": "a"|"b"}``; 202 ``{"voter_id": ..., "vote": ...}``."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "request body must be a JSON object")
    unknown = sorted(set(body) - {"vote", "voter_id"})
    if unknown:
        raise ApiError(400, f"unexpected field(s): {', '.join(unknown)}")
    vote = check_vote(body.get("vote"))
    if "voter_id" in body:
        if not valid_voter_id(body["voter_id"]):
            raise ApiError(400, "voter_id must be 1-64 characters of A-Z a-z 0-9 _ -")
        voter_id, is_new = str(body["voter_id"]), False
    else:
        voter_id, is_new = current_voter()
    push_vote(get_redis(), Vote(voter_id, vote))
    response = jsonify(voter_id=voter_id, vote=vote)
    response.status_code = 202
    return with_cookie(response, voter_id, is_new)


@bp.get("/healthz")
def healthz() -> Response:
    """Liveness: the process answers; Redis is not touched."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> Response:
    """Readiness: 200 if Redis answers PING, else 503."""
    try:
        get_redis().ping()
    except REDIS_DOWN as exc:
        return error_response(503, f"redis unavailable: {type(exc).__name__}")
    return jsonify(status="ready")


def create_app(config: Mapping[str, object] | None = None) -> Flask:
    """Build the vote app; *config* overrides the environment (``REDIS_*``, ``OPTION_*``)."""
    app = new_app(__name__, config)
    app.extensions[REDIS_KEY] = make_redis(app.extensions["voting.settings"])
    app.register_blueprint(bp)

    @app.errorhandler(redis.ConnectionError)
    @app.errorhandler(redis.TimeoutError)
    def _redis_down(exc: Exception) -> Response:
        app.logger.warning("redis unavailable: %s: %.200s", type(exc).__name__, exc)
        response = error_response(503, "redis unavailable")
        response.headers["Retry-After"] = "1"
        return response

    return app
