"""What the vote and result apps share: app construction, JSON errors, ``X-Instance``."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

from flask import Flask, Response, current_app, jsonify
from werkzeug.exceptions import HTTPException

from .config import Settings, load_settings

SETTINGS_KEY = "voting.settings"


class ApiError(Exception):
    """An error with an HTTP status and a message for the client."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def instance_id(hostname: str | None = None) -> str:
    """Return ``hostname:pid`` of the current process."""
    return f"{hostname or socket.gethostname()}:{os.getpid()}"


def error_response(status: int, message: str) -> Response:
    """Return ``{"error": message}`` with *status*."""
    response = jsonify(error=message)
    response.status_code = status
    return response


def get_settings() -> Settings:
    """Settings of the current app."""
    settings: Settings = current_app.extensions[SETTINGS_KEY]
    return settings


def new_app(import_name: str, config: Mapping[str, object] | None) -> Flask:
    """Build a Flask app with settings from the environment overridden by *config*.

    Upper-case keys of *config* also go to ``app.config`` (``TESTING`` and friends).
    Every response gets ``X-Instance``; every error becomes a JSON body.
    """
    overrides = dict(config or {})
    app = Flask(import_name)
    app.config["MAX_CONTENT_LENGTH"] = 16 * 1024
    app.config.from_mapping({k: v for k, v in overrides.items() if k.isupper()})
    app.extensions[SETTINGS_KEY] = load_settings({**os.environ, **overrides})

    gunicorn_logger = logging.getLogger("gunicorn.error")
    if gunicorn_logger.handlers:  # under gunicorn: log through its handlers and level
        app.logger.handlers = gunicorn_logger.handlers
        app.logger.setLevel(gunicorn_logger.level)

    hostname = socket.gethostname()

    @app.after_request
    def _instance(response: Response) -> Response:
        response.headers["X-Instance"] = instance_id(hostname)
        return response

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        return error_response(exc.status, exc.message)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        response = error_response(exc.code or 500, exc.description or exc.name)
        for name, value in exc.get_response().headers.items():  # e.g. Allow on 405
            if name.lower() not in ("content-type", "content-length"):
                response.headers[name] = value
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        app.logger.exception("unhandled error")
        return error_response(500, "internal server error")

    return app
