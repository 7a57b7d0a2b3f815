"""Counter: a Flask + Redis hit counter with a JSON API for named counters.

Run it with ``gunicorn -c gunicorn.conf.py "counter:create_app()"`` (from ``app/``).

Environment: REDIS_HOST (redis), REDIS_PORT (6379), REDIS_DB (0), REDIS_PASSWORD,
REDIS_SENTINELS ("host1:26379,host2:26379"; empty = connect directly),
REDIS_SENTINEL_MASTER (mymaster), REDIS_SENTINEL_PASSWORD, REDIS_SOCKET_TIMEOUT (1.0 s),
REDIS_RETRIES (1; connection errors of idempotent commands only, never timeouts, never an
increment), REDIS_WAIT_REPLICAS (0 = off; else an increment is acknowledged only once that
many replicas confirmed it with ``WAIT``), REDIS_WAIT_TIMEOUT_MS (500; how long ``WAIT``
waits, below REDIS_SOCKET_TIMEOUT).

Endpoints: ``GET /`` (hits page), ``/api/counters[/<name>[/incr]]`` (JSON API),
``/healthz`` (liveness, no Redis), ``/readyz`` (Redis PING), ``/metrics`` (Prometheus,
per process). Every response has ``X-Instance: <hostname>:<pid>``; every error is
``{"error": "..."}``; the app recovers from a Redis outage by itself.

Redis errors: 503 ``redis unavailable`` (with ``Retry-After: 1``) when Redis could not be
reached or refused the command (a read-only replica): an increment that got a 503 was not
applied. An increment (``GET /``, ``POST .../incr``) is sent at most once; if it was sent
but not confirmed (no reply, connection lost, timeout, or fewer replicas than
REDIS_WAIT_REPLICAS confirmed it), the answer is 504 "... the write may or may not be
applied".
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Mapping

from flask import Flask, Response, g, request

from . import api, ops, web
from .config import Settings, load_settings
from .errors import register_error_handlers
from .metrics import Metrics, instance_id
from .state import EXTENSION_KEY, AppState, get_state
from .store import CounterStore, make_redis

__all__ = ["Settings", "create_app", "get_state", "load_settings"]

#: Label used in metrics for requests that matched no route (keeps cardinality bounded).
UNMATCHED = "<unmatched>"


def create_app(config: Mapping[str, object] | None = None) -> Flask:
    """Build the app; *config* overrides the environment (``REDIS_*``) and Flask settings."""
    overrides = dict(config or {})
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    app.config.from_mapping({k: v for k, v in overrides.items() if k.isupper()})

    settings = load_settings({**os.environ, **overrides})
    hostname = socket.gethostname()
    state = AppState(
        settings=settings,
        store=CounterStore(
            make_redis(settings),
            wait_replicas=settings.wait_replicas,
            wait_timeout_ms=settings.wait_timeout_ms,
        ),
        metrics=Metrics(hostname),
        hostname=hostname,
    )
    app.extensions[EXTENSION_KEY] = state

    gunicorn_logger = logging.getLogger("gunicorn.error")
    if gunicorn_logger.handlers:  # under gunicorn: log through its handlers and level
        app.logger.handlers = gunicorn_logger.handlers
        app.logger.setLevel(gunicorn_logger.level)

    app.register_blueprint(web.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(ops.bp)
    register_error_handlers(app)

    @app.before_request
    def _start_timer() -> None:
        g.counter_started = time.perf_counter()

    @app.after_request
    def _finish(response: Response) -> Response:
        response.headers["X-Instance"] = instance_id(hostname)
        started = g.get("counter_started")
        if started is not None:
            rule = request.url_rule
            endpoint = rule.rule if rule is not None else UNMATCHED
            state.metrics.observe(
                endpoint, request.method, response.status_code, time.perf_counter() - started
            )
        return response

    return app
