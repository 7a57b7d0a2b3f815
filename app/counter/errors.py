"""JSON error responses: every error, including 404/405 and Redis outages."""

from __future__ import annotations

from flask import Flask, Response, jsonify
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from werkzeug.exceptions import HTTPException

from .store import WriteInDoubt, WriteNotApplied

#: The JSON error of a 503: Redis could not be reached (for a write: it was not applied).
REDIS_UNAVAILABLE = "redis unavailable"


class ApiError(Exception):
    """An error with an HTTP status and a message for the client."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def error_response(status: int, message: str) -> Response:
    """Return ``{"error": message}`` with *status*."""
    response = jsonify(error=message)
    response.status_code = status
    return response


def unavailable_response() -> Response:
    """Return the 503 of an unreachable Redis, with ``Retry-After: 1``."""
    response = error_response(503, REDIS_UNAVAILABLE)
    response.headers["Retry-After"] = "1"
    return response


def register_error_handlers(app: Flask) -> None:
    """Install handlers that turn every error into a JSON body."""

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        return error_response(exc.status, exc.message)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        response = error_response(exc.code or 500, exc.description or exc.name)
        # keep headers such as Allow (405) from the original exception
        for name, value in exc.get_response().headers.items():
            if name.lower() not in ("content-type", "content-length"):
                response.headers[name] = value
        return response

    @app.errorhandler(RedisConnectionError)
    @app.errorhandler(RedisTimeoutError)
    def _redis_down(exc: Exception) -> Response:
        app.logger.warning("redis unavailable: %s: %.200s", type(exc).__name__, exc)
        return unavailable_response()

    @app.errorhandler(WriteNotApplied)
    def _write_not_applied(exc: WriteNotApplied) -> Response:
        app.logger.warning("redis unavailable, write not applied: %.300s", exc)
        return unavailable_response()

    @app.errorhandler(WriteInDoubt)
    def _write_in_doubt(exc: WriteInDoubt) -> Response:
        app.logger.warning("write in doubt: %.300s", exc)
        return error_response(504, f"{exc.reason}: the write may or may not be applied")

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        app.logger.exception("unhandled error")
        return error_response(500, "internal server error")
